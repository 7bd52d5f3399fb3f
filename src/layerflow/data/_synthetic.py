"""Synthetic binary classification sets, seeded and written from scratch.

Every generator has the signature ``gen(n, noise, rng) -> (X, y)``: ``X`` float64 of shape
``(n, d)`` (d = 2 for the planar sets, 3 for the others), ``y`` int64 of shape ``(n,)`` with
``n // 2`` samples of class 0 and ``n - n // 2`` of class 1, and ``noise`` the standard deviation
of isotropic Gaussian jitter added to every coordinate (in the units of the clean shape, whose
extent is of order 1). :func:`load_synthetic` turns one into a :class:`Dataset`: stratified seeded
train/test split, then an isotropic standardisation with the training statistics (centre on the
training mean, divide by one scalar, the training RMS per-feature spread) so every set has a
comparable scale and its geometry (angles, ratios of distances) is unchanged.

The three 3-D sets ``entangled_spirals``, ``blobs_in_cube`` and ``sinusoidal_sheets`` follow the
descriptions of the synthetic data in Baptista et al. 2024, *Deep learning as Ricci flow*; they are
re-creations from the text, not the authors' files.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from layerflow.data._dataset import Dataset
from layerflow.data._split import (
    check_n,
    check_noise,
    check_seed,
    check_test_fraction,
    make_dataset,
)

Generator = Callable[[int, float, np.random.Generator], tuple[np.ndarray, np.ndarray]]


def _counts(n: int) -> tuple[int, int]:
    return n // 2, n - n // 2


def _labels(n: int) -> np.ndarray:
    n0, n1 = _counts(n)
    return np.concatenate([np.zeros(n0, dtype=np.int64), np.ones(n1, dtype=np.int64)])


def _jitter(X: np.ndarray, noise: float, rng: np.random.Generator) -> np.ndarray:
    return X + noise * rng.standard_normal(X.shape) if noise > 0 else X


def _unit_sphere(m: int, rng: np.random.Generator) -> np.ndarray:
    """``m`` points uniform on the unit sphere S² (normalised Gaussians), shape ``(m, 3)``."""
    v = rng.standard_normal((m, 3))
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return v / norms


def moons(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles in 2-D, shape ``(n, 2)``.

    Class 0: ``(cos t, sin t)``, class 1: ``(1 − cos t, 0.5 − sin t)``, ``t ~ U[0, π]``.
    """
    n0, n1 = _counts(n)
    t0 = rng.uniform(0.0, np.pi, n0)
    t1 = rng.uniform(0.0, np.pi, n1)
    X = np.concatenate(
        [np.c_[np.cos(t0), np.sin(t0)], np.c_[1.0 - np.cos(t1), 0.5 - np.sin(t1)]]
    )
    return _jitter(X, noise, rng), _labels(n)


