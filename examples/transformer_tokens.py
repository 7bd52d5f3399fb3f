# %% [markdown]
# # A small transformer, token by token
#
# Train layerflow's small transformer on a generated sequence task and follow every **token**
# through its residual stream: a track is one token's path from the embedding through the
# blocks, as in the studies of token trajectories (Hosseini & Fedorenko 2023; Aubry et al.,
# ICLR 2025). Every view of layerflow then reads the token tracks as it reads any other tracks.
#
# Runs offline in about half a minute on two CPU cores; `layerflow run transformer` is the
# study built on it (trained against untrained networks, several seeds).

# %%
import numpy as np
import torch

import layerflow as lf

torch.set_num_threads(1)

# %% [markdown]
# ## The task: sorted, or one swap away?
#
# `tokens:sorted` holds sequences of 8 token ids in 0…9: half are sorted, half are sorted but
# for one adjacent pair swapped. Both classes hold the same multisets of tokens, so a model must
# compare neighbouring positions. A `Dataset` stores the ids as floats; the model casts them
# back to integers.

# %%
ds = lf.load_dataset("tokens:sorted", n=3000, seed=0)
print(ds.X_train[:3].astype(int), ds.y_train[:3])

# %% [markdown]
# ## A pre-LN transformer encoder
#
# Token + position embeddings of width 32, four blocks `x + Attn(LN x)`, `+ MLP(LN ·)` with
# four heads, the mean over tokens and a linear head. `in_dim` is the sequence length.

# %%
spec = lf.ModelSpec("transformer", width=32, depth=4, vocab=10)
model = lf.build_model(spec, in_dim=ds.n_features, n_classes=ds.n_classes, seed=0)
result = lf.train(model, ds, lf.TrainConfig(optimizer="adam", lr=3e-3, steps=600,
                                            batch_size=64, seed=0))
print(f"test accuracy {result.test_acc:.3f}")
result

# %% [markdown]
# ## Token trajectories
#
# `capture(…, per_token=True)` makes every token a point: 100 test sequences of 8 tokens give
# 800 rows per state, with `sample_index` and `position` kept. The input state is the token id
# itself (one number per token, a label rather than a coordinate), so the tracks start at the
# embedding, as a Hugging Face model's hidden states do.

# %%
X, y = ds.X_test[:100], ds.y_test[:100]
captured = lf.capture(result.model, X, labels=y, per_token=True)
traj = captured.select(1, captured.n_layers)  # embed, blocks.0 … blocks.3
traj

# %% [markdown]
# The same trajectory from the hidden states a Hugging Face model returns with
# `output_hidden_states=True` (here computed by hand from the model's modules):

# %%
with torch.no_grad():
    hidden = [result.model.embed(torch.as_tensor(X))]
    for block in result.model.blocks:
        hidden.append(block(hidden[-1]))
same = lf.Trajectory.from_hidden_states(tuple(hidden), labels=y)
np.testing.assert_allclose(same.states[-1], traj.states[-1])
same.layer_names

# %%
lf.plot.tracks(traj)

# %% [markdown]
# ## Transport view (Gai & Zhang 2021)
#
# Straightness of each token's track (LSS), whether the network's pairing of embedding and
# last state is the optimal transport map (OTS), the W2 path and the kinetic energy.

# %%
lss = lf.transport.line_shape_score(traj)
path = lf.transport.wasserstein_path(traj)
print(f"LSS {lss.mean:.3f}, OTS {lf.transport.ot_score(traj).score:.3f}, "
      f"W2 geodesic ratio {path.geodesic_ratio:.3f}, "
      f"kinetic energy {lf.transport.kinetic_energy(traj):.1f}")

# %%
lf.plot.line_shape(lss)

# %% [markdown]
# Per position: is the first token's track straighter than the last one's?

# %%
{int(p): round(float(np.mean(lss.per_sample[traj.position == p])), 3) for p in range(8)}

# %% [markdown]
# ## Ricci view (Baptista et al. 2024)
#
# The embedding holds only 10 × 8 distinct points (token id × position), each repeated about
# ten times among the 800 tokens, so the kNN graphs need a large k to be connected.

# %%
rc = lf.ricci.ricci_coefficient(traj, k=100)
rc

# %%
lf.plot.ricci_coefficient(rc)

# %% [markdown]
# ## Curve of maps (Dong et al. 2017)
#
# A block mixes the tokens of a sequence, so its Jacobian is taken per sequence: the map of
# the whole `(8, 32)` state, 256 wide. The embedding (ids to vectors) has no square Jacobian.

# %%
jac = lf.maps.jacobian_diagnostics(result.model, X[:12])
jac.to_frame()[["name", "in_width", "applicable", "fraction_orientation_preserved"]]

# %% [markdown]
# ## Every view at once
#
# What a sweep with `analysis.per_token: true` records for this network:

# %%
measured = lf.views.measure_views(traj, ["transport", "ricci"], k=100, m=800)
{k: v for k, v in {**measured["transport"].scalars, **measured["ricci"].scalars}.items()
 if k in ("lss_mean", "ots", "w2_geodesic_ratio", "kinetic_energy", "ricci_rho")}
