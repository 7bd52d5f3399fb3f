"""A user's own data (``npz:``, ``csv:``) and the safe ``.npz`` reader, including hostile archives:
a pickled payload that would create a file is refused by ``npz:`` and by ``Trajectory.load``."""

from __future__ import annotations

import io
import json
import pathlib
import re
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from layerflow import Trajectory
from layerflow._errors import ConfigError, DataError
from layerflow.data import load_dataset, read_npz


# ---------------------------------------------------------------------------------- npz
def test_npz_with_split_given(tmp_path: Path, rng: np.random.Generator) -> None:
    X, y = rng.normal(size=(30, 4)), np.repeat([3, 7], 15)
    Xt, yt = rng.normal(size=(10, 4)), np.repeat([3, 7], 5)
    p = tmp_path / "d.npz"
    np.savez(p, X=X, y=y, X_test=Xt, y_test=yt)
    ds = load_dataset(f"npz:{p}")
    np.testing.assert_allclose(ds.X_train, X.astype(np.float32))
    np.testing.assert_array_equal(ds.y_train, (y == 7).astype(int))
    np.testing.assert_allclose(ds.X_test, Xt.astype(np.float32))
    np.testing.assert_array_equal(ds.y_test, (yt == 7).astype(int))
    assert ds.info["labels"] == [3, 7]
    assert ds.name == f"npz:{p}"


def test_npz_split_drawn_and_string_labels(tmp_path: Path, rng: np.random.Generator) -> None:
    X = rng.normal(size=(40, 2, 3))  # flattened to 6 features
    y = np.array(["cat", "dog"] * 20)
    p = tmp_path / "d.npz"
    np.savez_compressed(p, X=X, y=y)
    ds = load_dataset(f"npz:{p}", test_fraction=0.5, seed=1)
    assert ds.X_train.shape == (20, 6) and ds.X_test.shape == (20, 6)
    assert ds.info["labels"] == ["cat", "dog"]
    # every row comes back with its own label
    flat = X.reshape(40, 6)
    for row, lab in zip(ds.X_train, ds.y_train, strict=True):
        dist = np.linalg.norm(flat - row, axis=1)
        assert dist.min() < 1e-5
        assert y[dist.argmin()] == ["cat", "dog"][lab]
    again = load_dataset(f"npz:{p}", test_fraction=0.5, seed=1)
    np.testing.assert_array_equal(ds.X_train, again.X_train)


def test_npz_integral_float_labels(tmp_path: Path) -> None:
    p = tmp_path / "d.npz"
    np.savez(p, X=np.arange(8.0)[:, None], y=np.array([0.0, 1.0] * 4))
    assert load_dataset(f"npz:{p}").n_classes == 2


@pytest.mark.parametrize(
    ("arrays", "pattern"),
    [
        ({"X": np.zeros((4, 2))}, r"no array 'y'; found \['X'\]"),
        ({"X": np.zeros((4, 2)), "y": np.arange(4), "X_test": np.zeros((2, 2))},
         "X_test and y_test must come together"),
        ({"X": np.zeros((4, 2)), "y": np.arange(5) % 2}, "X has 4 rows but y has 5"),
        ({"X": np.zeros((4, 2)), "y": np.arange(4) % 2, "X_test": np.zeros((2, 3)),
          "y_test": np.arange(2)}, "X_test has 3 features but X has 2"),
        ({"X": np.zeros((4, 2)), "y": np.arange(4) % 2, "X_test": np.zeros((2, 2)),
          "y_test": np.arange(3) % 2}, "X_test has 2 rows but y_test has 3"),
        ({"X": np.array([[0.0], [np.nan], [1], [2]]), "y": np.arange(4) % 2},
         r"NaN or infinite values \(first bad row: 1\)"),
        ({"X": np.array(["a", "b"]), "y": np.arange(2)}, "dtype <U1; expected a real numeric"),
        ({"X": np.float64(1.0), "y": np.arange(2)}, "is a scalar"),
        ({"X": np.zeros((4, 2)), "y": np.zeros(4)}, r"1 distinct value\(s\) \[0.0\]"),
        ({"X": np.zeros((4, 2)), "y": np.array([0, 1, 0.5, 1])}, "non-integral"),
        ({"X": np.zeros((4, 2)), "y": np.zeros((4, 1))}, r"labels have shape \(4, 1\)"),
        ({"X": np.zeros((4, 2)), "y": np.array([1j, 2j, 1j, 2j])}, "labels have dtype complex128"),
        ({"X": np.zeros((4, 2)), "y": np.arange(4) % 2, "X_test": np.zeros((2, 2)),
          "y_test": np.array(["a", "b"])}, "cannot be compared"),
    ],
)
def test_npz_bad_contents(tmp_path: Path, arrays: dict[str, np.ndarray], pattern: str) -> None:
    p = tmp_path / "bad.npz"
    np.savez(p, **arrays)  # type: ignore[arg-type]
    with pytest.raises(DataError, match=pattern):
        load_dataset(f"npz:{p}")


