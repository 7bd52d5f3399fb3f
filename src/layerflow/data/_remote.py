"""The papers' data sets fetched once into a cache folder and verified before every use.

MNIST, Fashion-MNIST, CIFAR-10 and CIFAR-100 are downloaded on first use from their official
hosts (or a mirror) into ``CACHE/<set>/``, where ``CACHE`` is, in order:

1. the ``root=`` argument;
2. the environment variable ``LAYERFLOW_DATA``;
3. ``$XDG_CACHE_HOME/layerflow/data`` (``~/.cache/layerflow/data`` when it is unset).

Every file is checked against its published size and SHA-256 (:data:`REMOTE_SETS`) each time it
is used. A download goes to ``FILE.part``; only a complete file whose SHA-256 matches is moved to
its name (``os.replace`` after ``fsync``), so a partial or corrupt transfer never passes as data.
An interrupted transfer is resumed from the bytes already received (an HTTP ``Range`` request;
a server that ignores it restarts the file from byte 0); a file whose checksum does not match is
deleted and refused. Two processes fetching the same file wait on one lock file
(``.FILE.lock``), so they never write the same ``.part``.

The download location is a list of mirrors per set; ``mirror=`` or the environment variable
``LAYERFLOW_MIRROR`` replaces it with one base URL: the file's name is appended to it, and
``{set}`` in it is replaced by the set's name (``mnist``, ``fmnist``, ``cifar10``,
``cifar100``), e.g. ``LAYERFLOW_MIRROR=https://data.example.org/{set}/``.

Offline (or every mirror refused), :class:`FetchOfflineError` names the missing files, their
sizes and SHA-256 and the folder to put them in: files already in that folder are verified and
used without a network.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import http.client
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from layerflow._atomic import _fsync_dir
from layerflow._errors import DataError, FetchChecksumError, FetchOfflineError

#: environment variable naming the cache folder (``root=`` wins over it)
DATA_ENV = "LAYERFLOW_DATA"
#: environment variable naming a mirror base URL (``mirror=`` wins over it)
MIRROR_ENV = "LAYERFLOW_MIRROR"

Progress = Callable[[str, int, int], None]  # (file name, bytes done, bytes total)

_CHUNK = 1 << 16


@dataclass(frozen=True)
class RemoteFile:
    """One published file: its ``name``, size in bytes and SHA-256 (hex, lower case)."""

    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class RemoteSet:
    """A data set's published files, the mirrors that serve them (base URLs, tried in order;
    a file's URL is the base followed by its name) and where the checksums come from."""

    name: str
    title: str
    files: tuple[RemoteFile, ...]
    mirrors: tuple[str, ...]
    checksums_from: str
    homepage: str


