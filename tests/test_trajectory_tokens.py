"""Per-token trajectories: sample_index / position bookkeeping and Trajectory.from_hidden_states."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from layerflow._errors import ConfigError
from layerflow._tokens import token_rows
from layerflow._trajectory import Trajectory


def _hidden(n: int = 4, t: int = 5, d: int = 3, layers: int = 3) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.normal(size=(n, t, d)) for _ in range(layers + 1)]


def test_from_hidden_states_rows_are_the_tokens_indexed_by_hand() -> None:
    hs = _hidden()
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [0, 1, 1, 1, 1], [1, 0, 0, 0, 0]])
    labels = np.array([3, 1, 4, 1])
    traj = Trajectory.from_hidden_states(tuple(torch.from_numpy(h) for h in hs),
                                         attention_mask=torch.from_numpy(mask), labels=labels)
    i, t = np.nonzero(mask)
    assert traj.n_samples == 13 and traj.layer_names == ("embeddings", "layer1", "layer2",
                                                         "layer3")
    for got, h in zip(traj.states, hs, strict=True):
        np.testing.assert_array_equal(got, h[i, t])
    np.testing.assert_array_equal(traj.sample_index, i)
    # the token's index among its sequence's real tokens: row 2 is left-padded by one
    np.testing.assert_array_equal(traj.position, [0, 1, 2, 0, 1, 2, 3, 4, 0, 1, 2, 3, 0])
    np.testing.assert_array_equal(traj.labels, labels[i])
    assert traj.metadata == {"per_token": True}
    per_seq = Trajectory.from_hidden_states(hs, per_token=False, labels=labels)
    assert per_seq.widths == (15, 15, 15, 15) and per_seq.sample_index is None


def test_bookkeeping_survives_save_load_subsample_select_and_rows(tmp_path: Path) -> None:
    traj = Trajectory.from_hidden_states(_hidden(), labels=np.arange(4))
    back = Trajectory.load(traj.save(tmp_path / "tok.npz"))
    np.testing.assert_array_equal(back.sample_index, traj.sample_index)
    np.testing.assert_array_equal(back.position, traj.position)
    assert back.metadata == {"per_token": True}
    sub = traj.subsample(7, seed=3)
    idx = np.sort(np.random.default_rng(3).choice(20, size=7, replace=False))
    np.testing.assert_array_equal(sub.sample_index, traj.sample_index[idx])
    np.testing.assert_array_equal(sub.position, traj.position[idx])
    np.testing.assert_array_equal(sub.states[1], traj.states[1][idx])
    sel = traj.select(1, 3)
    np.testing.assert_array_equal(sel.position, traj.position)
    assert not sub.sample_index.flags.writeable
    plain = Trajectory([np.zeros((3, 2))])
    assert plain.sample_index is None and Trajectory.load(
        plain.save(tmp_path / "plain.npz")).position is None


def test_bfloat16_and_stacked_hidden_states() -> None:
    hs = torch.randn(3, 2, 4, 5, generator=torch.Generator().manual_seed(0))  # (L+1, N, T, d)
    traj = Trajectory.from_hidden_states(hs.to(torch.bfloat16))
    assert traj.n_samples == 8 and len(traj.states) == 3
    np.testing.assert_allclose(traj.states[2][5], hs[2, 1, 1].numpy(), rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize(
    ("call", "needle"),
    [
        (lambda: Trajectory.from_hidden_states("abc"), "hidden_states is a str; expected the tuple"),
        (lambda: Trajectory.from_hidden_states([*_hidden()[:2], np.zeros((4, 6, 3))]),
         "state 2 ('layer2') has shape (4, 6, 3); per-token states need shape (N, T, d) or "
         "(N, T) with N=4, T=5 as state 0 ('embeddings', (4, 5, 3))"),
        (lambda: Trajectory.from_hidden_states([np.zeros((4, 5, 3, 2))]),
         "state 0 ('embeddings') has shape (4, 5, 3, 2); per-token states need shape (N, T, d)"),
        (lambda: Trajectory.from_hidden_states(_hidden(), attention_mask=np.ones((4, 4))),
         "attention_mask has shape (4, 4); expected (N, T) = (4, 5)"),
        (lambda: Trajectory.from_hidden_states(_hidden(), per_token=False,
                                               attention_mask=np.ones((4, 5))),
         "needs per_token=True"),
        (lambda: Trajectory.from_hidden_states(_hidden(), layer_names=["a", "b"]),
         "layer_names has 2 names but there are 4 hidden states"),
        (lambda: Trajectory.from_hidden_states([np.array([["x"]])]),
         "hidden_states[0] has dtype <U1; expected a real numeric array"),
        (lambda: Trajectory.from_hidden_states([], per_token=True),
         "hidden_states is empty; expected the L+1 states (N, T, d)"),
        (lambda: token_rows([], [], error=ConfigError),
         "no states; per-token rows need at least one state"),
        (lambda: Trajectory([np.zeros((3, 2))], sample_index=[0, 1]),
         "sample_index has shape (2,) and dtype int64; expected integers of shape (3,)"),
        (lambda: Trajectory([np.zeros((3, 2))], position=[0.0, 1.0, 2.0]),
         "position has shape (3,) and dtype float64; expected integers"),
        (lambda: Trajectory([np.zeros((3, 2))], position=[0, -1, 2]),
         "position has a negative value (-1)"),
    ],
)
def test_errors_name_the_shapes(call: object, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        call()  # type: ignore[operator]
    assert needle in str(info.value)


def test_from_hidden_states_does_not_import_torch_or_transformers() -> None:
    code = ("import sys, numpy as np\n"
            "from layerflow import Trajectory\n"
            "t = Trajectory.from_hidden_states([np.ones((2, 3, 4))] * 3)\n"
            "print(t.n_samples, 'torch' in sys.modules, 'transformers' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["6", "False", "False"]
