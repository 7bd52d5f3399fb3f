"""Straightforward reference implementations for the Ricci tests (networkx, numpy, POT).

Deliberately naive and independent of layerflow.ricci: brute-force distances, networkx graphs,
Python loops over edges.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import ot
import scipy.sparse as sp
from scipy.stats import pearsonr


def ref_knn(X: np.ndarray, k: int) -> np.ndarray:
    """(N, k) neighbours by brute-force squared distance, ties to the smaller index."""
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[0]
    out = np.empty((n, k), dtype=np.int64)
    for i in range(n):
        d = ((X - X[i]) ** 2).sum(axis=1)
        idx = np.arange(n)
        keep = idx != i
        order = np.lexsort((idx[keep], d[keep]))
        out[i] = idx[keep][order][:k]
    return out


def ref_graph(X: np.ndarray, k: int, directed: bool = False) -> nx.Graph:
    n = len(X)
    nb = ref_knn(X, k)
    g: nx.Graph = nx.DiGraph() if directed else nx.Graph()
    g.add_nodes_from(range(n))
    for i in range(n):
        for j in nb[i]:
            g.add_edge(i, int(j))
    return g


def ref_forman(g: nx.Graph) -> dict[tuple[int, int], float]:
    return {(u, v): 4.0 - g.degree(u) - g.degree(v) for u, v in g.edges()}


def ref_triangles(g: nx.Graph) -> dict[tuple[int, int], int]:
    return {(u, v): len(set(g[u]) & set(g[v])) for u, v in g.edges()}


def ref_ollivier(g: nx.Graph, alpha: float = 0.5) -> dict[tuple[int, int], float]:
    """Per-edge W1 with full supports and networkx hop distances, solved by POT."""
    sp = dict(nx.all_pairs_shortest_path_length(g))
    out = {}
    for i, j in g.edges():
        U = [i, *g[i]]
        V = [j, *g[j]]
        a = np.array([alpha] + [(1 - alpha) / g.degree(i)] * g.degree(i))
        b = np.array([alpha] + [(1 - alpha) / g.degree(j)] * g.degree(j))
        M = np.array([[sp[u][v] for v in V] for u in U], dtype=np.float64)
        out[(i, j)] = 1.0 - float(ot.emd2(a, b, M)) / sp[i][j]
    return out


def ref_geodesic_mass(g: nx.Graph) -> float:
    h = g.to_undirected() if g.is_directed() else g
    if not nx.is_connected(h):
        return float("inf")
    return sum(sum(d.values()) for _, d in nx.all_pairs_shortest_path_length(h)) / 2.0


def ref_ricci(states: list[np.ndarray], k: int, directed: bool = False) -> dict[str, object]:
    graphs = [ref_graph(X, k, directed) for X in states]
    ric = np.array([sum(ref_forman(g).values()) for g in graphs])
    gm = np.array([ref_geodesic_mass(g) for g in graphs])
    eta = gm[1:] - gm[:-1]
    rho = float(pearsonr(eta, ric[:-1]).statistic) if len(eta) >= 3 else float("nan")
    return {"ric": ric, "g": gm, "eta": eta, "rho": rho}


def ref_local(states: list[np.ndarray], k: int) -> tuple[np.ndarray, np.ndarray]:
    """(curvature, delta), each (L, N), by networkx."""
    graphs = [ref_graph(X, k) for X in states]
    L = len(graphs) - 1
    n = len(states[0])
    curv = np.zeros((L, n))
    delta = np.zeros((L, n))
    for layer in range(L):
        g, h = graphs[layer], graphs[layer + 1]
        F = ref_forman(g)
        sp_next = dict(nx.all_pairs_shortest_path_length(h))
        sp_now = dict(nx.all_pairs_shortest_path_length(g))
        for x in range(n):
            nbrs = list(g[x])
            curv[layer, x] = np.mean([F.get((x, y), F.get((y, x))) for y in nbrs])
            delta[layer, x] = np.mean([sp_next[x].get(y, np.inf) - sp_now[x][y] for y in nbrs])
    return curv, delta


def random_relu_states(n: int, seed: int, depth: int = 5, width: int = 8, d_in: int = 3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d_in))
    states = [X]
    h = X
    for _ in range(depth):
        W = rng.normal(size=(h.shape[1], width)) * (1.5 / np.sqrt(h.shape[1]))
        h = np.maximum(h @ W + 0.1 * rng.normal(size=width), 0.0)
        states.append(h)
    return states


def nx_csr(g: nx.Graph) -> sp.csr_matrix:
    """A networkx graph as a 0/1 int8 CSR matrix (nodes in sorted order)."""
    return sp.csr_matrix(nx.to_scipy_sparse_array(g, nodelist=sorted(g.nodes()), dtype=np.int8))


def assert_same_pattern(C: sp.csr_matrix, G: sp.csr_matrix) -> None:
    """C (float64) has exactly the sparsity pattern of G (sorted indices)."""
    G = sp.csr_matrix(G)
    G.sort_indices()
    np.testing.assert_array_equal(C.indptr, G.indptr)
    np.testing.assert_array_equal(C.indices, G.indices)
    assert C.dtype == np.float64


def two_clusters(n: int = 40) -> list[np.ndarray]:
    """Five states of n points; layers 2 and 3 split into two far clusters (disconnected)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 2))
    far = X.copy()
    far[: n // 2] += 100.0  # layer 2 splits into two far clusters
    return [X, X * 2, far, far * 3, X]


def ref_nng(X: np.ndarray, k: int, sqrt: bool = True) -> np.ndarray:
    """cccd::nng(X, k=k, method="Euclidean") literally, as a dense 0/1 (N, N) arc matrix:
    ``d <- sort(dx[i,]); A[i, dx[i,] <= d[k+1]] <- 1; diag(A) <- 0`` (d[1] is the point itself).

    Distances by brute force, summed over coordinates left to right; ``sqrt=True`` compares the
    Euclidean distances as cccd does, ``False`` their squares."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1:
        X = X[:, None]
    n = X.shape[0]
    D2 = np.zeros((n, n))
    for t in range(X.shape[1]):
        D2 += (X[:, None, t] - X[None, :, t]) ** 2
    dx = np.sqrt(D2) if sqrt else D2
    A = np.zeros((n, n), dtype=np.int8)
    for i in range(n):
        d = np.sort(dx[i])
        A[i, dx[i] <= d[k]] = 1  # R's d[k+1], 1-based
    np.fill_diagonal(A, 0)
    return A
