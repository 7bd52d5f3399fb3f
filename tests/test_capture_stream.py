"""Capture over batches and beyond memory: iterables of batches, states streamed to disk and
mapped back, progress, the environment of a run, and the errors of each input form."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import layerflow as lf
from layerflow._capture import capture
from layerflow._errors import ConfigError, DataError, LayerflowError
from layerflow._npzmap import map_npz, release, write_stored_npz
from layerflow._trajectory import Trajectory


class Seq(nn.Module):
    """Token ids (N, T) -> embedding -> two linear layers on each token; takes a mask."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.emb = nn.Embedding(9, 4)
        self.a = nn.Linear(4, 4)
        self.b = nn.Linear(4, 4)

    def forward(self, ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        h = self.emb(ids)
        if attention_mask is not None:
            h = h * attention_mask[..., None]
        return self.b(torch.tanh(self.a(h)))


def _ids(n: int = 10, t: int = 5) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 9, size=(n, t))


def test_streamed_to_disk_equals_in_memory(tmp_path: Path) -> None:
    model = Seq()
    ids = _ids()
    mem = capture(model, ids, per_token=True, batch_size=3, labels=np.arange(10))
    disk = capture(model, ids, per_token=True, batch_size=3, labels=np.arange(10),
                   out=tmp_path / "corpus")
    spill = capture(model, ids, per_token=True, batch_size=3, labels=np.arange(10),
                    max_memory=0)  # over budget from the first batch: a temporary file
    assert (tmp_path / "corpus.npz").is_file()
    for t in (disk, spill):
        assert t.layer_names == mem.layer_names and t.kinds == mem.kinds
        for a, b in zip(t.states, mem.states, strict=True):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(t.sample_index, mem.sample_index)
        np.testing.assert_array_equal(t.labels, mem.labels)
    with zipfile.ZipFile(tmp_path / "corpus.npz") as zf:  # members stored, not compressed
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_STORED}
    assert not list(tmp_path.glob(".layerflow-capture-*"))  # no temporary folder left
    np.testing.assert_array_equal(np.load(tmp_path / "corpus.npz")["state_2"], mem.states[2])


def test_a_mask_reaches_a_model_that_takes_one() -> None:
    model = Seq()
    ids = _ids()
    mask = (np.arange(5)[None, :] < np.array([5, 2, 3, 4, 5, 1, 2, 3, 4, 5])[:, None]).astype(int)
    traj = capture(model, ids, per_token=True, attention_mask=mask, layers=["b"])
    with torch.no_grad():
        ref = model(torch.from_numpy(ids), torch.from_numpy(mask).float()).numpy()
    i, t = np.nonzero(mask)
    np.testing.assert_allclose(traj.states[1], ref[i, t], atol=1e-6)
    assert traj.metadata["attention_mask_to_model"] is True


def test_iterables_of_batches_with_labels_and_varying_lengths() -> None:
    model = Seq()
    batches = [(torch.from_numpy(_ids(3, 5)), np.arange(3)),
               (torch.from_numpy(_ids(2, 7)), np.arange(3, 5))]
    traj = capture(model, iter(batches), per_token=True, layers=["a"])
    assert traj.n_samples == 3 * 5 + 2 * 7
    np.testing.assert_array_equal(np.unique(traj.sample_index), np.arange(5))
    np.testing.assert_array_equal(traj.labels, np.repeat(np.arange(5), [5, 5, 5, 7, 7]))
    with pytest.raises(ConfigError, match=r"batch 1 gives state 'input' width 7 but the first "
                                           r"batch gave 5; sequences of different lengths need "
                                           r"per_token=True"):
        capture(model, [b[0] for b in batches], layers=["a"])


@pytest.mark.parametrize(("X", "kwargs", "needle"), [
    ([torch.zeros(2, 3, dtype=torch.long)], {"labels": [0, 1]},
     r"labels= with an iterable of batches: give each batch as \(inputs, labels\)"),
    ({"input_ids": torch.zeros(2, 3, dtype=torch.long)}, {"attention_mask": np.ones((2, 3))},
     "attention_mask= is for a tensor X"),
    ((x for x in [torch.zeros(2, 3, dtype=torch.long), "text"]), {},
     "batch 1 is a str; expected a tensor, a mapping of keyword inputs or a pair"),
    ({"attention_mask": torch.ones(2, 3)}, {}, r"hold no tensor to use as the input state"),
    (iter([]), {}, "X holds no batch; expected at least one sample"),
    (torch.zeros(2, 3, dtype=torch.long), {"progress": "yes"},
     r"progress='yes': expected True, False or None"),
    (torch.zeros(2, 3, dtype=torch.long), {"max_memory": -1},
     r"max_memory=-1: expected an int >= 0"),
    (torch.zeros(2, 3, dtype=torch.long), {"labels": np.arange(3)},
     r"labels have shape \(3,\); expected \(2,\)"),
    (torch.zeros(2, 3, dtype=torch.long), {"layers": "a"}, "expected a list of layer names"),
    (torch.zeros(2, 3, dtype=torch.long), {"layers": [1.5]},
     r"1.5 is a float; expected a submodule name, a glob or an int index"),
])
def test_input_errors_name_the_input(X: object, kwargs: dict, needle: str) -> None:
    with pytest.raises(LayerflowError, match=needle):
        capture(Seq(), X, **kwargs)


