"""CIFAR-10 and CIFAR-100 read from their binary distributions, never unpickled.

The archives ``cifar-10-binary.tar.gz`` and ``cifar-100-binary.tar.gz`` (Krizhevsky 2009,
https://www.cs.toronto.edu/~kriz/cifar.html) hold fixed-size records::

    CIFAR-10   <1 byte label 0…9> <3072 bytes image>              files cifar-10-batches-bin/
               data_batch_1.bin … data_batch_5.bin (train), test_batch.bin (test)
    CIFAR-100  <1 byte coarse label 0…19> <1 byte fine label 0…99> <3072 bytes image>
               files cifar-100-binary/train.bin, cifar-100-binary/test.bin

An image is 1024 red, then 1024 green, then 1024 blue bytes, each plane 32×32 row-major: the
flattening of a ``(3, 32, 32)`` array, the layout PyTorch's convolutions take.

Reading is safe by construction: the archive is streamed, only the members named above are
read (each must be a regular file whose size is a whole number of records), into memory; nothing
is extracted to disk, so no member name or link can reach outside the cache. Any other member is
ignored; a missing, repeated or malformed expected member is an error.
"""

from __future__ import annotations

import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from layerflow._errors import ConfigError, DataError

IMAGE_BYTES = 3 * 32 * 32
#: cap on one member's size (the real ones are 30.7 MB and 150.1 MB)
MAX_MEMBER_BYTES = 1 << 28


@dataclass(frozen=True)
class CifarLayout:
    """Where a CIFAR archive keeps its splits and how its records are laid out."""

    archive: str
    train: tuple[str, ...]
    test: tuple[str, ...]
    label_bytes: int  # bytes before the image in each record
    label_index: int  # which of them is the label used
    n_classes: int

    @property
    def record(self) -> int:
        return self.label_bytes + IMAGE_BYTES


CIFAR_LAYOUTS: dict[str, CifarLayout] = {
    "cifar10": CifarLayout(
        "cifar-10-binary.tar.gz",
        tuple(f"cifar-10-batches-bin/data_batch_{i}.bin" for i in range(1, 6)),
        ("cifar-10-batches-bin/test_batch.bin",), 1, 0, 10),
    "cifar100": CifarLayout(
        "cifar-100-binary.tar.gz", ("cifar-100-binary/train.bin",),
        ("cifar-100-binary/test.bin",), 2, 1, 100),
}


def _records(blob: bytes, layout: CifarLayout, where: str) -> tuple[np.ndarray, np.ndarray]:
    rec = layout.record
    if len(blob) == 0 or len(blob) % rec:
        raise DataError(f"{where}: {len(blob)} bytes is not a whole number of {rec}-byte "
                           "records (label byte(s) + 3072 image bytes)")
    arr = np.frombuffer(blob, dtype=np.uint8).reshape(-1, rec)
    labels = arr[:, layout.label_index].astype(np.int64)
    if labels.max() >= layout.n_classes:
        raise DataError(f"{where}: label {int(labels.max())} found; expected 0 … "
                           f"{layout.n_classes - 1}")
    return arr[:, layout.label_bytes:], labels


def read_cifar_archive(path: str | Path, kind: str, max_member_bytes: int = MAX_MEMBER_BYTES,
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(X_train, y_train, X_test, y_test)`` of a CIFAR binary archive: images as uint8 of
    shape ``(n, 3072)`` (channel-major ``(3, 32, 32)`` flattened), labels int64.

    ``kind`` is ``"cifar10"`` or ``"cifar100"`` (fine labels). Raises :class:`DataError` for
    an archive that is not gzip/tar, a missing, repeated or non-regular expected member, a member
    whose size is not a whole number of records or above ``max_member_bytes`` (default
    :data:`MAX_MEMBER_BYTES`), or a label out of range.
    """
    if kind not in CIFAR_LAYOUTS:
        raise ConfigError(f"CIFAR kind {kind!r}; expected one of {sorted(CIFAR_LAYOUTS)}")
    layout = CIFAR_LAYOUTS[kind]
    wanted = set(layout.train) | set(layout.test)
    blobs: dict[str, bytes] = {}
    where = f"CIFAR archive {str(path)!r}"
    try:
        with tarfile.open(path, mode="r|gz") as tar:  # a stream: members in archive order
            for member in tar:
                if member.name not in wanted:
                    continue  # readme, label names, anything else: never read or written
                if member.name in blobs:
                    raise DataError(f"{where}: member {member.name!r} appears twice")
                if not member.isreg():
                    raise DataError(f"{where}: member {member.name!r} is not a regular file "
                                       "(a link or device); refused")
                if member.size > max_member_bytes:
                    raise DataError(f"{where}: member {member.name!r} declares "
                                       f"{member.size} bytes; more than any CIFAR file")
                fh = tar.extractfile(member)
                data = fh.read(member.size) if fh is not None else b""
                if len(data) != member.size:
                    raise DataError(f"{where}: member {member.name!r} is truncated "
                                       f"({len(data)} of {member.size} bytes)")
                blobs[member.name] = data
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise DataError(f"{where} cannot be read as a gzipped tar archive ({exc})") from exc
    missing = sorted(wanted - set(blobs))
    if missing:
        raise DataError(f"{where} lacks {', '.join(map(repr, missing))}; expected the "
                           f"members of {layout.archive}")

    def split(names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        parts = [_records(blobs[n], layout, f"{where}, member {n!r}") for n in names]
        return (np.concatenate([p[0] for p in parts]),
                np.concatenate([p[1] for p in parts]))

    X_tr, y_tr = split(layout.train)
    X_te, y_te = split(layout.test)
    return X_tr, y_tr, X_te, y_te
