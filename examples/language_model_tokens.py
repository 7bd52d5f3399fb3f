# %% [markdown]
# # A Hugging Face language model, token by token
#
# Capture GPT-2's residual stream as the model runs — keyword inputs with an attention mask,
# left padding, batches — and read every token's track with every view. The model is built from
# a small `GPT2Config` with random weights and the token ids are generated, so this runs offline
# (no download) in under a minute; with a real checkpoint and tokenizer the calls are the same:
# `lf.capture(model, tokenizer(texts, padding=True, return_tensors="pt"), per_token=True)`.
#
# Needs `transformers` (`pip install -e ".[hf]"`).

# %%
import numpy as np
import torch
from transformers import BatchEncoding, GPT2Config, GPT2LMHeadModel

import layerflow as lf

torch.set_num_threads(1)
torch.manual_seed(0)

# %% [markdown]
# ## The model and a left-padded batch
#
# Four blocks of width 64. Generation pads on the left, so the real tokens of a short sequence
# sit at the end of its row; the attention mask says which they are.

# %%
config = GPT2Config(n_layer=4, n_embd=64, n_head=4, vocab_size=500, n_positions=64,
                    bos_token_id=0, eos_token_id=0)
model = GPT2LMHeadModel(config).eval()
rng = np.random.default_rng(0)
n, t = 64, 24
lengths = rng.integers(8, t + 1, size=n)
mask = (np.arange(t)[None, :] >= t - lengths[:, None]).astype(np.int64)  # left padding
ids = rng.integers(1, 500, size=(n, t)) * mask
batch = BatchEncoding({"input_ids": torch.from_numpy(ids),
                       "attention_mask": torch.from_numpy(mask)})

# %% [markdown]
# ## Capture: the residual stream, as the model computes it
#
# A `BatchEncoding` is passed to the model as keyword arguments, so the attention mask reaches
# it, and the mask also picks the real tokens. Without `layers`, a Hugging Face model gives its
# residual stream: `embeddings` (what enters the first block), each block's output, and
# `final_norm` (GPT-2's `ln_f`, the last of Hugging Face's `hidden_states`). Each state carries
# its kind; `position` is the token's index among its sequence's real tokens.

# %%
traj = lf.capture(model, batch, per_token=True, batch_size=16)
print(traj.layer_names)
print(traj.kinds)
print(f"{traj.n_samples} tokens; first sequence's positions {traj.position[:5]}")

# %% [markdown]
# The states are Hugging Face's own (to float precision):

# %%
with torch.no_grad():
    hs = model(**batch, output_hidden_states=True).hidden_states
ref = lf.Trajectory.from_hidden_states(hs, attention_mask=mask, final_norm=True)
ours = [traj.states[1], *traj.states[2:-2], traj.states[-1]]  # HF has no pre-norm last block
print("max |capture − hidden_states| =",
      max(float(np.abs(a - b).max()) for a, b in zip(ours, ref.states, strict=True)))

# %% [markdown]
# ## Every view, token by token
#
# The token ids are labels, not coordinates, and the final norm rescales every token: both are
# left out of the transport and Ricci paths by default, and the results say so.

# %%
view = lf.views.get_view("transport").measure(traj)
print("LSS", round(view.scalars["lss_mean"], 3), "kinetic energy",
      round(view.scalars["kinetic_energy"], 3), "run", view.scalars["transport_run"])
print("note:", view.scalars["transport_note"])
with_norm = lf.views.get_view("transport").measure(traj, final_norm=True)
steps = [round(r["value"], 3) for r in with_norm.layers]
print("W2 steps with the final norm:", steps)
rc = lf.ricci.ricci_coefficient(traj, k=30)
print("Ricci coefficient", round(rc.coefficient, 3), "over", rc.layer_names)

# %% [markdown]
# ## Corpora larger than memory
#
# `out=` writes the states to an uncompressed `.npz` while they are captured and returns them
# mapped from disk; `layerflow analyze corpus.npz --json` then measures every token (the W2
# path and the Ricci view on declared, seeded subsamples when the exact computation does not
# fit), and `Trajectory.concat` joins the captures of several files.

# %%
halves = [lf.capture(model, {k: v[s] for k, v in batch.items()}, per_token=True)
          for s in (slice(0, 32), slice(32, None))]
corpus = lf.Trajectory.concat(halves)
print("concat:", corpus.n_samples, "tokens of", int(corpus.sample_index.max()) + 1, "sequences")
