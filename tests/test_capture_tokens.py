"""Capture for images and sequences (SPEC §1): pool="mean" for conv states, per_token=True for a
transformer's residual stream, checked against the states computed by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import layerflow as lf
from layerflow._capture import capture
from layerflow._errors import ConfigError


class TinyTransformer(nn.Module):
    """Token ids (N, T) -> embeddings -> 3 encoder layers (batch first), no dropout."""

    def __init__(self, vocab: int = 11, d: int = 8, layers: int = 3) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.emb = nn.Embedding(vocab, d)
        layer = nn.TransformerEncoderLayer(d, 2, 16, dropout=0.0, batch_first=True)
        self.enc = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(d, 2)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.enc(self.emb(ids)).mean(dim=1))


LAYERS = ["emb", "enc.layers.0", "enc.layers.1", "enc.layers.2"]


def _ids_and_mask(n: int = 6, t: int = 7) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 11, size=(n, t))
    lengths = rng.integers(2, t + 1, size=n)
    mask = (np.arange(t)[None, :] < lengths[:, None]).astype(np.int64)  # right padding
    return ids, mask


def _hidden_by_hand(model: TinyTransformer, ids: np.ndarray) -> list[np.ndarray]:
    model.eval()
    with torch.no_grad():
        h = model.emb(torch.from_numpy(ids))
        out = [h.numpy()]
        for layer in model.enc.layers:
            h = layer(h)
            out.append(h.numpy())
    return out


def test_per_token_rows_equal_the_hidden_states_indexed_by_hand() -> None:
    model = TinyTransformer()
    ids, mask = _ids_and_mask()
    labels = np.arange(6) % 2
    traj = capture(model, ids, layers=LAYERS, per_token=True, attention_mask=mask, labels=labels,
                   batch_size=4)
    hidden = _hidden_by_hand(model, ids)
    keep = mask.astype(bool)
    m = int(keep.sum())
    assert traj.n_samples == m < 6 * 7  # exactly the padded tokens dropped
    i, t = np.nonzero(keep)
    np.testing.assert_array_equal(traj.sample_index, i)
    np.testing.assert_array_equal(traj.position, t)
    np.testing.assert_array_equal(traj.labels, labels[i])
    np.testing.assert_array_equal(traj.states[0][:, 0], ids[i, t])  # token ids: width 1
    for got, h in zip(traj.states[1:], hidden, strict=True):
        np.testing.assert_allclose(got, h[i, t], rtol=1e-5, atol=1e-6)
    for r in (0, m // 2, m - 1):  # row r is token position[r] of sequence sample_index[r]
        np.testing.assert_allclose(traj.states[-1][r], hidden[-1][i[r], t[r]], rtol=1e-5,
                                   atol=1e-6)
    assert traj.metadata["per_token"] is True and traj.widths == (1, 8, 8, 8, 8)


def test_without_a_mask_every_token_is_a_row_and_labels_may_be_per_token() -> None:
    model = TinyTransformer()
    ids, _ = _ids_and_mask(n=3, t=4)
    tok_labels = np.arange(12).reshape(3, 4)
    traj = capture(model, ids, layers=LAYERS, per_token=True, labels=tok_labels)
    assert traj.n_samples == 12
    np.testing.assert_array_equal(traj.labels, np.arange(12))
    np.testing.assert_array_equal(traj.position, np.tile(np.arange(4), 3))
    flat = capture(model, ids, layers=LAYERS)  # default: one point per sequence, T·d wide
    assert flat.widths == (4, 32, 32, 32, 32) and flat.sample_index is None


def test_token_trajectory_runs_transport_and_ricci_unchanged() -> None:
    model = TinyTransformer()
    ids, mask = _ids_and_mask(n=10, t=7)
    traj = capture(model, ids, layers=LAYERS, per_token=True, attention_mask=mask)
    lss = lf.transport.line_shape_score(traj)
    assert lss.per_sample.shape == (traj.n_samples,) and np.all(lss.per_sample >= 1 - 1e-9)
    rc = lf.ricci.ricci_coefficient(traj, k=5)
    assert traj.kinds[0] == "input_ids"  # token ids: left out of the kNN graphs
    assert rc.scalar_curvature.shape == (4,) and rc.layer_names == tuple(LAYERS)
    sub = traj.subsample(20, seed=1)  # the same tokens' rows, their bookkeeping kept
    row_of = {(int(i), int(t)): r
              for r, (i, t) in enumerate(zip(traj.sample_index, traj.position, strict=True))}
    rows = [row_of[(int(i), int(t))] for i, t in zip(sub.sample_index, sub.position, strict=True)]
    np.testing.assert_array_equal(sub.states[2], traj.states[2][rows])


class ConvNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(1)
        self.c1 = nn.Conv2d(3, 4, 3, padding=1)
        self.c2 = nn.Conv2d(4, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 5 * 5, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.c2(torch.relu(self.c1(x)))).flatten(1))


def test_mean_pool_equals_a_hand_mean_over_positions() -> None:
    X = np.random.default_rng(2).normal(size=(9, 3, 5, 5)).astype(np.float32)
    model = ConvNet()
    traj = capture(model, X, layers=["c1", "c2", "fc"], pool="mean", batch_size=4)
    with torch.no_grad():
        x = torch.from_numpy(X)
        s1 = model.c1(x)
        s2 = model.c2(torch.relu(s1))
        out = model(x)
    expected = [X.mean(axis=(2, 3)), s1.mean(dim=(2, 3)).numpy(), s2.mean(dim=(2, 3)).numpy(),
                out.numpy()]
    assert traj.widths == (3, 4, 4, 2) and traj.metadata["pool"] == "mean"
    for got, exp in zip(traj.states, expected, strict=True):
        np.testing.assert_allclose(got, exp, rtol=1e-5, atol=1e-6)
    flat = capture(model, X, layers=["c1"])
    assert flat.widths == (75, 100)  # default: flattened, unchanged


class _PooledOut(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(5, 4)
        self.pool = nn.Identity()

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.pool(self.emb(ids).mean(dim=1))


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"layers": ["emb", "pool"], "per_token": True},
         "state 2 ('pool') has shape (3, 4); per-token states need shape (N, T, d) or (N, T) "
         "with N=3, T=6 as state 0 ('input', (3, 6))"),
        ({"layers": ["emb"], "per_token": True, "attention_mask": np.ones((3, 5))},
         "attention_mask has shape (3, 5); expected (N, T) = (3, 6)"),
        ({"layers": ["emb"], "per_token": True, "attention_mask": np.full((3, 6), 2)},
         "attention_mask has values other than 0/1"),
        ({"layers": ["emb"], "per_token": True, "attention_mask": np.zeros((3, 6))},
         "attention_mask keeps no token of the 3×6"),
        ({"layers": ["emb"], "per_token": True, "labels": np.zeros(4)},
         "labels have shape (4,); expected (3,) (one per sequence) or (3, 6) (one per token)"),
        ({"layers": ["emb"], "per_token": True, "pool": "mean"}, "choose one"),
        ({"layers": ["emb"], "pool": "max"}, "pool='max': expected None or one of ['mean']"),
        ({"layers": ["emb"], "attention_mask": np.ones((3, 6))}, "needs per_token=True"),
        ({"layers": ["emb"], "per_token": 1}, "per_token=1: expected True or False"),
    ],
)
def test_errors_name_the_shapes(kwargs: dict[str, object], needle: str) -> None:
    ids = np.random.default_rng(0).integers(0, 5, size=(3, 6))
    model = _PooledOut()
    with pytest.raises(ConfigError) as info:
        capture(model, ids, **kwargs)  # type: ignore[arg-type]
    assert needle in str(info.value)
    assert all(not m._forward_hooks for m in model.modules())


def test_per_token_needs_sequence_shaped_states() -> None:
    model = ConvNet()
    with pytest.raises(ConfigError, match=r"X has shape \(4, 3, 5, 5\); per_token=True needs "
                                           r"sequences of shape \(N, T\) \(token ids\) or "
                                           r"\(N, T, d\)"):
        capture(model, np.zeros((4, 3, 5, 5), dtype=np.float32), layers=["c1"], per_token=True)
    X = np.zeros((4, 3, 5), dtype=np.float32)  # (N, T, d) input, but a conv state (N, C, H, W)

    class Lift(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.up = nn.Identity()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.up(x[:, :, :, None].expand(-1, -1, -1, 2))

    with pytest.raises(ConfigError, match=r"state 1 \('up'\) has shape \(4, 3, 5, 2\); "
                                           r"per-token states need shape \(N, T, d\)"):
        capture(Lift(), X, layers=["up"], per_token=True)


def test_integer_inputs_stay_ids_only_for_models_with_an_embedding() -> None:
    lin = nn.Sequential(nn.Linear(3, 2))
    ints = np.arange(6).reshape(2, 3)
    traj = capture(lin, ints, layers=["0"])  # cast to the model's float dtype, as before
    with torch.no_grad():
        np.testing.assert_allclose(traj.states[1], lin(torch.tensor(ints, dtype=torch.float32)),
                                   rtol=1e-6)
    emb = _PooledOut()
    traj = capture(emb, np.array([[1, 4]]), layers=["emb"], per_token=True)
    np.testing.assert_array_equal(traj.states[1], emb.emb.weight.detach().numpy()[[1, 4]])
