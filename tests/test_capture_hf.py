"""Capture on Hugging Face's own GPT-2 and BERT (small configs, random weights, no download):
the states equal the model's ``output_hidden_states`` with the mask reaching the model."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import layerflow as lf
from layerflow._capture import capture
from layerflow._errors import ConfigError

transformers = pytest.importorskip("transformers")

N, T, VOCAB = 5, 7, 40


def _gpt2() -> Any:
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(n_layer=3, n_embd=16, n_head=2, vocab_size=VOCAB,
                                  n_positions=16, bos_token_id=0, eos_token_id=0)
    return transformers.GPT2LMHeadModel(cfg).eval()


def _bert() -> Any:
    torch.manual_seed(0)
    cfg = transformers.BertConfig(num_hidden_layers=3, hidden_size=16, num_attention_heads=2,
                                  intermediate_size=32, vocab_size=VOCAB,
                                  max_position_embeddings=16)
    return transformers.BertModel(cfg).eval()


def _batch(side: str) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(1, VOCAB, (N, T), generator=g)
    lengths = torch.tensor([7, 3, 5, 1, 6])
    cols = torch.arange(T)[None, :]
    if side == "right":
        mask = (cols < lengths[:, None]).long()
    else:
        mask = (cols >= T - lengths[:, None]).long()
    return {"input_ids": ids * mask, "attention_mask": mask}


def _reference(model: Any, batch: dict[str, torch.Tensor]) -> tuple[Any, ...]:
    with torch.no_grad():
        return model(**batch, output_hidden_states=True).hidden_states


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("build", [_gpt2, _bert], ids=["gpt2", "bert"])
def test_capture_with_the_mask_equals_output_hidden_states(build: Any, side: str) -> None:
    model = build()
    batch = _batch(side)
    hs = _reference(model, batch)
    traj = capture(model, batch, per_token=True, batch_size=2)
    keep = batch["attention_mask"].bool().numpy()
    i, t = np.nonzero(keep)
    gpt2 = isinstance(model, transformers.GPT2LMHeadModel)
    blocks = ["transformer.h.0", "transformer.h.1", "transformer.h.2"] if gpt2 else [
        "encoder.layer.0", "encoder.layer.1", "encoder.layer.2"]
    expected_names = ("input_ids", "embeddings", *blocks, *(["final_norm"] if gpt2 else []))
    assert traj.layer_names == expected_names
    assert traj.kinds == ("input_ids", "embedding", "block", "block", "block",
                          *(["final_norm"] if gpt2 else []))
    # Hugging Face's hidden states: the embeddings, each block but the last, then (GPT-2) the
    # final norm's output; without a final norm (BERT) every block
    ours = [traj.states[1], *traj.states[2:-2], traj.states[-1]] if gpt2 else traj.states[1:]
    assert len(ours) == len(hs)
    worst = 0.0
    for got, h in zip(ours, hs, strict=True):
        diff = float(np.abs(got - h.numpy()[i, t]).max())
        worst = max(worst, diff)
    assert worst <= 1e-5
    np.testing.assert_array_equal(traj.states[0][:, 0], batch["input_ids"].numpy()[i, t])
    np.testing.assert_array_equal(traj.sample_index, i)
    np.testing.assert_array_equal(traj.position, np.cumsum(keep, axis=1)[i, t] - 1)
    if gpt2:
        assert traj.metadata["final_norm"] == "transformer.ln_f"
    # and the same rows as from_hidden_states on the model's own tuple
    ref = lf.Trajectory.from_hidden_states(hs, attention_mask=batch["attention_mask"],
                                           final_norm=gpt2)
    assert ref.kinds[-1] == ("final_norm" if gpt2 else "block")
    for got, exp in zip(ours, ref.states, strict=True):
        np.testing.assert_allclose(got, exp, rtol=0, atol=1e-5)
    np.testing.assert_array_equal(ref.position, traj.position)


def test_the_mask_changes_the_states_so_it_must_reach_the_model() -> None:
    """Left-padded GPT-2 without the mask gives other states: the comparison above can fail."""
    model = _gpt2()
    batch = _batch("left")
    with_mask = capture(model, batch, per_token=True)
    ids_only = capture(model, batch["input_ids"], per_token=True,
                       attention_mask=batch["attention_mask"])  # passed on: forward takes it
    np.testing.assert_allclose(ids_only.states[3], with_mask.states[3], atol=1e-6)
    assert ids_only.metadata["attention_mask_to_model"] is True
    blind = capture(model, {"input_ids": batch["input_ids"]}, per_token=True)
    keep = batch["attention_mask"].bool().numpy().reshape(-1)
    assert float(np.abs(blind.states[3][keep] - with_mask.states[3]).max()) > 1e-3


def test_layers_by_glob_index_and_pseudo_names() -> None:
    model = _gpt2()
    batch = _batch("right")
    g = capture(model, batch, layers=["transformer.h.*"], per_token=True)
    assert g.layer_names == ("input_ids", "transformer.h.0", "transformer.h.1", "transformer.h.2")
    assert capture(model, batch, layers=["transformer.h"]).layer_names == g.layer_names
    idx = capture(model, batch, layers=[0, -1], per_token=True)
    assert idx.layer_names == ("input_ids", "embeddings", "final_norm")
    assert idx.kinds == ("input_ids", "embedding", "final_norm")
    named = capture(model, batch, layers=["transformer.ln_f"], per_token=True)
    assert named.kinds[-1] == "final_norm"
    np.testing.assert_array_equal(named.states[-1], idx.states[-1])
    with pytest.raises(ConfigError, match=r"the glob 'transformer\.x\.\*' matches no submodule"):
        capture(model, batch, layers=["transformer.x.*"])
    with pytest.raises(ConfigError, match=r"index 9 is out of range for the 5 default layers"):
        capture(model, batch, layers=[9])
    with pytest.raises(ConfigError, match=r"layers must be distinct; repeated: \['final_norm'\]"):
        capture(model, batch, layers=["final_norm", -1])


def test_dataloader_of_encodings_and_concat_match_one_capture() -> None:
    model = _bert()
    batch = _batch("right")
    whole = capture(model, batch, per_token=True, labels=np.arange(N))
    loader = torch.utils.data.DataLoader(
        [{"input_ids": batch["input_ids"][r], "attention_mask": batch["attention_mask"][r]}
         for r in range(N)], batch_size=2)
    streamed = capture(model, loader, per_token=True)
    assert streamed.n_samples == whole.n_samples
    for a, b in zip(streamed.states, whole.states, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_array_equal(streamed.sample_index, whole.sample_index)
    halves = [capture(model, {k: v[s] for k, v in batch.items()}, per_token=True)
              for s in (slice(0, 2), slice(2, N))]
    joined = lf.Trajectory.concat(halves)
    np.testing.assert_array_equal(joined.sample_index, whole.sample_index)
    np.testing.assert_allclose(joined.states[-1], whole.states[-1], atol=1e-5)


def test_the_language_model_example_runs_and_matches_hugging_face(tmp_path: Any) -> None:
    import os
    import re
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(root / "src")}
    out = subprocess.run([sys.executable, "-W", "error",
                          str(root / "examples" / "language_model_tokens.py")], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    diff = re.search(r"max \|capture − hidden_states\| = ([0-9.e+-]+)", out.stdout)
    assert diff is not None and float(diff.group(1)) <= 1e-5
    steps = re.search(r"W2 steps with the final norm: \[(.*)\]", out.stdout)
    assert steps is not None
    w = [float(v) for v in steps.group(1).split(",")]
    assert w[-1] > 10 * max(w[:-1])  # the final norm's step dwarfs the blocks'