def circles(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two concentric circles in 2-D, shape ``(n, 2)``: class 0 radius 1, class 1 radius 0.5."""
    n0, n1 = _counts(n)
    t = rng.uniform(0.0, 2 * np.pi, n)
    r = np.concatenate([np.ones(n0), np.full(n1, 0.5)])
    X = r[:, None] * np.c_[np.cos(t), np.sin(t)]
    return _jitter(X, noise, rng), _labels(n)


def spirals(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved planar spirals (1.5 turns each), shape ``(n, 2)``.

    Class 0: ``r(θ) (cos θ, sin θ)`` with ``θ = π/2 + 3π·sqrt(u)``, ``u ~ U[0, 1]`` (uniform
    along the arc), ``r = θ / (3.5π)``; class 1 is class 0 rotated by π.
    """
    n0, _ = _counts(n)
    theta = np.pi / 2 + 3 * np.pi * np.sqrt(rng.uniform(0.0, 1.0, n))
    r = theta / (3.5 * np.pi)
    X = r[:, None] * np.c_[np.cos(theta), np.sin(theta)]
    X[n0:] *= -1.0
    return _jitter(X, noise, rng), _labels(n)


def swiss_roll(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A swiss roll in 3-D, shape ``(n, 3)``, cut into two classes along the roll.

    ``t ~ U[1.5π, 4.5π]``, point ``(t cos t, h, t sin t) / (4.5π)`` with height ``h ~ U[0, 2π]``;
    class 0 is the inner half ``t < 3π``, class 1 the outer half.
    """
    n0, n1 = _counts(n)
    t = np.concatenate([rng.uniform(1.5 * np.pi, 3 * np.pi, n0), rng.uniform(3 * np.pi, 4.5 * np.pi, n1)])
    h = rng.uniform(0.0, 2 * np.pi, n)
    X = np.c_[t * np.cos(t), h, t * np.sin(t)] / (4.5 * np.pi)
    return _jitter(X, noise, rng), _labels(n)


def nested_spheres(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two concentric spherical shells in 3-D, shape ``(n, 3)``: class 0 radius 0.5, class 1 radius 1."""
    n0, n1 = _counts(n)
    r = np.concatenate([np.full(n0, 0.5), np.ones(n1)])
    X = r[:, None] * _unit_sphere(n, rng)
    return _jitter(X, noise, rng), _labels(n)


def entangled_spirals(
    n: int, noise: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Two entangled 3-D spirals (a double helix), shape ``(n, 3)``.

    ``s ~ U[0, 1]``, angle ``θ = 4π s`` (two turns), point ``(cos(θ + φ), sin(θ + φ), 2s − 1)`` with
    phase ``φ = 0`` for class 0 and ``φ = π`` for class 1: the two strands wind around each other
    and no plane separates them.
    """
    n0, n1 = _counts(n)
    s = rng.uniform(0.0, 1.0, n)
    phase = np.concatenate([np.zeros(n0), np.full(n1, np.pi)])
    theta = 4 * np.pi * s + phase
    X = np.c_[np.cos(theta), np.sin(theta), 2 * s - 1]
    return _jitter(X, noise, rng), _labels(n)


_BLOB_CENTRES = np.array([[-0.5, -0.5, -0.5], [0.5, 0.5, 0.5]])
_BLOB_SIGMA = 0.12
_BLOB_RADIUS = 0.3  # blob points are kept within this distance of their centre
_BLOB_MARGIN = 0.45  # class-0 (cube) points are kept farther than this from both centres


def blobs_in_cube(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two Gaussian blobs inside a cube of uniform points of the other class, shape ``(n, 3)``.

    Class 0: uniform in ``[−1, 1]³`` outside balls of radius 0.45 around the blob centres
    ``±(0.5, 0.5, 0.5)``. Class 1: half the points around each centre, Gaussian with σ = 0.12
    truncated at radius 0.3. Without noise the classes are separated by a margin of 0.15, so the
    task is learnable; it is not linearly separable (class 1 sits in two pockets of class 0).
    """
    n0, n1 = _counts(n)
    cube = np.empty((0, 3))
    while cube.shape[0] < n0:  # rejection sampling; the accepted fraction is ~0.9
        cand = rng.uniform(-1.0, 1.0, (2 * (n0 - cube.shape[0]) + 8, 3))
        d = np.linalg.norm(cand[:, None, :] - _BLOB_CENTRES[None], axis=2).min(axis=1)
        cube = np.concatenate([cube, cand[d > _BLOB_MARGIN]])
    cube = cube[:n0]
    which = np.arange(n1) % 2
    blob = np.empty((0, 3))
    while blob.shape[0] < n1:
        m = n1 - blob.shape[0]
        cand = _BLOB_SIGMA * rng.standard_normal((2 * m + 8, 3))
        blob = np.concatenate([blob, cand[np.linalg.norm(cand, axis=1) < _BLOB_RADIUS]])
    blob = blob[:n1] + _BLOB_CENTRES[which]
    X = np.concatenate([cube, blob])
    return _jitter(X, noise, rng), _labels(n)


def sinusoidal_sheets(
    n: int, noise: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Four interleaved sinusoidal sheets in 3-D, alternating classes, shape ``(n, 3)``.

    ``(x, y) ~ U[−1, 1]²`` and ``z = 0.3 sin(π x) + 0.5 (j − 1.5)`` on sheet ``j = 0…3``; sheets 0
    and 2 are class 0, sheets 1 and 3 class 1 (each class split evenly over its two sheets). The
    sheets are parallel (vertical gap 0.5, at least 0.36 apart along the normal), so no plane
    separates the classes.
    """
    n0, n1 = _counts(n)
    sheet = np.concatenate([2 * (np.arange(n0) % 2), 2 * (np.arange(n1) % 2) + 1])
    xy = rng.uniform(-1.0, 1.0, (n, 2))
    z = 0.3 * np.sin(np.pi * xy[:, 0]) + 0.5 * (sheet - 1.5)
    X = np.c_[xy, z]
    return _jitter(X, noise, rng), _labels(n)


#: name -> (generator, input dimension, one-line description)
GENERATORS: dict[str, tuple[Generator, int, str]] = {
    "moons": (moons, 2, "two interleaving half circles (2-D)"),
    "circles": (circles, 2, "two concentric circles (2-D)"),
    "spirals": (spirals, 2, "two interleaved spirals (2-D)"),
    "swiss_roll": (swiss_roll, 3, "swiss roll cut into inner/outer halves (3-D)"),
    "nested_spheres": (nested_spheres, 3, "two concentric spherical shells (3-D)"),
    "entangled_spirals": (entangled_spirals, 3, "two entangled spirals, a double helix (3-D, Ricci paper)"),
    "blobs_in_cube": (blobs_in_cube, 3, "two blobs inside a cube of the other class (3-D, Ricci paper)"),
    "sinusoidal_sheets": (sinusoidal_sheets, 3, "four interleaved sinusoidal sheets (3-D, Ricci paper)"),
}


def load_synthetic(
    name: str,
    *,
    n: int = 2000,
    noise: float = 0.05,
    seed: int = 0,
    test_fraction: float = 0.25,
    standardise: bool = True,
) -> Dataset:
    """The synthetic set ``name`` with ``n`` samples in all (train + test).

    The test split holds ``round(test_fraction · n_c)`` samples of each class ``c``. With
    ``standardise=True`` (default) both splits are centred and scaled by one scalar computed on
    the training split (see the module docstring). Same arguments, same arrays.
    """
    gen, _, _ = GENERATORS[name]
    n = check_n(n, name, minimum=4)
    noise = check_noise(noise, name)
    seed = check_seed(seed, name)
    test_fraction = check_test_fraction(test_fraction, name)
    rng = np.random.default_rng(seed)
    X, y = gen(n, noise, rng)
    return make_dataset(
        X, y, name=name, test_fraction=test_fraction, rng=rng, standardise=standardise,
        info={"n": n, "noise": noise, "seed": seed, "test_fraction": test_fraction,
              "standardise": standardise},
    )
