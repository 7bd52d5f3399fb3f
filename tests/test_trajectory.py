"""Trajectory (SPEC §1): construction, validation, save/load, subsampling, equal-width runs."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from layerflow import Trajectory
from layerflow._errors import ConfigError, DataError


def states(widths: list[int], n: int = 6, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(n, w)) for w in widths]


# ------------------------------------------------------------------------------ construction
def test_from_numpy() -> None:
    s = states([3, 4, 4])
    t = Trajectory(s, labels=np.arange(6) % 2)
    assert t.n_samples == 6 and t.n_layers == 2 and len(t) == 3
    assert t.widths == (3, 4, 4)
    assert t.layer_names == ("input", "layer1", "layer2")
    for a, b in zip(t.states, s, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not t.states[0].flags.writeable
    assert repr(t) == "Trajectory(N=6, widths=[3, 4, 4], layers=['input', 'layer1', 'layer2'])"


def test_from_torch_and_flattening() -> None:
    x0 = torch.arange(24, dtype=torch.float32).reshape(6, 2, 2)  # flattened to (6, 4)
    x1 = torch.ones(6, 3, requires_grad=True) * 2  # non-leaf with grad
    x2 = torch.arange(6)  # 1-D ints -> (6, 1) float64
    t = Trajectory([x0, x1, x2], labels=torch.tensor([0, 1, 0, 1, 0, 1]), layer_names=["a", "b", "c"])
    assert t.widths == (4, 3, 1)
    np.testing.assert_array_equal(t.states[0], np.arange(24, dtype=np.float32).reshape(6, 4))
    assert t.states[0].dtype == np.float32 and t.states[2].dtype == np.float64
    np.testing.assert_array_equal(t.states[2][:, 0], np.arange(6))
    np.testing.assert_array_equal(t.labels, [0, 1, 0, 1, 0, 1])


def test_from_stacked_array() -> None:
    arr = np.random.default_rng(0).normal(size=(3, 5, 2))
    t = Trajectory(arr)
    assert t.widths == (2, 2, 2) and t.n_samples == 5


def test_mismatched_n_names_the_layer() -> None:
    s = [*states([2, 2]), np.zeros((5, 2))]
    with pytest.raises(ConfigError, match=r"state 2 \('layer2'\) has 5 rows but state 0 \('input'\) has 6"):
        Trajectory(s)


@pytest.mark.parametrize(("bad", "kind"), [(np.nan, "NaN"), (np.inf, "infinite")])
def test_non_finite_state_names_the_layer(bad: float, kind: str) -> None:
    s = states([2, 2, 2])
    s[1][3, 1] = bad
    with pytest.raises(ConfigError, match=rf"state 1 \('hidden'\) has {kind} values in 1 of 6 rows \(first bad row: 3\)"):
        Trajectory(s, layer_names=["in", "hidden", "out"])


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"states": []}, "states is empty"),
        ({"states": "abc"}, "must be a sequence of arrays, got str"),
        ({"states": 3}, "got int"),
        ({"states": [np.zeros((0, 2))]}, "0 rows"),
        ({"states": [np.zeros((3, 0))]}, "width 0"),
        ({"states": [np.float64(1.0)]}, "is a scalar"),
        ({"states": [np.array(["a", "b"])]}, "dtype <U1"),
        ({"states": [np.array([{}, {}], dtype=object)]}, "dtype object"),
        ({"states": [[[1, 2], [3]]]}, "could not be converted"),
        ({"states": [np.zeros((3, 2))], "layer_names": ["a", "b"]}, "2 names but there are 1 states"),
        ({"states": [np.zeros((3, 2))] * 2, "layer_names": ["a", "a"]}, r"repeated: \['a'\]"),
        ({"states": [np.zeros((3, 2))], "labels": np.zeros(4)}, r"labels have shape \(4,\); expected \(3,\)"),
        ({"states": [np.zeros((3, 2))], "metadata": {"k": [1]}}, r"metadata\['k'\] = \[1\]"),
        ({"states": [np.zeros((3, 2))], "metadata": {1: "v"}}, r"metadata\[1\]"),
    ],
)
def test_construction_errors(kwargs: dict[str, object], pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        Trajectory(**kwargs)  # type: ignore[arg-type]


def test_labels_2d_column_is_flattened() -> None:
    t = Trajectory([np.zeros((3, 2))], labels=np.array([[1], [2], [3]]))
    np.testing.assert_array_equal(t.labels, [1, 2, 3])


# ----------------------------------------------------------------------------------- save/load
def test_save_load_round_trip_is_atomic(tmp_path: Path) -> None:
    t = Trajectory(states([3, 5, 5]), labels=np.array(list("abcabc")), layer_names=["x", "h1", "h2"],
                   metadata={"model": "mlp", "depth": 2, "lr": 0.1, "ok": True, "none": None})
    p = t.save(tmp_path / "sub" / "traj")  # suffix added, folder created
    assert p == tmp_path / "sub" / "traj.npz"
    assert sorted(os.listdir(p.parent)) == ["traj.npz"]  # no temporary file left behind
    u = Trajectory.load(p)
    assert u.layer_names == t.layer_names and dict(u.metadata) == dict(t.metadata)
    for a, b in zip(u.states, t.states, strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(u.labels, t.labels)


def test_save_failure_leaves_no_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    t = Trajectory(states([2, 2]))
    (tmp_path / "keep.npz").write_bytes(b"old")

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez_compressed", boom)
    with pytest.raises(OSError, match="disk full"):
        t.save(tmp_path / "keep.npz")
    assert sorted(os.listdir(tmp_path)) == ["keep.npz"]
    assert (tmp_path / "keep.npz").read_bytes() == b"old"  # the old file is untouched


def test_load_plain_state_archive(tmp_path: Path) -> None:
    p = tmp_path / "plain.npz"
    np.savez(p, state_0=np.zeros((4, 2)), state_1=np.ones((4, 3)), state_3=np.ones((4, 3)))
    t = Trajectory.load(p)
    assert t.widths == (2, 3)  # stops at the first missing index
    assert t.layer_names == ("input", "layer1") and t.labels is None


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        Trajectory.load(tmp_path / "missing.npz")
    p = tmp_path / "other.npz"
    np.savez(p, a=np.zeros(3))
    with pytest.raises(DataError, match=r"no arrays named state_0.*found \['a'\]"):
        Trajectory.load(p)
    np.savez(p, state_0=np.zeros((2, 2)), layer_names=np.array("x"))
    with pytest.raises(DataError, match=r"layer_names has shape \(\); expected \(1,\)"):
        Trajectory.load(p)
    np.save(tmp_path / "single.npy", np.zeros(3))
    with pytest.raises(DataError, match=r"not a readable \.npz"):
        Trajectory.load(tmp_path / "single.npy")
    np.savez(p, state_0=np.zeros((2, 2)), state_1=np.zeros((3, 2)))
    with pytest.raises(ConfigError, match=r"state 1 .* has 3 rows"):
        Trajectory.load(p)
    big = Trajectory(states([50, 50], n=50)).save(tmp_path / "big.npz")
    with pytest.raises(DataError, match="above the limit max_bytes=1000"):
        Trajectory.load(big, max_bytes=1000)


# -------------------------------------------------------------------------------- subsample
def test_subsample_same_rows_everywhere_and_reproducible() -> None:
    n = 40
    base = np.arange(n, dtype=np.float64)
    # every state encodes the row index, so the chosen rows are readable from any state
    t = Trajectory([np.c_[base, base], np.c_[10 * base], np.c_[-base, base, base]], labels=base % 3)
    s = t.subsample(10, seed=4)
    idx = s.states[0][:, 0].astype(int)
    assert idx.size == 10 and np.unique(idx).size == 10 and (np.diff(idx) > 0).all()
    np.testing.assert_array_equal(s.states[1][:, 0], 10 * idx)
    np.testing.assert_array_equal(s.states[2][:, 0], -idx)
    np.testing.assert_array_equal(s.labels, idx % 3)
    np.testing.assert_array_equal(t.subsample(10, seed=4).states[0], s.states[0])
    assert not np.array_equal(t.subsample(10, seed=5).states[0], s.states[0])
    assert t.subsample(n) is t


@pytest.mark.parametrize("m", [0, 41, -1, 2.5, True])
def test_subsample_bad_m(m: object) -> None:
    t = Trajectory(states([2], n=40))
    with pytest.raises(ConfigError, match=f"m={m!r}"):
        t.subsample(m)  # type: ignore[arg-type]


def test_select_and_rows() -> None:
    t = Trajectory(states([2, 3, 3, 4]), layer_names=["a", "b", "c", "d"], metadata={"m": 1})
    s = t.select(1, 2)
    assert s.layer_names == ("b", "c") and s.widths == (3, 3) and dict(s.metadata) == {"m": 1}
    np.testing.assert_array_equal(s.states[0], t.states[1])
    with pytest.raises(ConfigError, match=r"select\(2, 4\) is out of range for 4 states"):
        t.select(2, 4)
    r = t.rows(np.array([True, False, True, False, False, True]))
    np.testing.assert_array_equal(r.states[3], t.states[3][[0, 2, 5]])


# --------------------------------------------------------------------------- equal widths
def test_equal_width_runs_and_longest() -> None:
    t = Trajectory(states([2, 5, 5, 3, 3, 3, 7, 5, 5, 5]))
    assert t.equal_width_runs() == [(1, 2), (3, 5), (7, 9)]
    assert t.equal_width_run() == (3, 5)  # longest; the earliest on a tie
    assert t.stacked().shape == (3, 6, 3)
    np.testing.assert_array_equal(t.stacked()[1], t.states[4])


def test_equal_width_run_named() -> None:
    t = Trajectory(states([2, 5, 5, 5, 3]))
    assert t.equal_width_run((2, 3)) == (2, 3)
    assert t.stacked((1, 2)).shape == (2, 6, 5)


@pytest.mark.parametrize(
    ("run", "pattern"),
    [
        ((0, 2), r"run=\(0, 2\) spans widths \[2, 5, 5\]; runs of equal width are: 1..3"),
        ((3, 3), "out of range"),
        ((0, 5), "out of range"),
        ((-1, 2), "out of range"),
        (("a", 2), "expected a pair"),
        ((1,), "expected a pair"),
    ],
)
def test_equal_width_run_bad_named(run: tuple[object, ...], pattern: str) -> None:
    t = Trajectory(states([2, 5, 5, 5, 3]))
    with pytest.raises(ConfigError, match=pattern):
        t.equal_width_run(run)  # type: ignore[arg-type]


def test_no_equal_width_run() -> None:
    t = Trajectory(states([2, 3, 4]))
    assert t.equal_width_runs() == []
    with pytest.raises(ConfigError, match=r"no two consecutive states have equal width \(widths \[2, 3, 4\]\)"):
        t.equal_width_run()


# ---------------------------------------------------------------------------- properties
def brute_force_runs(w: list[int]) -> list[tuple[int, int]]:
    """All maximal runs of >= 2 equal consecutive widths, by checking every interval."""
    out = []
    for a in range(len(w)):
        for b in range(a + 1, len(w)):
            if len(set(w[a:b + 1])) == 1 and (a == 0 or w[a - 1] != w[a]) and (
                b == len(w) - 1 or w[b + 1] != w[b]
            ):
                out.append((a, b))
    return out


@given(st.lists(st.integers(1, 3), min_size=1, max_size=12))
def test_property_equal_width_runs(widths: list[int]) -> None:
    t = Trajectory([np.zeros((2, w)) for w in widths])
    runs = brute_force_runs(widths)
    assert t.equal_width_runs() == runs
    if runs:
        longest = max(b - a for a, b in runs)
        start, stop = t.equal_width_run()
        assert stop - start == longest
        assert start == min(a for a, b in runs if b - a == longest)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    n=st.integers(1, 8),
    widths=st.lists(st.integers(1, 4), min_size=1, max_size=4),
    dtype=st.sampled_from([np.float32, np.float64]),
    data=st.data(),
)
def test_property_save_load_round_trip(
    tmp_path: Path, n: int, widths: list[int], dtype: type, data: st.DataObject
) -> None:
    arrays = [
        data.draw(hnp.arrays(dtype, (n, w), elements=st.floats(-1e6, 1e6, width=32)))
        for w in widths
    ]
    labels = data.draw(hnp.arrays(np.int64, (n,), elements=st.integers(-5, 5)))
    t = Trajectory(arrays, labels=labels)
    u = Trajectory.load(t.save(tmp_path / "p.npz"))
    assert u.widths == t.widths and u.layer_names == t.layer_names
    for a, b in zip(u.states, arrays, strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(u.labels, labels)


@given(n=st.integers(1, 30), m_frac=st.floats(0.01, 1.0), seed=st.integers(0, 2**32 - 1))
def test_property_subsample_keeps_rows_aligned(n: int, m_frac: float, seed: int) -> None:
    m = max(1, int(m_frac * n))
    base = np.arange(n, dtype=np.float64)[:, None]
    t = Trajectory([base, base * 2 + 1, base - 7])
    s = t.subsample(m, seed=seed)
    idx = s.states[0][:, 0]
    assert s.n_samples == m and np.unique(idx).size == m
    np.testing.assert_array_equal(s.states[1][:, 0], idx * 2 + 1)
    np.testing.assert_array_equal(s.states[2][:, 0], idx - 7)


def test_bfloat16_states_and_labels_are_upcast_to_float32() -> None:
    """NumPy has no bfloat16: states (and labels) become float32 holding the same values."""
    a = torch.linspace(-3.0, 3.0, 12).reshape(6, 2).to(torch.bfloat16)
    b = (a * 3).reshape(6, 2, 1)
    traj = Trajectory([a, b], labels=torch.arange(6).to(torch.bfloat16))
    assert traj.states[0].dtype == np.float32
    np.testing.assert_array_equal(traj.states[0], np.array(a.tolist(), dtype=np.float32))
    np.testing.assert_array_equal(traj.states[1], np.array(b.reshape(6, 2).tolist(),
                                                           dtype=np.float32))
    np.testing.assert_array_equal(traj.labels, np.arange(6))


def test_a_saved_file_names_its_format_as_every_release_has(tmp_path: Path) -> None:
    """The file format's name is part of what a saved trajectory holds: it does not follow the
    package's module layout (a file written today reads as one written by earlier releases)."""
    import json

    p = Trajectory([np.zeros((3, 2)), np.ones((3, 2))]).save(tmp_path / "t.npz")
    with np.load(p, allow_pickle=False) as z:
        assert json.loads(str(z["header"]))["format"] == "layerflow.trajectory/1"
