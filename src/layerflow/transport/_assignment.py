"""Exact optimal assignment between two equal-size point clouds (the discrete W2 problem).

With uniform weights and equal N, the optimal transport plan between two empirical measures is a
permutation (Birkhoff–von Neumann), so W2 and the OT score reduce to the linear assignment problem

.. math::  \\min_{\\sigma \\in S_N} \\frac1N \\sum_i \\lVert x_i - y_{\\sigma(i)} \\rVert^2 .

Two exact solvers are available (a registry, chosen by name):

* ``"scipy"``: :func:`scipy.optimize.linear_sum_assignment` (shortest augmenting paths). Very fast
  when most points' nearest partner is already distinct (consecutive layers), slow on scrambled
  clouds.
* ``"pot"``: POT's network simplex :func:`ot.emd`. Fast on scrambled clouds. Its default iteration
  cap stops early at N ≈ 2000 with only a warning; here the cap is large, the result code is
  checked, the cap is raised tenfold up to twice, and an unconverged plan is never returned
  (:class:`NotComputableError`).
* ``"auto"`` (default) picks ``"scipy"`` when at least half the rows have distinct nearest
  columns, else ``"pot"``. Both are exact, so the choice changes the time, not the optimum.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import numpy as np
from scipy.optimize import linear_sum_assignment

from layerflow._errors import ConfigError, NotComputableError
from layerflow.transport._common import check_memory


@dataclass(frozen=True)
class Assignment:
    """An optimal pairing ``x_i -> y_{perm[i]}``.

    Attributes
    ----------
    perm
        Shape ``(N,)``: the optimal partner in ``Y`` of each row of ``X``.
    cost
        ``mean_i ‖x_i − y_perm(i)‖²`` (= W2² of the two empirical measures), recomputed from the
        points in float64 (not read off the BLAS cost matrix).
    own_cost
        ``mean_i ‖x_i − y_i‖²``, the cost of the identity pairing (the network's own map).
    solver
        The solver that produced ``perm`` (``"scipy"``, ``"pot"`` or ``"identity"``).
    """

    perm: np.ndarray
    cost: float
    own_cost: float
    solver: str


def sq_distances(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances ``‖x_i − y_j‖²``, shape ``(N, M)``, float64, via BLAS.

    Each cloud is centred on its own mean first. This changes every cost by a row term plus a
    column term (``‖(x−a) − (y−b)‖² = ‖x − y‖² − 2x·(a−b) + 2y·(a−b) + ‖a−b‖²``), which leaves
    the optimal assignment unchanged, and it removes most of the cancellation in
    ``‖x‖² + ‖y‖² − 2x·y``. Use the matrix to *find* an assignment; costs are recomputed
    directly from the points.
    """
    Xc = np.asarray(X, dtype=np.float64)
    Yc = np.asarray(Y, dtype=np.float64)
    Xc = Xc - Xc.mean(axis=0)
    Yc = Yc - Yc.mean(axis=0)
    C = Xc @ Yc.T
    C *= -2.0
    C += np.einsum("ij,ij->i", Xc, Xc)[:, None]
    C += np.einsum("ij,ij->i", Yc, Yc)[None, :]
    np.maximum(C, 0.0, out=C)
    return cast(np.ndarray, C)


def _solve_scipy(C: np.ndarray, max_iter: int | None) -> np.ndarray:
    _, cols = linear_sum_assignment(C)
    return np.asarray(cols, dtype=np.intp)


def _solve_pot(C: np.ndarray, max_iter: int | None) -> np.ndarray:
    import ot

    n = C.shape[0]
    a = np.full(n, 1.0 / n)
    cap = int(max_iter) if max_iter is not None else max(100_000, 20 * n * n)
    codes = []
    for _ in range(3):
        with warnings.catch_warnings():
            # POT warns "numItermax reached before optimality"; we read its result code instead
            warnings.simplefilter("ignore", UserWarning)
            G, log = ot.emd(a, a, C, numItermax=cap, log=True)
        codes.append((cap, int(log["result_code"]), log["warning"]))
        if int(log["result_code"]) == 1 and log["warning"] is None:
            break
        cap *= 10
    else:
        detail = "; ".join(f"cap {c}: result code {r} ({w})" for c, r, w in codes)
        raise NotComputableError(
            f"POT's network simplex did not reach the optimum on the {n}×{n} assignment after "
            f"{len(codes)} attempts ({detail}); an unconverged plan is never returned as exact. "
            "Use solver='scipy' (always exact) or a larger max_iter"
        )
    G = np.asarray(G)
    perm = np.argmax(G, axis=1)
    is_perm = np.unique(perm).size == n and np.allclose(G[np.arange(n), perm] * n, 1.0)
    if not is_perm:  # pragma: no cover - a vertex of the Birkhoff polytope is a permutation
        return _solve_scipy(C, None)
    return np.asarray(perm, dtype=np.intp)


SOLVERS: dict[str, Callable[[np.ndarray, int | None], np.ndarray]] = {
    "scipy": _solve_scipy,
    "pot": _solve_pot,
}


def _choose(C: np.ndarray) -> str:
    distinct = np.unique(np.argmin(C, axis=1)).size / C.shape[0]
    return "scipy" if distinct >= 0.5 else "pot"


def _mean_sq(X: np.ndarray, Y: np.ndarray) -> float:
    d = X - Y
    return float(np.einsum("ij,ij->i", d, d).mean())


def exact_assignment(
    X: np.ndarray,
    Y: np.ndarray,
    *,
    solver: str = "auto",
    max_iter: int | None = None,
    max_bytes: int | None = None,
    what: str = "exact optimal assignment",
) -> Assignment:
    """Optimal pairing of the rows of ``X`` (N, d) with the rows of ``Y`` (N, d), cost ``‖x − y‖²``.

    Ties with the network's own pairing are broken in its favour: if the identity pairing costs
    no more than the solver's optimum (as recomputed in float64), the identity is returned.

    Raises
    ------
    ConfigError
        Shapes differ, an unknown solver, or squared distances overflow float64.
    BudgetError
        The N×N matrices would not fit in memory (see ``max_bytes``).
    NotComputableError
        The POT solver did not converge even with a raised cap.
    """
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    if X.ndim != 2 or X.shape != Y.shape:
        raise ConfigError(
            f"{what}: X has shape {X.shape} and Y has shape {Y.shape}; expected equal shapes (N, d)"
        )
    if solver != "auto" and solver not in SOLVERS:
        raise ConfigError(
            f"unknown solver {solver!r}; expected 'auto' or one of {sorted(SOLVERS)}"
        )
    n = X.shape[0]
    check_memory(n, 3, what, max_bytes)
    with np.errstate(over="ignore", invalid="ignore"):
        own = _mean_sq(X, Y)
        C = sq_distances(X, Y) if n > 1 else np.zeros((1, 1))
    if not (np.isfinite(own) and np.isfinite(C).all()):
        big = max(float(np.abs(X).max()), float(np.abs(Y).max()))
        raise ConfigError(
            f"{what}: squared distances overflow float64 (states reach |x| = {big:.3g}); "
            "rescale the states"
        )
    if n == 1:
        return Assignment(np.zeros(1, dtype=np.intp), own, own, "identity")
    name = _choose(C) if solver == "auto" else solver
    perm = SOLVERS[name](C, max_iter)
    cost = _mean_sq(X, Y[perm])
    if own <= cost:
        return Assignment(np.arange(n, dtype=np.intp), own, own, name)
    return Assignment(perm, cost, own, name)