def test_npz_path_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_dataset(f"npz:{tmp_path / 'missing.npz'}")
    with pytest.raises(ConfigError, match="needs more"):
        load_dataset("npz")
    with pytest.raises(ConfigError, match="no path"):
        load_dataset("npz:")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(DataError, match=r"not a readable \.npz file: BadZipFile"):
        load_dataset(f"npz:{tmp_path / 'text.npz'}")
    big = tmp_path / "big.npz"
    np.savez(big, X=np.zeros((10, 10)), y=np.arange(10) % 2)
    with pytest.raises(DataError, match="above max_bytes=100"):
        load_dataset(f"npz:{big}", max_bytes=100)


# ---------------------------------------------------------------- pickle payloads (issue 8)
class Payload:
    """Unpickling this object calls ``Path(marker).touch()``: it creates a file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def pickled_npz(path: Path, marker: Path, key: str, extra: dict[str, np.ndarray]) -> Path:
    obj = np.empty(2, dtype=object)
    obj[0] = Payload(marker)
    obj[1] = Payload(marker)
    np.savez(path, **{key: obj}, **extra)  # type: ignore[arg-type]
    return path


def test_the_payload_really_creates_a_file(tmp_path: Path) -> None:
    """Control: with pickle allowed, the archive does run code."""
    marker = tmp_path / "control-pwned"
    p = pickled_npz(tmp_path / "evil.npz", marker, "X", {"y": np.arange(2)})
    assert not marker.exists()
    with np.load(p, allow_pickle=True) as npz:
        npz["X"]
    assert marker.exists()


def test_npz_dataset_refuses_pickle_and_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    p = pickled_npz(tmp_path / "evil.npz", marker, "X", {"y": np.arange(2)})
    with pytest.raises(DataError, match=r"object array .* refuses pickled data"):
        load_dataset(f"npz:{p}")
    assert not marker.exists()
    q = pickled_npz(tmp_path / "evil2.npz", marker, "y", {"X": np.zeros((2, 2))})
    with pytest.raises(DataError, match="'y' is an object array"):
        load_dataset(f"npz:{q}")
    assert not marker.exists()


@pytest.mark.parametrize("key", ["state_0", "labels", "layer_names", "header"])
def test_trajectory_load_refuses_pickle_and_runs_nothing(tmp_path: Path, key: str) -> None:
    marker = tmp_path / "pwned"
    extra = {"state_0": np.zeros((2, 3)), "state_1": np.ones((2, 3))}
    extra.pop(key, None)
    p = pickled_npz(tmp_path / "evil.npz", marker, key, extra)
    with pytest.raises(DataError, match=f"'{key}' is an object array"):
        Trajectory.load(p)
    assert not marker.exists()


# ------------------------------------------------------- crafted .npy headers (allocation)
def npy_bytes(header: dict[str, object], data: bytes) -> bytes:
    text = repr(header).encode("latin1")
    pad = 64 - (10 + len(text) + 1) % 64
    hdr = text + b" " * pad + b"\n"
    return b"\x93NUMPY\x01\x00" + len(hdr).to_bytes(2, "little") + hdr + data


def zip_with(path: Path, members: dict[str, bytes], method: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", compression=method) as zf:
        for name, blob in members.items():
            zf.writestr(name, blob)
    return path


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_npy_header_declaring_1e12_elements_is_refused_without_allocating(
    tmp_path: Path, method: int
) -> None:
    huge = npy_bytes({"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6)}, b"\0" * 64)
    p = zip_with(tmp_path / "huge.npz", {"state_0.npy": huge, "X.npy": huge,
                                         "y.npy": npy_bytes({"descr": "<i8", "fortran_order": False,
                                                             "shape": (1,)}, b"\0" * 8)}, method)
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(DataError, match=r"declares shape \(1000000, 1000000\)"):
            Trajectory.load(p, max_bytes=None)
        with pytest.raises(DataError, match=r"declares shape \(1000000, 1000000\)"):
            load_dataset(f"npz:{p}", max_bytes=None)
        elapsed = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * 2**20, f"peak allocation {peak} bytes"
    assert elapsed < 1.0


def test_zip_directory_claiming_impossible_expansion(tmp_path: Path) -> None:
    """A member whose directory entry claims 10 GB from a few bytes is refused from the directory."""
    p = zip_with(tmp_path / "z.npz", {"X.npy": npy_bytes(
        {"descr": "<f8", "fortran_order": False, "shape": (2,)}, b"\0" * 16)})
    blob = bytearray(p.read_bytes())
    # patch the uncompressed size in the central directory (offset 24 of the 'PK\1\2' record)
    cd = blob.rfind(b"PK\x01\x02")
    blob[cd + 24: cd + 28] = (10**9 * 4).to_bytes(4, "little")
    p.write_bytes(bytes(blob))
    with pytest.raises(DataError, match="impossible for deflate"):
        read_npz(p, max_bytes=None)
    with pytest.raises(DataError, match="above the limit max_bytes=1000"):
        read_npz(p, max_bytes=1000)


def test_member_shorter_than_its_directory_entry_is_truncated(tmp_path: Path) -> None:
    """A deflated member whose zip directory claims more bytes than the stream inflates to (the
    CRC still matches the real data): the header and the claim agree, the data comes up short."""
    body = npy_bytes({"descr": "<f8", "fortran_order": False, "shape": (20,)},
                     np.arange(10, dtype="<f8").tobytes())  # declares 20 values, holds 10
    header_len = len(body) - 80
    p = zip_with(tmp_path / "short.npz", {"X.npy": body}, zipfile.ZIP_DEFLATED)
    blob = bytearray(p.read_bytes())
    claim = (header_len + 160).to_bytes(4, "little")
    lh, cd = blob.find(b"PK\x03\x04"), blob.rfind(b"PK\x01\x02")
    blob[lh + 22: lh + 26] = claim  # uncompressed size, local header
    blob[cd + 24: cd + 28] = claim  # uncompressed size, central directory
    p.write_bytes(bytes(blob))
    with pytest.raises(DataError, match=r"array 'X': truncated data \(80 of 160 bytes\)"):
        read_npz(p)


def test_read_npz_missing_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.npz"
    with pytest.raises(DataError, match=f"^{re.escape(repr(str(missing)))} does not exist$"):
        read_npz(missing)
    with pytest.raises(DataError, match="does not exist"):
        read_npz(tmp_path)  # a folder is not a file


def test_labels_that_cannot_be_compared_across_splits(tmp_path: Path) -> None:
    """Non-ASCII byte labels in the training split and text labels in the test split: NumPy
    cannot decode the bytes to compare them (UnicodeDecodeError), and the error names both."""
    p = tmp_path / "mixed.npz"
    np.savez(p, X=np.zeros((4, 2)), y=np.array([b"\xff", b"a", b"\xff", b"a"]),
             X_test=np.zeros((2, 2)), y_test=np.array(["a", "b"]))
    with pytest.raises(DataError, match=r"labels of the splits cannot be compared \(\|S1 and "
                       r"<U1\): 'ascii' codec can't decode byte 0xff"):
        load_dataset(f"npz:{p}")


@pytest.mark.parametrize(
    ("members", "pattern"),
    [
        ({"X.npy": npy_bytes({"descr": "<f8", "fortran_order": False, "shape": (4,)}, b"\0" * 16)},
         r"declares shape \(4,\) of float64 \(32 bytes\) but the member holds 16"),
        ({"X.npy": npy_bytes({"descr": "<f8", "fortran_order": False, "shape": (1,)}, b"\0" * 16)},
         "member holds 16 data bytes"),
        ({"X.npy": b"\x93NUMPY\x03\x00" + b"\0" * 60}, r"format version \(3, 0\)"),
        ({"X.npy": b"not an array"}, "not a readable .npz file"),
        ({"notes.txt": b"hello"}, "'notes.txt' is not a .npy array"),
        ({"X.npy": npy_bytes({"descr": "|V8", "fortran_order": False, "shape": (1,)}, b"\0" * 8)},
         "object array"),
    ],
)
def test_malformed_members(tmp_path: Path, members: dict[str, bytes], pattern: str) -> None:
    p = zip_with(tmp_path / "m.npz", members)
    with pytest.raises(DataError, match=pattern):
        read_npz(p)


def test_read_npz_round_trip_of_numpy_savez(tmp_path: Path, rng: np.random.Generator) -> None:
    arrays = {
        "f": rng.normal(size=(3, 4)),
        "fortran": np.asfortranarray(rng.normal(size=(3, 5)).astype(np.float32)),
        "i": rng.integers(-5, 5, (7,)).astype(np.int16),
        "b": rng.random(6) > 0.5,
        "u": np.array(["alpha", "b"]),
        "scalar": np.array(3.5),
        "empty": np.zeros((0, 3)),
        "c": rng.normal(size=3) + 1j,
    }
    for save in (np.savez, np.savez_compressed):
        buf = io.BytesIO()
        save(buf, **arrays)  # type: ignore[operator]
        p = tmp_path / "r.npz"
        p.write_bytes(buf.getvalue())
        out = read_npz(p)
        assert set(out) == set(arrays)
        for k, v in arrays.items():
            assert out[k].dtype == v.dtype and out[k].shape == v.shape
            np.testing.assert_array_equal(out[k], v)


# ---------------------------------------------------------------------------------- csv
def test_csv_with_header_and_label_column(tmp_path: Path) -> None:
    p = tmp_path / "d.csv"
    rows = ["a,label,b"] + [f"{i},{'yes' if i % 2 else 'no'},{i * 10}" for i in range(12)]
    p.write_text("\n".join(rows) + "\n")
    ds = load_dataset(f"csv:{p}", test_fraction=0.25, seed=0)
    assert ds.n_features == 2 and ds.info["labels"] == ["no", "yes"]
    X = np.concatenate([ds.X_train, ds.X_test])
    y = np.concatenate([ds.y_train, ds.y_test])
    np.testing.assert_allclose(X[:, 1], X[:, 0] * 10)
    np.testing.assert_array_equal(y, X[:, 0].astype(int) % 2)  # "yes" (1) iff i odd
    assert ds.info["label_column"] == "label"


def test_csv_without_header_label_last(tmp_path: Path) -> None:
    p = tmp_path / "d.csv"
    p.write_text("".join(f"{i}.5,{-i},{i % 3}\n" for i in range(30)))
    ds = load_dataset(f"csv:{p}")
    assert ds.n_features == 2 and ds.n_classes == 3 and ds.info["labels"] == [0, 1, 2]
    X = np.concatenate([ds.X_train, ds.X_test])
    y = np.concatenate([ds.y_train, ds.y_test])
    np.testing.assert_array_equal(y, np.floor(X[:, 0]).astype(int) % 3)


def test_csv_header_without_label_column_uses_last(tmp_path: Path) -> None:
    p = tmp_path / "d.csv"
    p.write_text("x,y,target\n" + "".join(f"{i},{i},{i % 2}.0\n" for i in range(8)))
    ds = load_dataset(f"csv:{p}")
    assert ds.info["label_column"] == "target" and ds.info["labels"] == [0, 1]


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("", "the file is empty"),
        ("label\n1\n2\n", r"1 column\(s\)"),
        ("a,label\n1,0\n", r"1 data row\(s\)"),
        ("a,b,label\n1,x,0\n2,3,1\n", "feature column 'b' is not numeric"),
        ("a,label\n1,0\n,1\n3,1\n", r"feature column 'a' is not numeric"),
        ("a,label\n1,0\nnan,1\n3,1\n", r"NaN or infinite values \(first bad row: 1\)"),
        ("a,label\n1,0\n2,0\n", "1 distinct value"),
        ("a,b\n1,2,3\n4,5\n", "line 2 has 3 fields, the first row has 2"),
    ],
)
def test_csv_bad_files(tmp_path: Path, text: str, pattern: str) -> None:
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(DataError, match=pattern):
        load_dataset(f"csv:{p}")


def test_csv_not_utf8_and_missing(tmp_path: Path) -> None:
    p = tmp_path / "bin.csv"
    p.write_bytes(b"\xff\xfe\x00a,b\n\x80\x81,1\n")
    with pytest.raises(DataError, match="not a readable CSV file"):
        load_dataset(f"csv:{p}")
    with pytest.raises(DataError, match="does not exist"):
        load_dataset(f"csv:{tmp_path / 'none.csv'}")
    with pytest.raises(ConfigError, match="no path"):
        load_dataset("csv:")


def test_trajectory_header_must_be_json(tmp_path: Path) -> None:
    p = tmp_path / "t.npz"
    np.savez(p, state_0=np.zeros((2, 2)), header=np.array("{not json"))
    with pytest.raises(DataError, match="header is not valid JSON"):
        Trajectory.load(p)
    for bad in ({"metadata": ["ab"]}, ["ab"], {"metadata": 3}):
        np.savez(p, state_0=np.zeros((2, 2)), header=np.array(json.dumps(bad)))
        with pytest.raises(DataError, match="header is not valid JSON of the form"):
            Trajectory.load(p)
