# %% [markdown]
# # Tutorial: every view of one network
#
# From a data set to every view layerflow has of one network: train a small residual network on
# two moons with the least-action penalty, capture what it does to the test points as a
# `Trajectory`, and measure and draw that flow as a curve in Wasserstein space (Gai & Zhang
# 2021), as a Ricci flow on kNN graphs (Baptista et al. 2024), as a curve of maps with its
# Jacobians (Dong et al. 2017) and by its kinetic energy over training (Karkar et al. 2020).
#
# This file is a script in jupytext's percent format: run it with `python examples/tutorial.py`,
# or open it as a notebook (`jupytext --to notebook examples/tutorial.py`). Every number is
# seeded; it runs in well under 30 seconds on two CPU cores.

# %%
import layerflow as lf

# %% [markdown]
# ## Data and a network
#
# `load_dataset` makes the seeded train/test split of a built-in task (nothing is downloaded).
# The residual network lifts the 2-D input to width 8 and applies 8 blocks
# `x ← x + h·r(x)` with step `h = 1/8` (a flow over unit time), then a linear head.

# %%
ds = lf.load_dataset("moons", n=800, noise=0.1, seed=0)
model = lf.build_model(lf.ModelSpec("resnet", width=8, depth=8), in_dim=2, n_classes=2, seed=0)

# %% [markdown]
# ## Least-action training
#
# With `uzawa=True` the loss is `CE + λ·C`, where `C` is the transport cost (the kinetic energy
# of the residual flow on the minibatch) and `λ = 1/λ_L` follows the Uzawa rule
# `λ_L ← λ_L + τ·CE`. The result records both per optimizer step; it prints its
# headline numbers and `to_frame()` gives the per-step table.

# %%
result = lf.train(model, ds, lf.TrainConfig(optimizer="adam", lr=0.01, epochs=15, batch_size=32,
                                            seed=0, uzawa=True))
result

# %%
result.to_frame().tail()

# %%
lf.plot.training(result)

# %% [markdown]
# ## The trajectory
#
# `capture` runs the trained model on the test points with forward hooks and keeps the input
# and every block's output: the states `X_0 … X_L`, row i of each being the same sample.

# %%
traj = lf.capture(result.model, ds.X_test, labels=ds.y_test)
traj

# %% [markdown]
# The tracks of the samples through the residual stream, in one 2-D projection shared by all
# its states (one PCA fitted on all of them), and the states side by side:

# %%
lf.plot.tracks(traj)

# %%
lf.plot.layers(traj, max_panels=5)

# %% [markdown]
# ## Transport view (Gai & Zhang 2021)
#
# The line-shape score of each track is 1 when the track is straight; the OT score is the share
# of samples whose optimal-transport partner between input and output is their own image; the
# W2 path gives the Wasserstein distance between consecutive layers, and its geodesic ratio is 1
# when the network moves its data along a W2 geodesic.

# %%
lss = lf.transport.line_shape_score(traj)
lss

# %%
lf.transport.ot_score(traj)

# %%
path = lf.transport.wasserstein_path(traj)
path.to_frame()

# %%
lf.plot.line_shape(lss)

# %%
lf.plot.wasserstein_path(path)

# %%
print("kinetic energy", lf.transport.kinetic_energy(traj))
print("path length", lf.transport.path_length(traj))

# %% [markdown]
# ## Ricci view (Baptista et al. 2024)
#
# A kNN graph per layer, its Forman curvature `Ric_l` and geodesic mass `g_l`; the global
# coefficient correlates `η_l = g_{l+1} − g_l` with `Ric_l` over the layers. Negative means
# Ricci-flow-like: positively curved layers contract.

# %%
rc = lf.ricci.ricci_coefficient(traj, k=30)
rc

# %%
rc.to_frame()

# %%
lf.plot.ricci_coefficient(rc)

# %% [markdown]
# The same two quantities per sample (correlated over the layers) give a local coefficient for
# every input point, and per layer (correlated over the samples) a layer coefficient:

# %%
local = lf.ricci.local_coefficients(traj, k=30)
lf.plot.local_coefficients(traj, local)

# %%
lf.plot.layer_coefficients(traj, k=30)

# %% [markdown]
# ## A curve of maps (Dong et al. 2017)
#
# Is every block a local diffeomorphism that keeps orientation? The Jacobian of each
# equal-width layer at each test point answers it: `det J > 0` and a finite condition number.

# %%
jac = lf.maps.jacobian_diagnostics(result.model, ds.X_test)
jac.to_frame()[["name", "applicable", "fraction_diffeomorphic", "fraction_orientation_preserved"]]

# %%
lf.plot.jacobian(jac)

# %%
lf.plot.jacobian(jac, quantity="logabsdet")

# %%
lf.maps.track_curvature(traj)

# %% [markdown]
# ## One figure of the network
#
# `overview` puts the tracks, the first and last state, the LSS, the W2 path and η against Ric
# in one figure (results already computed are passed in rather than computed again).

# %%
lf.plot.overview(traj, lss=lss, path=path, ricci=rc)
