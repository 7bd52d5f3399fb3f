"""Fuzzing the IDX and npz readers (issue 8): mutated valid files must either load or raise the
reader's own error, never anything else. Slow set: ``pytest tests/fuzz --runslow -s`` prints how
many examples ran.

A small smoke version of each fuzzer runs in the default set.
"""

from __future__ import annotations

import gzip
import io
import struct
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from layerflow import Trajectory
from layerflow._errors import ConfigError, DataError
from layerflow.data import load_dataset, read_idx, read_npz

CODES = {0x08: "B", 0x09: "b", 0x0B: "h", 0x0C: "i", 0x0D: "f", 0x0E: "d"}
SIZES = {"B": 1, "b": 1, "h": 2, "i": 4, "f": 4, "d": 8}


@st.composite
def valid_idx(draw: st.DrawFn) -> bytes:
    code = draw(st.sampled_from(sorted(CODES)))
    shape = draw(st.lists(st.integers(0, 5), min_size=1, max_size=4))
    count = int(np.prod(shape))
    payload = draw(st.binary(min_size=count * SIZES[CODES[code]], max_size=count * SIZES[CODES[code]]))
    return bytes([0, 0, code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape) + payload


@st.composite
def mutate(draw: st.DrawFn, blob: bytes) -> bytes:
    """Flip, overwrite, insert, delete, truncate or extend; several times."""
    data = bytearray(blob)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate", "extend", "dim"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete" and data:
            del data[pos: pos + draw(st.integers(1, 8))]
        elif op == "truncate":
            del data[pos:]
        elif op == "extend":
            data += draw(st.binary(min_size=1, max_size=16))
        elif op == "dim" and len(data) >= 8:  # a huge or odd dimension size
            k = 4 + 4 * draw(st.integers(0, max((len(data) - 8) // 4, 0)))
            data[k: k + 4] = struct.pack(">I", draw(st.sampled_from([0, 1, 2**31, 2**32 - 1, 10**6])))
    return bytes(data)


def fuzz_idx_case(blob: bytes, gz: bool, gz_after: bool) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "f.idx"
        data = gzip.compress(blob, mtime=0) if gz else blob
        if gz_after:  # mutate the compressed stream itself
            data = data[: len(data) // 2] + bytes([data[len(data) // 2] ^ 0x55]) + data[len(data) // 2 + 1:] if data else data
        p.write_bytes(data)
        try:
            arr = read_idx(p, max_bytes=1 << 20)
        except DataError:
            return
        assert isinstance(arr, np.ndarray) and arr.dtype.isnative


def run_idx_fuzz(examples: int) -> int:
    counter = [0]

    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(blob=valid_idx().flatmap(mutate), gz=st.booleans(), gz_after=st.booleans())
    def inner(blob: bytes, gz: bool, gz_after: bool) -> None:
        counter[0] += 1
        fuzz_idx_case(blob, gz, gz_after and gz)

    inner()
    return counter[0]


def npz_blob(kind: int, rng_seed: int, compressed: bool) -> bytes:
    rng = np.random.default_rng(rng_seed)
    buf = io.BytesIO()
    save: Callable[..., None] = np.savez_compressed if compressed else np.savez
    if kind == 0:  # a dataset archive
        save(buf, X=rng.normal(size=(6, 3)), y=np.arange(6) % 2)
    elif kind == 1:  # with a test split and string labels
        save(buf, X=rng.normal(size=(6, 2)), y=np.array(list("ababab")),
             X_test=rng.normal(size=(2, 2)), y_test=np.array(list("ab")))
    else:  # a trajectory archive
        t = Trajectory([rng.normal(size=(4, 3)), rng.normal(size=(4, 3))], labels=np.arange(4),
                       metadata={"model": "mlp"})
        with tempfile.TemporaryDirectory() as d:
            return t.save(Path(d) / "t.npz").read_bytes()
    return buf.getvalue()


def fuzz_npz_case(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "f.npz"
        p.write_bytes(data)
        for call, errors in (
            (lambda: read_npz(p, max_bytes=1 << 20), (DataError,)),
            (lambda: load_dataset(f"npz:{p}", max_bytes=1 << 20), (ConfigError, DataError)),
            (lambda: Trajectory.load(p, max_bytes=1 << 20), (ConfigError, DataError)),
        ):
            try:
                call()
            except errors:
                pass


def run_npz_fuzz(examples: int) -> int:
    counter = [0]

    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(
        blob=st.tuples(st.integers(0, 2), st.integers(0, 3), st.booleans())
        .map(lambda a: npz_blob(*a))
        .flatmap(mutate)
    )
    def inner(blob: bytes) -> None:
        counter[0] += 1
        fuzz_npz_case(blob)

    inner()
    return counter[0]


def test_idx_fuzz_smoke() -> None:
    assert run_idx_fuzz(100) >= 100


def test_npz_fuzz_smoke() -> None:
    assert run_npz_fuzz(60) >= 60


@pytest.mark.slow
def test_idx_fuzz_long() -> None:
    n = run_idx_fuzz(20_000)
    print(f"\nIDX fuzz: {n} examples, no crash")
    assert n >= 20_000


@pytest.mark.slow
def test_npz_fuzz_long() -> None:
    n = run_npz_fuzz(5_000)
    print(f"\nnpz fuzz: {n} examples, no crash")
    assert n >= 5_000