def test_a_mask_for_a_model_without_one_needs_per_token() -> None:
    model = nn.Sequential(nn.Embedding(9, 4), nn.Linear(4, 2))
    with pytest.raises(ConfigError, match=r"needs per_token=True \(Sequential.forward takes no "
                                           r"attention_mask\)"):
        capture(model, _ids(), attention_mask=np.ones((10, 5)))


def test_progress_is_shown_when_asked(capsys: pytest.CaptureFixture[str]) -> None:
    capture(Seq(), _ids(), batch_size=2, progress=True, layers=["a"])
    assert "capture" in capsys.readouterr().err
    capture(Seq(), _ids(), batch_size=2, layers=["a"])  # not a terminal: nothing
    assert capsys.readouterr().err == ""
    ds = lf.load_dataset("moons", n=200, seed=0)
    model = lf.build_model(lf.ModelSpec("mlp", width=4, depth=1), in_dim=2, n_classes=2, seed=0)
    res = lf.train(model, ds, lf.TrainConfig(steps=5, seed=0), progress=True)
    assert "train" in capsys.readouterr().err
    assert res.environment["threads"] == torch.get_num_threads()
    assert res.environment["torch"] == torch.__version__ and res.environment["device"] == "cpu"


def test_reproducible_sets_threads_and_determinism_then_restores() -> None:
    before = torch.get_num_threads()
    ds = lf.load_dataset("moons", n=200, seed=0)
    runs = []
    for _ in range(2):
        with lf.reproducible(threads=1):
            model = lf.build_model(lf.ModelSpec("mlp", width=4, depth=1), in_dim=2, n_classes=2,
                                   seed=0)
            runs.append(lf.train(model, ds, lf.TrainConfig(steps=20, seed=0)))
    assert runs[0].environment["threads"] == 1 and runs[0].environment["deterministic"] is True
    assert runs[0].ce_history == runs[1].ce_history  # bit for bit
    assert torch.get_num_threads() == before
    assert not torch.are_deterministic_algorithms_enabled()
    with pytest.raises(LayerflowError, match=r"threads=0: expected an int >= 1"):
        with lf.reproducible(threads=0):
            pass


def test_mapped_npz_reads_what_was_written_and_refuses_bad_members(tmp_path: Path) -> None:
    x = np.arange(24, dtype=np.float32).reshape(6, 4)
    p = write_stored_npz(tmp_path / "a.npz", [("x", x.dtype, x.shape, lambda: [x[:4], x[4:]])])
    arrays = map_npz(p)
    assert arrays is not None
    np.testing.assert_array_equal(arrays["x"], x)
    assert arrays["x"].ctypes.data % 64 == 0 and not arrays["x"].flags.writeable
    release(arrays["x"][2:])  # pages given back; the data read again from disk
    np.testing.assert_array_equal(arrays["x"], x)
    with pytest.raises(LayerflowError, match=r"member 'x': 32 bytes written but shape \(6, 4\)"):
        write_stored_npz(tmp_path / "b.npz", [("x", x.dtype, x.shape, lambda: [x[:2]])])
    np.savez_compressed(tmp_path / "c.npz", x=x)
    assert map_npz(tmp_path / "c.npz") is None  # compressed: read, not mapped
    np.savez(tmp_path / "d.npz", x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(DataError, match="would need pickle to read"):
        Trajectory.load(tmp_path / "d.npz", mmap=True)
    (tmp_path / "e.npz").write_bytes(b"not a zip")
    with pytest.raises(ConfigError, match=r"is not a readable \.npz archive"):
        map_npz(tmp_path / "e.npz", ConfigError)


def test_a_mapped_trajectory_checks_its_states_in_blocks(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    big = rng.normal(size=(300_000, 64)).astype(np.float32)  # 73 MiB: more than one block
    big[123_456, 7] = np.nan
    p = write_stored_npz(tmp_path / "nan.npz", [
        ("state_0", big.dtype, big.shape, lambda: [big[:150_000], big[150_000:]])])
    with pytest.raises(ConfigError, match=r"state 0 \('input'\) has NaN values in 1 of "
                                              r"300000 rows \(first bad row: 123456\)"):
        Trajectory.load(p, mmap=True)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc (Linux)")
def test_release_gives_back_the_pages_of_a_mapped_block(tmp_path: Path) -> None:
    def resident_file_kib() -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("RssFile:"):
                return int(line.split()[1])
        raise AssertionError("no RssFile line")  # pragma: no cover

    x = np.ones((20_000, 1024), dtype=np.float32)  # 78 MiB
    p = write_stored_npz(tmp_path / "big.npz", [("x", x.dtype, x.shape, lambda x=x: [x])])
    del x
    arrays = map_npz(p)
    assert arrays is not None
    a = arrays["x"]
    before = resident_file_kib()
    assert float(a.sum()) == 20_000 * 1024  # every page touched
    touched = resident_file_kib()
    release(a)
    after = resident_file_kib()
    assert touched - before > 60_000 and touched - after > 60_000  # KiB
