"""The states of one network and their kNN graphs (internal to the Ricci coefficients).

:func:`trajectory_states` validates a trajectory once; :func:`neighbour_tables` runs one exact
neighbour search per state for the largest k; :func:`layer_graphs` builds the graph of every state
for one k from those tables (a smaller k is the first k columns, identical to its own search; with
``ties="keep"`` the tied points beyond them, see :func:`~layerflow.ricci.knn.neighbour_arcs`).
Graphs built here skip the validation that public graph functions apply.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from layerflow.ricci.checks import RicciInputError, check_k, check_points
from layerflow.ricci.curvature import CURVATURES
from layerflow.ricci.graphs import graph_from_arcs
from layerflow.ricci.knn import exact_knn, neighbour_arcs, table_width
from layerflow.ricci.threads import map_layers
from layerflow.trajectory import Trajectory

__all__ = [
    "LayerGraph",
    "Neighbours",
    "check_k_max",
    "layer_desc",
    "layer_graphs",
    "neighbour_tables",
    "trajectory_states",
]


def layer_desc(i: int, name: str) -> str:
    """``"layer 2 ('fc2')"``: how errors and reasons name a state."""
    return f"layer {i} ({name!r})"


def trajectory_states(traj: Any,
                      final_norm: bool = False) -> tuple[list[np.ndarray], tuple[str, ...]]:
    """States (C-contiguous float64, checked) and names of a Trajectory or of a plain sequence
    of (N, d) arrays. Of a Trajectory, the states its views read (``Trajectory.analysed``: token
    ids left out, and a ``final_norm`` state unless ``final_norm=True``)."""
    if isinstance(traj, Trajectory):
        keep, _ = traj.analysed(final_norm)
        states = [np.ascontiguousarray(traj.states[i], dtype=np.float64) for i in keep]
        return states, tuple(traj.layer_names[i] for i in keep)
    if isinstance(traj, np.ndarray) and traj.ndim == 2:
        traj = [traj]
    if not isinstance(traj, Sequence) and not isinstance(traj, np.ndarray):
        raise RicciInputError(
            f"expected a Trajectory or a sequence of (N, d) arrays, got {type(traj).__name__}"
        )
    names = ("input", *(f"layer{i}" for i in range(1, len(traj))))
    states = [check_points(s, layer=f"state {i} ({names[i]!r})") for i, s in enumerate(traj)]
    if not states:
        raise RicciInputError("no states given; expected a sequence of (N, d) arrays")
    n = states[0].shape[0]
    for i, s in enumerate(states):
        if s.shape[0] != n:
            raise RicciInputError(
                f"state {i} ({names[i]!r}) has {s.shape[0]} rows but state 0 has {n}; every "
                "state must hold the same samples"
            )
    return states, names


@dataclass(frozen=True)
class Neighbours:
    """The sorted exact neighbour table of one state: ``idx``, ``sqd`` (N, K) and the checked
    ``points`` (for the tie scan of ``ties="keep"``)."""

    points: np.ndarray
    idx: np.ndarray
    sqd: np.ndarray

    def arcs(self, k: int, ties: str) -> tuple[np.ndarray, np.ndarray]:
        return neighbour_arcs(self.points, self.idx, self.sqd, k, ties)


def check_k_max(states: list[np.ndarray], names: Sequence[str], k_max: int) -> None:
    """The largest k of a call against N, once (every state has the same N), naming layer 0."""
    check_k(k_max, states[0].shape[0], layer=layer_desc(0, names[0]))


def neighbour_tables(
    states: list[np.ndarray], names: Sequence[str], k_max: int, ties: str = "by_index"
) -> list[Neighbours]:
    """One exact neighbour search per state, wide enough for the largest k under the tie rule
    (rows sorted nearest first).

    ``k_max`` is checked here, once, against N (every state has the same N), naming layer 0."""
    n = states[0].shape[0]
    check_k_max(states, names, k_max)
    width = table_width(k_max, n, ties)
    return map_layers(lambda X: Neighbours(X, *exact_knn(X, width)), states, n)


class LayerGraph:
    """The kNN graph of one state built from its arcs ``i → arcs[ptr[i]:ptr[i+1]]``: ``indptr``,
    ``indices`` (int64) are its union graph (symmetric, sorted rows, no self-loops); :meth:`csr`
    is the scipy matrix in the ``degree`` convention (built on first use)."""

    __slots__ = ("_csr", "arcs", "degree", "indices", "indptr", "ptr")

    def __init__(self, ptr: np.ndarray, arcs: np.ndarray, degree: str) -> None:
        from layerflow.ricci import graph_kernels

        self.ptr = ptr
        self.arcs = arcs
        self.degree = degree
        self.indptr, self.indices = graph_kernels.union_csr(ptr, arcs)
        self._csr: sp.csr_matrix | None = None

    @property
    def n(self) -> int:
        return int(self.ptr.shape[0] - 1)

    def csr(self) -> sp.csr_matrix:
        if self._csr is None:
            if self.degree == "union":
                G = sp.csr_matrix(
                    (np.ones(self.indices.shape[0], dtype=np.int8), self.indices, self.indptr),
                    shape=(self.n, self.n),
                )
                G.has_sorted_indices = True
                self._csr = G
            else:
                self._csr = graph_from_arcs(self.ptr, self.arcs, self.degree)
        return self._csr

    def scalar_curvature(self, curvature: str, alpha: float) -> float:
        """``Ric`` (each union edge once; each arc once for ``"directed"``). Forman in closed
        form: ``Σ_edges (4 − deg_i − deg_j) = 2·|E|·2 − Σ_i deg_i²`` halved over stored entries,
        i.e. ``2·nnz − Σ deg²`` (union) and ``4·arcs − Σ_i D_i²`` with ``D = in + out``
        (directed); integers, so exactly the per-edge sum."""
        if curvature == "forman":
            if self.degree == "union":
                deg = np.diff(self.indptr)
                return float(2 * int(self.indices.shape[0]) - int(deg @ deg))
            D = np.bincount(self.arcs, minlength=self.n) + np.diff(self.ptr)
            return float(4 * int(self.arcs.size) - int(D @ D))
        vals = CURVATURES[curvature](self.csr(), self.degree, alpha=alpha)
        total = float(vals.sum())
        return 0.5 * total if self.degree == "union" else total


def layer_graphs(
    tables: list[Neighbours], k: int, degree: str, ties: str = "by_index"
) -> list[LayerGraph]:
    """The kNN graph of every state for one k and tie rule."""
    return map_layers(
        lambda nb: LayerGraph(*nb.arcs(k, ties), degree), tables, tables[0].idx.shape[0]
    )
