"""Reading ``.npz`` archives without pickle and without unbounded allocation.

``numpy.load(allow_pickle=False)`` already refuses object arrays, but it allocates whatever a
member's ``.npy`` header declares before reading the data, so a 200-byte archive can ask for
terabytes. :func:`read_npz` parses every member itself: it checks the zip directory (declared
uncompressed sizes against ``max_bytes`` and against the deflate expansion bound), then each
``.npy`` header (dtype without objects, shape, and that the declared data size equals what the
member holds) before it allocates, then reads the data in bounded chunks.
"""

from __future__ import annotations

import os
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

from layerflow._errors import DataError

#: default cap on the total uncompressed size of an archive (4 GiB)
DEFAULT_MAX_BYTES = 1 << 32
_MAX_DEFLATE_RATIO = 1100
_CHUNK = 1 << 20
_ALLOWED_KINDS = set("biufcSUMm")


_READ_ERRORS: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    RuntimeError,  # encrypted members
    NotImplementedError,  # unsupported compression methods
    struct.error,
    ValueError,
    KeyError,
    UnicodeDecodeError,
    OverflowError,
    SyntaxError,  # malformed header literals
    TypeError,
)


def _read_member(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, where: str, error: type[ValueError]
) -> np.ndarray:
    key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
    label = f"{where}: array {key!r}"
    with zf.open(info) as fh:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
        else:
            raise error(f"{label}: .npy format version {version} is not supported (1.0 or 2.0)")
        if dtype.hasobject or dtype.kind not in _ALLOWED_KINDS:
            raise error(
                f"{label} is an object array (dtype {dtype}), which would need pickle to read; "
                "layerflow refuses pickled data"
            )
        count = 1
        for d in shape:
            count *= int(d)
        nbytes = count * dtype.itemsize
        header_len = fh.tell()
        available = info.file_size - header_len
        if nbytes != available:
            raise error(
                f"{label}: header declares shape {tuple(shape)} of {dtype} ({nbytes} bytes) but the "
                f"member holds {available} data bytes"
            )
        # nbytes equals the member's declared size, which the zip directory checks bounded by
        # max_bytes and the deflate ratio, so this allocation is bounded by the real file
        buf = np.empty(nbytes, dtype=np.uint8)
        pos = 0
        while pos < nbytes:
            chunk = fh.read(min(_CHUNK, nbytes - pos))
            if not chunk:
                break
            buf[pos : pos + len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
            pos += len(chunk)
        if pos != nbytes:
            raise error(f"{label}: truncated data ({pos} of {nbytes} bytes)")
    arr = buf.view(dtype) if dtype.itemsize else np.empty(count, dtype=dtype)
    return arr.reshape(shape, order="F" if fortran else "C")


def read_npz(
    path: str | os.PathLike[str],
    *,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    error: type[ValueError] = DataError,
) -> dict[str, np.ndarray]:
    """All arrays of an ``.npz`` archive as a dict ``name -> array``, read safely.

    Never unpickles: object arrays are refused. Raises ``error`` (default :class:`DataError`;
    callers pass their own ValueError subclass) naming the file and the member for: a missing or
    non-zip file, members that are not ``.npy``, an archive whose declared uncompressed size
    exceeds ``max_bytes`` or what its compressed size can hold, headers whose shape disagrees with
    the data, corrupt or truncated data.
    """
    p = Path(path)
    where = f"{str(p)!r}"
    if not p.is_file():
        raise error(f"{where} does not exist")
    try:
        with zipfile.ZipFile(p) as zf:
            infos = zf.infolist()
            total = sum(i.file_size for i in infos)
            if max_bytes is not None and total > max_bytes:
                raise error(
                    f"{where}: members declare {total} uncompressed bytes, above the limit "
                    f"max_bytes={max_bytes}"
                )
            for i in infos:
                if i.file_size > _MAX_DEFLATE_RATIO * i.compress_size + 1024:
                    raise error(
                        f"{where}: member {i.filename!r} declares {i.file_size} bytes from "
                        f"{i.compress_size} compressed bytes; impossible for deflate, refusing"
                    )
                if not i.filename.endswith(".npy"):
                    raise error(
                        f"{where}: member {i.filename!r} is not a .npy array; not an .npz archive"
                    )
            out: dict[str, np.ndarray] = {}
            for i in infos:
                out[i.filename[:-4]] = _read_member(zf, i, where, error)
            return out
    except error:
        raise
    except _READ_ERRORS as exc:
        raise error(f"{where} is not a readable .npz file: {type(exc).__name__}: {exc}") from exc
