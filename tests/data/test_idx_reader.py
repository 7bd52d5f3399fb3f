"""IDX reader: round trips for every type code (plain and gzip) and hostile files (issue 8)."""

from __future__ import annotations

import gzip
import struct
import time
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from layerflow._errors import DataError, LayerflowError
from layerflow.data import read_idx, write_idx

# Independent encoder: struct format characters per type code, element by element.
STRUCT_CHAR = {0x08: "B", 0x09: "b", 0x0B: "h", 0x0C: "i", 0x0D: "f", 0x0E: "d"}
DTYPE = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.int16, 0x0C: np.int32, 0x0D: np.float32,
         0x0E: np.float64}


def idx_bytes(code: int, shape: tuple[int, ...], values: list[float | int]) -> bytes:
    """Encode an IDX file by hand (header + big-endian items via struct)."""
    head = bytes([0, 0, code, len(shape)]) + b"".join(struct.pack(">I", d) for d in shape)
    return head + b"".join(struct.pack(">" + STRUCT_CHAR[code], v) for v in values)


def sample_values(code: int, count: int, rng: np.random.Generator) -> list[float | int]:
    if code in (0x0D, 0x0E):
        return [float(v) for v in rng.normal(0, 1000, count).astype(DTYPE[code])]
    info = np.iinfo(DTYPE[code])
    return [int(v) for v in rng.integers(info.min, int(info.max) + 1, count)]


@pytest.mark.parametrize("code", sorted(STRUCT_CHAR))
@pytest.mark.parametrize("gz", [False, True])
def test_round_trip_every_type_code(tmp_path: Path, rng: np.random.Generator, code: int, gz: bool) -> None:
    shape = (3, 4, 5)
    values = sample_values(code, 60, rng)
    blob = idx_bytes(code, shape, values)
    path = tmp_path / ("f.idx.gz" if gz else "f.idx")
    path.write_bytes(gzip.compress(blob) if gz else blob)
    arr = read_idx(path)
    assert arr.shape == shape
    assert arr.dtype == np.dtype(DTYPE[code])
    assert arr.dtype.isnative
    expected = np.array(values, dtype=DTYPE[code]).reshape(shape)
    np.testing.assert_array_equal(arr, expected)


@pytest.mark.parametrize("code", sorted(STRUCT_CHAR))
def test_write_idx_matches_hand_encoding(tmp_path: Path, rng: np.random.Generator, code: int) -> None:
    values = sample_values(code, 12, rng)
    arr = np.array(values, dtype=DTYPE[code]).reshape(2, 6)
    p = write_idx(tmp_path / "w.idx", arr)
    assert p.read_bytes() == idx_bytes(code, (2, 6), values)
    pz = write_idx(tmp_path / "w.idx.gz", arr)
    assert gzip.decompress(pz.read_bytes()) == idx_bytes(code, (2, 6), values)
    np.testing.assert_array_equal(read_idx(pz), arr)


def test_gzip_detected_by_content_not_name(tmp_path: Path) -> None:
    p = tmp_path / "no-suffix"
    p.write_bytes(gzip.compress(idx_bytes(0x08, (4,), [1, 2, 3, 4])))
    np.testing.assert_array_equal(read_idx(p), [1, 2, 3, 4])


def test_write_idx_refuses_unencodable(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="dtype int64"):
        write_idx(tmp_path / "x", np.zeros(3, dtype=np.int64))
    with pytest.raises(DataError, match=r"shape \(\)"):
        write_idx(tmp_path / "x", np.zeros((), dtype=np.uint8))


def test_empty_dimension_is_a_valid_empty_array(tmp_path: Path) -> None:
    p = tmp_path / "e"
    p.write_bytes(idx_bytes(0x08, (0, 5), []))
    assert read_idx(p).shape == (0, 5)


# ------------------------------------------------------------------------------ hostile files
def write(tmp_path: Path, blob: bytes, name: str = "bad.idx") -> Path:
    p = tmp_path / name
    p.write_bytes(blob)
    return p


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="is missing or not a regular file"):
        read_idx(tmp_path / "nope")


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import layerflow.data._idx as idx_module

    p = write(tmp_path, idx_bytes(0x08, (1,), [1]))

    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(idx_module, "open", denied, raising=False)
    with pytest.raises(DataError, match=r"cannot be opened: .*Permission denied"):
        read_idx(p)


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="is missing or not a regular file"):
        read_idx(tmp_path)


def test_idx_error_is_a_data_error_and_a_value_error() -> None:
    assert issubclass(DataError, LayerflowError) and issubclass(DataError, ValueError)


