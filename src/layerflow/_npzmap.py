"""Uncompressed ``.npz`` archives written in chunks and read back as memory maps.

A corpus of states larger than memory (200,000 tokens × 13 states × 768 floats is 7.4 GiB) is
written member by member without ever holding a state (:func:`write_stored_npz`), and read back
with every stored member mapped read-only (:func:`map_npz`), so only the rows a computation
touches are read. :func:`release` gives back the pages of a mapped block once it is processed,
so a pass over all rows keeps the resident memory of one block.

The archives are ordinary ``.npz`` files (``numpy.load`` reads them). Members are never
unpickled: object dtypes are refused. Each member's data starts at a 64-byte boundary of the
file (the ``.npy`` header is padded with spaces to get there), so mapped arrays are aligned.
"""

from __future__ import annotations

import ast
import mmap
import os
import struct
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

from layerflow._atomic import atomic_path
from layerflow._errors import ConfigError, DataError, LayerflowError

_ALIGN = 64
_ALLOWED_KINDS = set("biufcSU")

#: one member: (name without .npy, dtype, shape, a callable yielding the data in C order as
#: arrays of that dtype whose sizes add up to the shape's)
Member = tuple[str, np.dtype, tuple[int, ...], Callable[[], Iterable[np.ndarray]]]


def _npy_header(dtype: np.dtype, shape: tuple[int, ...], data_at: int) -> bytes:
    """A version-1.0 ``.npy`` header whose data begins at an ``_ALIGN`` boundary of the file
    when the header starts at byte ``data_at`` of it."""
    d = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False,
         "shape": tuple(int(s) for s in shape)}
    text = repr(d).encode("latin1")
    base = 10 + len(text) + 1  # magic (6) + version (2) + length (2) + dict + "\n"
    pad = (-(data_at + base)) % _ALIGN
    text += b" " * pad + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text


def write_stored_npz(path: str | os.PathLike[str], members: Iterable[Member]) -> Path:
    """Write an uncompressed ``.npz`` at ``path`` (atomically), one member at a time.

    Each member's data come from its callable in chunks, so a member larger than memory is
    written without holding it. Raises :class:`LayerflowError` when the chunks do not add up to
    the declared shape.
    """
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh, \
            zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, dtype, shape, chunks in members:
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            # local header: 30 bytes + name + the zip64 extra field (20 bytes) forced below
            start = fh.tell() + 30 + len(info.filename.encode("utf-8")) + 20
            expected = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
            written = 0
            with zf.open(info, "w", force_zip64=True) as w:
                w.write(_npy_header(np.dtype(dtype), shape, start))
                for chunk in chunks():
                    arr = np.ascontiguousarray(chunk, dtype=dtype)
                    w.write(arr.data.cast("B"))
                    written += arr.nbytes
            if written != expected:
                raise ConfigError(f"member {name!r}: {written} bytes written but shape "
                                     f"{tuple(shape)} of {dtype} needs {expected}")
    return path


def _data_start(fh: object, info: zipfile.ZipInfo) -> int:
    fh.seek(info.header_offset)  # type: ignore[attr-defined]
    local = fh.read(30)  # type: ignore[attr-defined]
    if len(local) != 30 or local[:4] != b"PK\x03\x04":
        raise ValueError(f"member {info.filename!r}: bad local file header")
    n_name, n_extra = struct.unpack("<HH", local[26:30])
    return int(info.header_offset + 30 + n_name + n_extra)


def map_npz(path: str | os.PathLike[str],
            error: type[LayerflowError] = DataError) -> dict[str, np.ndarray] | None:
    """Every member of the ``.npz`` at ``path`` as a read-only array mapped from the file, or
    ``None`` when a member is compressed (read those with
    :func:`layerflow.data._npzsafe.read_npz`). Object dtypes, sizes that disagree with the file
    and malformed headers raise ``error``."""
    path = Path(path)
    size = path.stat().st_size
    out: dict[str, np.ndarray] = {}
    try:
        with open(path, "rb") as fh, zipfile.ZipFile(fh) as zf:
            infos = zf.infolist()
            if any(i.compress_type != zipfile.ZIP_STORED for i in infos):
                return None
            if size == 0:
                return {}
            mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
            for info in infos:
                key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
                start = _data_start(fh, info)
                fh.seek(start)
                version = np.lib.format.read_magic(fh)
                if version not in ((1, 0), (2, 0)):
                    raise error(f"{str(path)!r}: array {key!r} has .npy version {version}")
                hlen_fmt = "<H" if version == (1, 0) else "<I"
                hlen = struct.unpack(hlen_fmt, fh.read(struct.calcsize(hlen_fmt)))[0]
                header = ast.literal_eval(fh.read(hlen).decode("latin1"))
                dtype = np.dtype(np.lib.format.descr_to_dtype(header["descr"]))
                if dtype.hasobject or dtype.kind not in _ALLOWED_KINDS:
                    raise error(f"{str(path)!r}: array {key!r} has dtype {dtype}, which would "
                                "need pickle to read; layerflow refuses pickled data")
                if header.get("fortran_order"):
                    raise error(f"{str(path)!r}: array {key!r} is in Fortran order; expected C")
                shape = tuple(int(s) for s in header["shape"])
                offset = fh.tell()
                nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
                if offset - start + nbytes != info.file_size or offset + nbytes > size:
                    raise error(f"{str(path)!r}: array {key!r} declares shape {shape} of {dtype} "
                                f"({nbytes} bytes) but the member holds "
                                f"{info.file_size - (offset - start)}")
                count = int(np.prod(shape, dtype=np.int64))
                arr = np.frombuffer(mm, dtype=dtype, count=count, offset=offset).reshape(shape)
                out[key] = arr
    except LayerflowError:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, SyntaxError, KeyError, struct.error,
            TypeError) as exc:
        raise error(f"{str(path)!r} is not a readable .npz archive: {exc}") from exc
    return out


def _mapping(arr: np.ndarray) -> mmap.mmap | None:
    base: object = arr
    while isinstance(base, np.ndarray | memoryview):
        base = base.base if isinstance(base, np.ndarray) else base.obj
    return base if isinstance(base, mmap.mmap) else None


def release(arr: np.ndarray) -> None:
    """Give back the resident pages of ``arr`` when it is a contiguous part of a mapped file
    (:func:`map_npz`); the data stay on disk and are read again when touched. No-op otherwise."""
    mm = _mapping(arr)
    if mm is None or arr.size == 0 or not arr.flags.c_contiguous:
        return
    base = np.frombuffer(mm, dtype=np.uint8).ctypes.data
    start = arr.ctypes.data - base
    page = mmap.PAGESIZE
    lo = (start // page) * page
    hi = start + arr.nbytes
    if hasattr(mm, "madvise") and hasattr(mmap, "MADV_DONTNEED"):
        mm.madvise(mmap.MADV_DONTNEED, lo, min(hi, len(mm)) - lo)


def row_blocks(n: int, rows: int) -> Iterator[slice]:
    """``slice(i, i + rows)`` over ``range(n)``."""
    for i in range(0, n, max(1, rows)):
        yield slice(i, min(n, i + rows))
