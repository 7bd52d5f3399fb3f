"""IDX files (the MNIST / Fashion-MNIST format), read defensively.

Layout (all big-endian)::

    bytes 0-1   0x00 0x00
    byte  2     type code: 0x08 ubyte, 0x09 byte, 0x0B short, 0x0C int, 0x0D float, 0x0E double
    byte  3     number of dimensions D (1 … MAX_DIMS)
    4·D bytes   the sizes d_1 … d_D as unsigned 32-bit ints
    payload     d_1·…·d_D items of the type, row-major

:func:`read_idx` checks the whole header and the declared payload size against the file size
(plain files) or against a deflate expansion bound (``.gz``) and ``max_bytes`` *before* it
allocates anything of that size; a ``.gz`` file is decompressed in bounded chunks and never past
``declared size + 1`` bytes, so a gzip bomb costs at most that. Trailing bytes after the payload are
an error, as is a short payload. Every error is a :class:`DataError` naming the file, the field and
the value.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from layerflow._errors import DataError

#: type code -> big-endian NumPy dtype
IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODE_OF_KIND: dict[tuple[str, int], int] = {(dt.kind, dt.itemsize): code for code, dt in IDX_TYPES.items()}

#: IDX allows up to 255 dimensions; no real file has more than a handful.
MAX_DIMS = 16
#: default cap on the payload size (1 GiB; MNIST's training images are 47 MB)
DEFAULT_MAX_BYTES = 1 << 30
#: deflate cannot expand data more than ~1032:1; a .gz claiming more is lying
_MAX_DEFLATE_RATIO = 1100
_CHUNK = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"


def _decompress_errors() -> tuple[type[BaseException], ...]:
    return (OSError, EOFError, zlib.error, gzip.BadGzipFile, ValueError)


class _Reader:
    """Bounded reads from a plain or gzipped file."""

    def __init__(self, path: Path, gz: bool) -> None:
        self.path = path
        self.raw = open(path, "rb")  # closed in close()
        self.gz: gzip.GzipFile | None = gzip.GzipFile(fileobj=self.raw, mode="rb") if gz else None

    def read(self, size: int) -> bytearray:
        """At most ``size`` bytes, read in chunks of at most 1 MiB (memory grows with real data)."""
        buf = bytearray()
        src = self.gz if self.gz is not None else self.raw
        try:
            while len(buf) < size:
                chunk = src.read(min(size - len(buf), _CHUNK))
                if not chunk:
                    break
                buf += chunk
        except _decompress_errors() as exc:
            raise DataError(f"IDX file {str(self.path)!r}: corrupt gzip data ({exc})") from exc
        return buf

    def close(self) -> None:
        if self.gz is not None:
            self.gz.close()
        self.raw.close()


def read_idx(path: str | os.PathLike[str], max_bytes: int | None = DEFAULT_MAX_BYTES) -> np.ndarray:
    """Read one IDX file (plain or gzip, detected by content) into a native-endian array.

    Parameters
    ----------
    path
        The file. gzip is recognised by its magic bytes ``1f 8b``, whatever the name.
    max_bytes
        Refuse files whose header declares a payload larger than this (``None``: no cap beyond
        the file-size checks).

    Returns
    -------
    numpy.ndarray
        Shape ``(d_1, …, d_D)``, dtype uint8, int8, int16, int32, float32 or float64.

    Raises
    ------
    DataError
        Missing file, bad magic, unknown type code, zero or too many dimensions, declared size
        above ``max_bytes`` or impossible for the file's size, truncated payload, trailing bytes,
        corrupt gzip stream.
    """
    p = Path(path)
    where = f"IDX file {str(p)!r}"
    if not p.is_file():
        raise DataError(f"{where} is missing or not a regular file")
    try:
        file_size = p.stat().st_size
        with open(p, "rb") as fh:
            gz = fh.read(2) == _GZIP_MAGIC
        reader = _Reader(p, gz)
    except OSError as exc:
        raise DataError(f"{where} cannot be opened: {exc}") from exc
    try:
        head = reader.read(4)
        if len(head) < 4:
            raise DataError(f"{where}: header is {len(head)} bytes; an IDX header needs at least 4")
        if head[:2] != b"\x00\x00":
            raise DataError(
                f"{where}: magic number 0x{head.hex()} does not start with 0x0000; not an IDX file"
            )
        code, ndim = head[2], head[3]
        if code not in IDX_TYPES:
            known = ", ".join(f"0x{c:02X}" for c in IDX_TYPES)
            raise DataError(f"{where}: type code 0x{code:02X} is unknown; expected one of {known}")
        if not 1 <= ndim <= MAX_DIMS:
            raise DataError(
                f"{where}: number of dimensions {ndim}; expected 1 … {MAX_DIMS}"
            )
        dim_bytes = reader.read(4 * ndim)
        if len(dim_bytes) < 4 * ndim:
            raise DataError(
                f"{where}: header declares {ndim} dimensions ({4 * ndim} bytes of sizes) but the "
                f"file ends after {4 + len(dim_bytes)} bytes (truncated header)"
            )
        shape = struct.unpack(f">{ndim}I", dim_bytes)
        dtype = IDX_TYPES[code]
        count = 1
        for d in shape:
            count *= d  # Python ints: no overflow
        payload = count * dtype.itemsize
        header_size = 4 + 4 * ndim
        desc = f"dimensions {list(shape)} of type 0x{code:02X} ({payload} payload bytes)"
        nominal = dtype.itemsize
        for d in shape:
            nominal *= max(d, 1)
        if nominal >= 2**62:  # found by fuzzing: (256, 2**31, 0, 2**24) is empty yet NumPy refuses the shape
            raise DataError(
                f"{where}: {desc}: the non-zero sizes multiply to more than NumPy can index"
            )
        if max_bytes is not None and payload > max_bytes:
            raise DataError(f"{where}: {desc} exceed the limit max_bytes={max_bytes}")
        if not gz:
            if header_size + payload > file_size:
                raise DataError(
                    f"{where}: {desc} need {header_size + payload} bytes but the file has "
                    f"{file_size} (truncated payload)"
                )
            if header_size + payload < file_size:
                raise DataError(
                    f"{where}: {desc} need {header_size + payload} bytes but the file has "
                    f"{file_size} ({file_size - header_size - payload} trailing bytes; oversized)"
                )
        elif header_size + payload > _MAX_DEFLATE_RATIO * max(file_size, 1) + 1024:
            raise DataError(
                f"{where}: {desc} cannot come from a {file_size}-byte gzip file (deflate expands "
                f"at most ~1032:1); refusing"
            )
        data = reader.read(payload + 1)  # one byte more than declared reveals trailing data
        if len(data) < payload:
            raise DataError(
                f"{where}: {desc} but only {len(data)} payload bytes follow the header "
                "(truncated payload)"
            )
        if len(data) > payload:
            raise DataError(
                f"{where}: {desc} but more bytes follow the payload (trailing data; oversized)"
            )
    finally:
        reader.close()
    arr = np.frombuffer(data, dtype=dtype, count=count).reshape(shape)  # writable: a bytearray
    if not dtype.isnative:
        arr = arr.byteswap(inplace=True).view(dtype.newbyteorder("="))
    return arr


def write_idx(path: str | os.PathLike[str], array: np.ndarray, compress: bool | None = None) -> Path:
    """Write ``array`` as an IDX file (gzip if ``compress`` or the name ends in ``.gz``).

    The dtype must be one of uint8, int8, int16, int32, float32, float64; 1 to ``MAX_DIMS``
    dimensions, each below 2³².
    """
    arr = np.asarray(array)
    key = (arr.dtype.kind, arr.dtype.itemsize)
    if key not in _CODE_OF_KIND:
        raise DataError(
            f"write_idx: dtype {arr.dtype} has no IDX type code; expected uint8, int8, int16, "
            "int32, float32 or float64"
        )
    if not 1 <= arr.ndim <= MAX_DIMS or any(d >= 2**32 for d in arr.shape):
        raise DataError(f"write_idx: shape {arr.shape}; expected 1 … {MAX_DIMS} dimensions < 2**32")
    code = _CODE_OF_KIND[key]
    blob = (
        bytes([0, 0, code, arr.ndim])
        + struct.pack(f">{arr.ndim}I", *arr.shape)
        + np.ascontiguousarray(arr, dtype=IDX_TYPES[code]).tobytes()
    )
    p = Path(path)
    if compress is None:
        compress = p.suffix == ".gz"
    p.write_bytes(gzip.compress(blob, mtime=0) if compress else blob)
    return p