@pytest.mark.parametrize(
    ("blob", "pattern"),
    [
        (b"", "header is 0 bytes"),
        (b"\x00\x00\x08", "header is 3 bytes"),
        (b"\x01\x00\x08\x01" + struct.pack(">I", 1) + b"\x00", r"magic number 0x01000801"),
        (b"PK\x03\x04" + b"\x00" * 8, r"magic number 0x504b0304"),
        (b"\x00\x00\x0a\x01" + struct.pack(">I", 1) + b"\x00", "type code 0x0A is unknown"),
        (b"\x00\x00\xff\x01" + struct.pack(">I", 1) + b"\x00", "type code 0xFF is unknown"),
        (b"\x00\x00\x08\x00", "number of dimensions 0"),
        (b"\x00\x00\x08\x11" + b"\x00" * 68, "number of dimensions 17"),
        (b"\x00\x00\x08\xff" + b"\x00" * 8, "number of dimensions 255"),
        (b"\x00\x00\x08\x03" + struct.pack(">I", 1), "truncated header"),
        (idx_bytes(0x0B, (10,), list(range(10)))[:-1], "truncated payload"),
        # found by fuzzing: an empty array whose other sizes overflow NumPy's index range
        (b"\x00\x00\x08\x03" + struct.pack(">III", 2**31, 2**31, 0), "more than NumPy can index"),
        (idx_bytes(0x08, (4,), [1, 2, 3, 4]) + b"\x00", "1 trailing bytes; oversized"),
        (idx_bytes(0x08, (4,), [1, 2, 3, 4]) + b"garbage!", "8 trailing bytes"),
    ],
)
@pytest.mark.parametrize("gz", [False, True])
def test_hostile_headers_are_refused(tmp_path: Path, blob: bytes, pattern: str, gz: bool) -> None:
    p = write(tmp_path, gzip.compress(blob) if gz else blob)
    if gz:  # the gzip path reports a short payload / trailing data without the file size
        pattern = {"1 trailing bytes; oversized": "trailing data; oversized",
                   "8 trailing bytes": "trailing data; oversized"}.get(pattern, pattern)
    with pytest.raises(DataError, match=pattern) as info:
        read_idx(p)
    assert str(p) in str(info.value)  # the error names the file


def test_declared_size_above_limit(tmp_path: Path) -> None:
    p = write(tmp_path, idx_bytes(0x0E, (100,), [0.0] * 100))
    with pytest.raises(DataError, match=r"\(800 payload bytes\) exceed the limit max_bytes=799"):
        read_idx(p, max_bytes=799)
    assert read_idx(p, max_bytes=800).shape == (100,)


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("max_bytes", [1 << 30, None])
def test_header_declaring_1e12_elements_is_refused_instantly(
    tmp_path: Path, gz: bool, max_bytes: int | None
) -> None:
    blob = b"\x00\x00\x08\x02" + struct.pack(">II", 10**6, 10**6) + b"\x00" * 16
    p = write(tmp_path, gzip.compress(blob) if gz else blob)
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(DataError, match=r"dimensions \[1000000, 1000000\]"):
            read_idx(p, max_bytes=max_bytes)
        elapsed = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * 2**20, f"peak allocation {peak} bytes"
    assert elapsed < 1.0


def test_gzip_bomb_is_refused_without_decompressing_it(tmp_path: Path) -> None:
    """A 64 MB stream of zeros behind a header declaring 1000 bytes: at most 1001 payload bytes
    are ever decompressed, so the peak allocation stays tiny."""
    blob_head = idx_bytes(0x08, (1000,), [])
    comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    parts = [comp.compress(blob_head)]
    zeros = b"\x00" * (1 << 20)
    for _ in range(64):
        parts.append(comp.compress(zeros))
    parts.append(comp.flush())
    p = write(tmp_path, b"".join(parts), "bomb.gz")
    assert p.stat().st_size < 200_000
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match="trailing data; oversized"):
            read_idx(p)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2**20, f"peak allocation {peak} bytes"


def test_gzip_header_claiming_more_than_deflate_can_hold(tmp_path: Path) -> None:
    blob = b"\x00\x00\x08\x01" + struct.pack(">I", 50_000_000)
    p = write(tmp_path, gzip.compress(blob + b"\x00" * 100), "x.gz")
    with pytest.raises(DataError, match=r"cannot come from a \d+-byte gzip file"):
        read_idx(p)


def test_corrupt_gzip_stream(tmp_path: Path) -> None:
    good = gzip.compress(idx_bytes(0x08, (100,), list(range(100))))
    bad = good[:10] + bytes(b ^ 0xFF for b in good[10:30]) + good[30:]
    p = write(tmp_path, bad, "c.gz")
    with pytest.raises(DataError, match="corrupt gzip data"):
        read_idx(p)


# ------------------------------------------------------------------------- property tests
IDX_DTYPES = st.sampled_from([np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    arr=IDX_DTYPES.flatmap(
        lambda dt: hnp.arrays(dt, hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=6),
                              elements={"allow_nan": False} if np.dtype(dt).kind == "f" else None)
    ),
    gz=st.booleans(),
)
def test_property_valid_arrays_round_trip(tmp_path: Path, arr: np.ndarray, gz: bool) -> None:
    code = {np.dtype(v): k for k, v in DTYPE.items()}[arr.dtype]
    flat = arr.reshape(-1).tolist()
    blob = idx_bytes(code, arr.shape, flat)
    p = write(tmp_path, gzip.compress(blob) if gz else blob, "prop.idx")
    out = read_idx(p)
    assert out.dtype == arr.dtype and out.shape == arr.shape
    np.testing.assert_array_equal(out, arr)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=64), gz=st.booleans(), prefix=st.booleans())
def test_property_random_bytes_never_crash(tmp_path: Path, data: bytes, gz: bool, prefix: bool) -> None:
    """Random bytes (optionally behind a plausible magic) either read or raise DataError."""
    if prefix:
        data = b"\x00\x00" + data
    p = write(tmp_path, gzip.compress(data) if gz else data, "rand.idx")
    try:
        arr = read_idx(p, max_bytes=1 << 20)
    except DataError:
        return
    assert isinstance(arr, np.ndarray)