# The sizes and SHA-256 below are those tensorflow-datasets publishes for the official URLs:
# tensorflow/datasets, tensorflow_datasets/url_checksums/mnist.txt, fashion_mnist.txt,
# cifar10.txt and cifar100.txt (each line: URL, size in bytes, sha256). The file names and the
# MNIST mirrors are torchvision's (torchvision/datasets/mnist.py, MNIST.mirrors / resources,
# whose md5 values are f68b3c2d…, d53e105e…, 9fb629c4…, ec29112d… for the four MNIST files and
# 8d4fb7e6…, 25c81989…, bef4ecab…, bb300cfd… for Fashion-MNIST's).
REMOTE_SETS: dict[str, RemoteSet] = {
    "mnist": RemoteSet(
        "mnist", "MNIST (LeCun, Cortes & Burges)",
        (
            # tensorflow_datasets/url_checksums/mnist.txt
            RemoteFile("train-images-idx3-ubyte.gz", 9912422,
                       "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
            RemoteFile("train-labels-idx1-ubyte.gz", 28881,
                       "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
            RemoteFile("t10k-images-idx3-ubyte.gz", 1648877,
                       "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
            RemoteFile("t10k-labels-idx1-ubyte.gz", 4542,
                       "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
        ),
        ("https://ossci-datasets.s3.amazonaws.com/mnist/",
         "https://storage.googleapis.com/cvdf-datasets/mnist/",
         "http://yann.lecun.com/exdb/mnist/"),
        "tensorflow-datasets url_checksums/mnist.txt", "http://yann.lecun.com/exdb/mnist/",
    ),
    "fmnist": RemoteSet(
        "fmnist", "Fashion-MNIST (Xiao, Rasul & Vollgraf, Zalando Research)",
        (
            # tensorflow_datasets/url_checksums/fashion_mnist.txt
            RemoteFile("train-images-idx3-ubyte.gz", 26421880,
                       "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"),
            RemoteFile("train-labels-idx1-ubyte.gz", 29515,
                       "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"),
            RemoteFile("t10k-images-idx3-ubyte.gz", 4422102,
                       "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"),
            RemoteFile("t10k-labels-idx1-ubyte.gz", 5148,
                       "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"),
        ),
        ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        "tensorflow-datasets url_checksums/fashion_mnist.txt",
        "https://github.com/zalandoresearch/fashion-mnist",
    ),
    "cifar10": RemoteSet(
        "cifar10", "CIFAR-10, binary version (Krizhevsky 2009)",
        (
            # tensorflow_datasets/url_checksums/cifar10.txt
            RemoteFile("cifar-10-binary.tar.gz", 170052171,
                       "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"),
        ),
        ("https://www.cs.toronto.edu/~kriz/",),
        "tensorflow-datasets url_checksums/cifar10.txt",
        "https://www.cs.toronto.edu/~kriz/cifar.html",
    ),
    "cifar100": RemoteSet(
        "cifar100", "CIFAR-100, binary version (Krizhevsky 2009)",
        (
            # tensorflow_datasets/url_checksums/cifar100.txt
            RemoteFile("cifar-100-binary.tar.gz", 168513733,
                       "58a81ae192c23a4be8b1804d68e518ed807d710a4eb253b1f2a199162a40d8ec"),
        ),
        ("https://www.cs.toronto.edu/~kriz/",),
        "tensorflow-datasets url_checksums/cifar100.txt",
        "https://www.cs.toronto.edu/~kriz/cifar.html",
    ),
}


# ----------------------------------------------------------------------------- locations
def data_home(root: str | os.PathLike[str] | None = None) -> Path:
    """The cache folder: ``root``, else ``$LAYERFLOW_DATA``, else
    ``$XDG_CACHE_HOME/layerflow/data`` (``~/.cache/layerflow/data``)."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "layerflow" / "data"


def _remote(name: str | RemoteSet) -> RemoteSet:
    if isinstance(name, RemoteSet):
        return name
    if name not in REMOTE_SETS:
        raise DataError(f"no remote data set {name!r}; the fetched sets are "
                         f"{', '.join(REMOTE_SETS)}")
    return REMOTE_SETS[name]


def remote_urls(remote: str | RemoteSet, file: str, mirror: str | None = None) -> list[str]:
    """The URLs tried for ``file`` of ``remote``, in order: ``mirror`` (else ``$LAYERFLOW_MIRROR``)
    alone when given, otherwise the set's own mirrors."""
    rs = _remote(remote)
    base = mirror if mirror is not None else os.environ.get(MIRROR_ENV) or None
    bases = [base] if base else list(rs.mirrors)
    out = []
    for b in bases:
        b = b.replace("{set}", rs.name)
        out.append(b + file if b.endswith("/") else f"{b}/{file}")
    return out


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file (hex), read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _check_file(path: Path, rf: RemoteFile) -> str | None:
    """``None`` when ``path`` is ``rf`` (size and SHA-256), else what is wrong with it."""
    if not path.is_file():
        return "missing"
    size = path.stat().st_size
    if size != rf.size:
        return f"{size} bytes, expected {rf.size}"
    digest = file_sha256(path)
    if digest != rf.sha256:
        return f"sha256 {digest}, expected {rf.sha256}"
    return None


def cache_status(remote: str | RemoteSet, root: str | os.PathLike[str] | None = None
                 ) -> dict[str, str]:
    """Per file of ``remote`` in the cache: ``"verified"``, ``"missing"``, ``"partial (N
    bytes)"`` (an interrupted download) or what is wrong with it (size or SHA-256)."""
    rs = _remote(remote)
    folder = data_home(root) / rs.name
    out: dict[str, str] = {}
    for rf in rs.files:
        problem = _check_file(folder / rf.name, rf)
        part = folder / f"{rf.name}.part"
        if problem == "missing" and part.is_file():
            problem = f"partial ({part.stat().st_size} of {rf.size} bytes)"
        out[rf.name] = problem or "verified"
    return out


# ----------------------------------------------------------------------------- fetching
def _describe(rs: RemoteSet, files: list[RemoteFile], folder: Path, mirror: str | None) -> str:
    lines = [f"  {rf.name}  {rf.size} bytes  sha256 {rf.sha256}  ({remote_urls(rs, rf.name, mirror)[0]})"
             for rf in files]
    return (f"put {'this file' if len(files) == 1 else f'these {len(files)} files'} in "
            f"{str(folder)!r} (or choose another folder with root=DIR or ${DATA_ENV}=DIR; files "
            "already there are verified against these checksums and used without a network):\n"
            + "\n".join(lines))


@contextlib.contextmanager
def _locked(folder: Path, file: str) -> Iterator[None]:
    with open(folder / f".{file}.lock", "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class _Interrupted(Exception):
    """A transfer ended before the file's published size."""


def _transfer(url: str, part: Path, rf: RemoteFile, progress: Progress | None,
              timeout: float) -> None:
    """Download ``url`` into ``part``, continuing from its current size when the server honours
    a ``Range`` request (restarting from 0 when it does not). Raises :class:`_Interrupted` when
    the body ends early, :class:`FetchChecksumError` when it runs past the published size."""
    from layerflow._version import __version__

    have = part.stat().st_size if part.is_file() else 0
    if have >= rf.size:  # a complete (or oversized) leftover: start again, verify what comes
        part.unlink()
        have = 0
    headers = {"User-Agent": f"layerflow/{__version__}"}
    if have:
        headers["Range"] = f"bytes={have}-"
    req = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        resumed = bool(have) and resp.status == 206 and str(
            resp.headers.get("Content-Range", "")).startswith(f"bytes {have}-")
        if not resumed:
            have = 0
        done = have
        with open(part, "ab" if resumed else "wb") as fh:
            if progress:
                progress(rf.name, done, rf.size)
            while True:
                try:
                    chunk = resp.read(_CHUNK)
                except (OSError, http.client.HTTPException) as exc:  # reset mid-body
                    fh.flush()
                    raise _Interrupted(f"{url}: the transfer broke after {done} of {rf.size} "
                                       f"bytes ({type(exc).__name__})") from exc
                if not chunk:
                    break
                done += len(chunk)
                if done > rf.size:
                    fh.close()
                    part.unlink()
                    raise FetchChecksumError(
                        f"{url} sent more than the published {rf.size} bytes of {rf.name}; "
                        "refused (nothing was cached)")
                fh.write(chunk)
                if progress:
                    progress(rf.name, done, rf.size)
            fh.flush()
            os.fsync(fh.fileno())
    if done < rf.size:
        raise _Interrupted(f"{url}: the transfer ended after {done} of {rf.size} bytes")


def _download(rs: RemoteSet, rf: RemoteFile, folder: Path, mirror: str | None,
              progress: Progress | None, timeout: float, retries: int) -> str | None:
    """Fetch one file into ``folder`` (verified, atomic). Returns ``None`` on success, else the
    reason it could not be downloaded; raises :class:`FetchChecksumError` for a wrong file."""
    final, part = folder / rf.name, folder / f"{rf.name}.part"
    with _locked(folder, rf.name):
        if _check_file(final, rf) is None:  # another process finished it while we waited
            return None
        reasons: list[str] = []
        mismatches: list[str] = []
        for url in remote_urls(rs, rf.name, mirror):
            for _attempt in range(retries + 1):
                try:
                    _transfer(url, part, rf, progress, timeout)
                except _Interrupted as exc:
                    reasons.append(str(exc))
                    continue  # resume from what arrived
                except FetchChecksumError as exc:
                    mismatches.append(str(exc))
                    break
                except (urllib.error.URLError, OSError, ValueError) as exc:
                    reasons.append(f"{url}: {type(exc).__name__}: {getattr(exc, 'reason', exc)}")
                    break
                problem = _check_file(part, rf)
                if problem is not None:
                    part.unlink()
                    mismatches.append(f"{url}: {problem}")
                    break
                os.replace(part, final)
                _fsync_dir(folder)
                return None
        if mismatches:
            raise FetchChecksumError(
                f"{rs.name}: {rf.name} does not match its published checksum and was deleted "
                f"(nothing was cached): {'; '.join(mismatches)}")
        return "; ".join(reasons[-3:])


def _tty_progress() -> Progress | None:
    """A one-line progress bar on a terminal's stderr (``None`` when stderr is not a terminal)."""
    if not sys.stderr.isatty():
        return None

    def show(name: str, done: int, total: int) -> None:
        frac = done / total if total else 1.0
        bar = "#" * int(30 * frac)
        sys.stderr.write(f"\r{name} [{bar:<30}] {100 * frac:5.1f} % of {total / 1e6:.1f} MB")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


def fetch(
    remote: str | RemoteSet,
    *,
    root: str | os.PathLike[str] | None = None,
    mirror: str | None = None,
    download: bool = True,
    progress: Progress | bool | None = None,
    timeout: float = 60.0,
    retries: int = 3,
) -> Path:
    """Make sure every file of ``remote`` (``"mnist"``, ``"fmnist"``, ``"cifar10"``,
    ``"cifar100"`` or a :class:`RemoteSet`) is in the cache and verified; return its folder.

    Files already in ``data_home(root)/<set>/`` with the published size and SHA-256 are used
    as they are (no network). The others are downloaded (unless ``download=False``) from
    ``mirror`` / ``$LAYERFLOW_MIRROR`` or the set's mirrors, resuming an interrupted transfer up
    to ``retries`` times per mirror. ``progress(file, done, total)`` is called as bytes arrive
    (``None``: a bar on a terminal's stderr, ``False``: silent).

    Raises
    ------
    FetchChecksumError
        A file arrived whose size or SHA-256 is not the published one (it is deleted).
    FetchOfflineError
        Files are missing and could not be downloaded; the message names each file with its
        size and SHA-256 and the folder to put them in.
    """
    rs = _remote(remote)
    folder = data_home(root) / rs.name
    todo: list[tuple[RemoteFile, str]] = []
    for rf in rs.files:
        problem = _check_file(folder / rf.name, rf)
        if problem is not None:
            todo.append((rf, problem))
    if not todo:
        return folder
    if not download:
        raise FetchOfflineError(
            f"{rs.name}: {len(todo)} file(s) not in the cache ("
            + "; ".join(f"{rf.name}: {p}" for rf, p in todo)
            + ") and download=False; " + _describe(rs, [rf for rf, _ in todo], folder, mirror))
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FetchOfflineError(f"{rs.name}: cannot create the cache folder {str(folder)!r} "
                                f"({exc}); " + _describe(rs, [rf for rf, _ in todo], folder,
                                                         mirror)) from exc
    cb: Progress | None
    cb = _tty_progress() if progress is None or progress is True else (progress or None)
    failed: list[tuple[RemoteFile, str]] = []
    for rf, _ in todo:
        why = _download(rs, rf, folder, mirror, cb, timeout, retries)
        if why is not None:
            failed.append((rf, why))
    if failed:
        raise FetchOfflineError(
            f"{rs.name}: could not download {', '.join(rf.name for rf, _ in failed)} ("
            f"{failed[0][1]}); " + _describe(rs, [rf for rf, _ in failed], folder, mirror))
    return folder


def expected_files(remote: str | RemoteSet) -> Mapping[str, RemoteFile]:
    """The published files of ``remote`` by name."""
    return {rf.name: rf for rf in _remote(remote).files}
