"""The nested kNN graphs of one state (every swept k at once) against graphs built from scratch:
brute-force neighbours (``ref_knn``) or cccd's rule (``ref_nng``), scipy for components and hop
distances."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse.csgraph import connected_components, shortest_path

from layerflow.ricci import CURVATURES
from layerflow.ricci._knn import exact_knn, table_width
from layerflow.ricci._shortest_paths.nested import boundary_ties, locality_order, nested_graphs

from ..reference import random_relu_states, ref_knn, ref_nng


def _arcs(X: np.ndarray, k: int, ties: str) -> np.ndarray:
    """Dense 0/1 arc matrix of the kNN relation by brute force."""
    n = X.shape[0]
    if ties == "keep":
        return ref_nng(X, k, sqrt=False).astype(np.int64)
    A = np.zeros((n, n), dtype=np.int64)
    A[np.repeat(np.arange(n), k), ref_knn(X, k).reshape(-1)] = 1
    return A


def _reference(A: np.ndarray) -> tuple[int, int, int, float]:
    """Forman over union edges and over arcs (degree in + out), components, geodesic mass."""
    U = ((A + A.T) > 0).astype(np.int64)
    deg = U.sum(1)
    iu, ju = np.nonzero(np.triu(U))
    f_union = int((4 - deg[iu] - deg[ju]).sum())
    D = A.sum(0) + A.sum(1)
    ia, ja = np.nonzero(A)
    f_directed = int((4 - D[ia] - D[ja]).sum())
    ncomp = connected_components(U, directed=False)[0]
    mass = float(shortest_path(U, unweighted=True, directed=False).sum() / 2.0)
    return f_union, f_directed, ncomp, mass


def _circle_and_centre() -> np.ndarray:
    # the 16 integer points at squared distance 65 from the origin, the origin, and far points:
    # the origin's distances tie 16 times, beyond any neighbour table for k = 3 (the scan path)
    pts = [(x, y) for x in range(-8, 9) for y in range(-8, 9) if x * x + y * y == 65]
    far = np.random.default_rng(0).normal(size=(30, 2)) * 3 + 40
    return np.vstack([[(0.0, 0.0)], np.array(pts, dtype=float), far])


def _cases() -> list[tuple[str, np.ndarray, tuple[int, ...]]]:
    relu = random_relu_states(160, seed=3, depth=3)
    grid = np.stack(np.meshgrid(np.arange(12.0), np.arange(11.0)), -1).reshape(-1, 2)
    return [
        ("relu-input", relu[0], (3, 7, 20)),
        ("relu-deep", relu[3], (1, 2, 5, 40)),
        ("quantised", np.round(relu[2] / 0.25) * 0.25, (4, 9, 30)),
        ("grid", grid, (1, 2, 3, 4, 6, 8)),
        ("circle", _circle_and_centre(), (2, 3)),
        ("one-k", relu[1], (60,)),
    ]


@pytest.mark.parametrize(("name", "X", "ks"), _cases(), ids=[c[0] for c in _cases()])
@pytest.mark.parametrize("ties", ["by_index", "keep"])
def test_nested_graphs_equal_graphs_built_from_scratch(
    name: str, X: np.ndarray, ks: tuple[int, ...], ties: str
) -> None:
    X = np.ascontiguousarray(X, dtype=np.float64)
    n = X.shape[0]
    idx, sqd = exact_knn(X, table_width(ks[-1], n, "keep"))
    order = locality_order(idx, min(ks[0], 10))
    ng = nested_graphs(X, idx, sqd, ks, ties, order)
    masses = ng.path_masses()
    inv = np.empty(n, dtype=np.int64)
    inv[order] = np.arange(n)
    for c, k in enumerate(ks):
        A = _arcs(X, k, ties)
        U = (A + A.T) > 0
        for i in range(n):  # the union graph at k, row by row (in the original numbering)
            r = inv[i]
            row = np.sort(order[ng.indices[ng.starts[r] : ng.ends[c, r]]])
            np.testing.assert_array_equal(row, np.flatnonzero(U[i]))
        f_union, f_directed, ncomp, mass = _reference(A)
        forman = CURVATURES["forman"].scalar_from_degrees  # type: ignore[attr-defined]
        assert forman(*(a[c] for a in ng.union_degrees), "union") == f_union
        assert forman(*(a[c] for a in ng.directed_degrees), "directed") == f_directed
        assert ng.components(c) == ncomp
        assert masses[c][1] == ncomp
        assert masses[c][0] == mass  # inf where disconnected


def test_the_circle_case_needs_the_scan() -> None:
    # the tie run of the origin at k = 3 reaches past its table, so the scan must find the rest
    X = _circle_and_centre()
    idx, sqd = exact_knn(X, table_width(3, X.shape[0], "keep"))
    assert sqd[0, -1] == sqd[0, 2] == 65.0 and idx.shape[1] < 16


def test_boundary_ties_by_brute_force() -> None:
    X = np.round(random_relu_states(120, seed=8, depth=2)[2] / 0.5) * 0.5
    ks = (1, 2, 5, 9, 30)
    _, sqd = exact_knn(np.ascontiguousarray(X), 40)
    D = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(D, np.inf)
    Ds = np.sort(D, axis=1)
    expected = [bool((Ds[:, k - 1] == Ds[:, k]).any()) for k in ks]
    np.testing.assert_array_equal(boundary_ties(sqd, ks), expected)
    # a table with every other point: no point beyond the last column, no tie across it
    _, full = exact_knn(np.ascontiguousarray(X), 119)
    assert not boundary_ties(full, (119,)).any()


def test_geodesic_masses_reuse_where_the_graphs_agree() -> None:
    X = np.ascontiguousarray(random_relu_states(100, seed=2, depth=1)[1])
    ks = (3, 6, 12)
    idx, sqd = exact_knn(X, table_width(12, 100, "keep"))
    ng = nested_graphs(X, idx, sqd, ks, "by_index", locality_order(idx, 3))
    own = ng.path_masses()
    marker = [(float(-c - 1), 1) for c in range(3)]
    mixed = ng.path_masses(marker, np.array([True, False, True]))
    assert [g for g, _ in mixed] == [-1.0, own[1][0], -3.0]
