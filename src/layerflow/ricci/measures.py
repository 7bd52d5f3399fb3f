"""The per-layer measures behind global Ricci coefficients, for several k and protocols at once
(internal; SPEC §3, "k sweep").

One neighbour search per state serves every swept k and every protocol. Then, per state:

* Forman curvature with exact geodesics (the paper's setting) takes the **nested** route: the
  kNN relation at every k comes as births, the first swept k that holds each arc
  (:mod:`layerflow.ricci.knn_buckets`; from a sorted exact table where the search takes the
  symmetric or faiss path); the graphs of all ks are stored once (:mod:`layerflow.ricci.nested`):
  Forman's scalar curvature in closed form, components only up to the first connected k, and one
  geodesic mass per distinct graph — the two tie rules share it wherever no point has a tie
  across its k-th distance. The input state is the same for every network analysed on a data
  set; its measures are memoised by content (:data:`INPUT_MEMO_SIZE` of them);
* any other curvature kind, or sampled geodesics, builds each graph from one sorted exact table
  as wide as the largest k needs under the widest tie rule (its first k columns are exactly a
  separate search for k) and measures it as
  :func:`~layerflow.ricci.coefficients.ricci_coefficient` always has.

Both routes give the same numbers (integers and the same float operations), checked in
``tests/ricci/test_ricci_measures.py``. States are the parallel jobs
(:func:`~layerflow.ricci.threads.map_layers`).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from layerflow.ricci.geodesics import GeodesicMass, exact_geodesics, geodesic_from_arrays
from layerflow.ricci.knn import exact_knn, table_width, use_faiss, use_symmetric
from layerflow.ricci.nested import (
    ORDER_K,
    NestedGraphs,
    boundary_ties,
    locality_order,
    nested_from_births,
    nested_graphs,
)
from layerflow.ricci.network import (
    LayerGraph,
    Neighbours,
    check_k_max,
    layer_graphs,
    neighbour_tables,
)
from layerflow.ricci.protocols import Protocol
from layerflow.ricci.rho import RicciCoefficient, coefficient_from_layers
from layerflow.ricci.threads import map_layers

__all__ = [
    "INPUT_MEMO_SIZE",
    "Family",
    "clear_input_memo",
    "exact_geodesics",
    "global_coefficients",
    "global_from_graphs",
    "tables_rule",
]


@dataclass(frozen=True)
class Family:
    """One family of coefficients to compute: a protocol with its (checked) degree mode."""

    protocol: Protocol
    degree: str


def global_from_graphs(
    graphs: list[LayerGraph],
    names: Sequence[str],
    k: int,
    curvature: str,
    degree: str,
    on_disconnected: str,
    geodesics: str,
    n_sources: int | None,
    seed: int | None,
    alpha: float,
    protocol: Protocol,
) -> RicciCoefficient:
    """The coefficient of one k from the built graphs of a network's states (options
    checked): every curvature kind, exact or sampled geodesics."""
    per_layer = map_layers(
        lambda G: (
            G.scalar_curvature(curvature, alpha),
            geodesic_from_arrays(G.indptr, G.indices, geodesics, n_sources, seed),
        ),
        graphs,
        graphs[0].n,
    )
    ric = np.array([r for r, _ in per_layer], dtype=np.float64)
    return coefficient_from_layers(
        ric, [m for _, m in per_layer], names, k, curvature, degree, on_disconnected, protocol
    )


# per tie rule: Forman sums (union, directed) and geodesic masses, each per swept k
_StateMeasures = dict[str, tuple[np.ndarray, np.ndarray, list[GeodesicMass]]]


def _state_measures(X: np.ndarray, width: int, ks: tuple[int, ...], rules: Sequence[str]
                    ) -> _StateMeasures:
    """Forman sums and exact geodesic masses of one state (checked points) at every k, per tie
    rule. The kNN relation comes as births (:mod:`layerflow.ricci.knn_buckets`) where the
    row-by-row BLAS keys are the search's path, else from a sorted exact table of ``width``
    columns (:func:`~layerflow.ricci.knn.exact_knn`)."""
    n, d = X.shape
    if use_symmetric(n, d, width) or use_faiss(n, d):
        nb = Neighbours(X, *exact_knn(X, width))
        order = locality_order(nb.idx, min(ks[0], ORDER_K))
        tied = boundary_ties(nb.sqd, ks)

        def build(rule: str) -> NestedGraphs:
            return nested_graphs(nb.points, nb.idx, nb.sqd, ks, rule, order)
    else:
        from layerflow.ricci.knn_buckets import bucket_table

        bt = bucket_table(X, ks)
        order = locality_order(bt.idx, min(ks[0], ORDER_K))
        tied = bt.tied

        def build(rule: str) -> NestedGraphs:
            return nested_from_births(bt.idx, bt.births[rule], ks, rule, bt.extras[rule], order)

    first = build(rules[0])
    masses = first.geodesic_masses()
    out: _StateMeasures = {rules[0]: (first.forman_union, first.forman_directed, masses)}
    for rule in rules[1:]:
        if not tied.any():  # the same graphs at every k
            out[rule] = out[rules[0]]
            continue
        ng = build(rule)
        out[rule] = (ng.forman_union, ng.forman_directed, ng.geodesic_masses(masses, ~tied))
    return out


# the input state's measures, by content: every network analysed on the same data shares them
# (a sweep analyses hundreds per data set in one worker process)
INPUT_MEMO_SIZE = 4
_INPUT_MEMO: OrderedDict[tuple[Any, ...], _StateMeasures] = OrderedDict()


def clear_input_memo() -> None:
    """Forget the memoised input states (:func:`_input_measures`)."""
    _INPUT_MEMO.clear()


def _input_measures(
    X: np.ndarray, width: int, ks: tuple[int, ...], rules: Sequence[str]
) -> _StateMeasures:
    """:func:`_state_measures` of the input state (C-contiguous float64), memoised by its bytes."""
    digest = hashlib.blake2b(X.data, digest_size=20).digest()
    key = (digest, X.shape, width, ks, tuple(rules))
    hit = _INPUT_MEMO.get(key)
    if hit is not None:
        _INPUT_MEMO.move_to_end(key)
        return hit
    out = _state_measures(X, width, ks, rules)
    _INPUT_MEMO[key] = out
    while len(_INPUT_MEMO) > INPUT_MEMO_SIZE:
        _INPUT_MEMO.popitem(last=False)
    return out


def tables_rule(families: Sequence[Family]) -> str:
    """The tie rule the shared neighbour tables are made wide enough for: ``"keep"`` (a margin
    of columns beyond the largest k) if any family keeps ties, else ``"by_index"``."""
    return "keep" if any(f.protocol.ties == "keep" for f in families) else "by_index"


def global_coefficients(
    states: list[np.ndarray],
    names: Sequence[str],
    ks: Sequence[int],
    families: Sequence[Family],
    curvature: str,
    on_disconnected: str,
    geodesics: str,
    n_sources: int | None,
    seed: int | None,
    alpha: float,
) -> tuple[list[dict[int, RicciCoefficient]], list[Neighbours] | None]:
    """Global Ricci coefficients of one network for every k in ``ks`` and every family (all
    options checked; k against N here). Returns ``out[f][k]`` for ``families[f]``, and the
    neighbour tables where they were kept (the built-graph route; None on the nested one)."""
    ks_u = tuple(sorted(set(int(k) for k in ks)))
    rules = list(dict.fromkeys(f.protocol.ties for f in families))
    table_rule = tables_rule(families)
    n = states[0].shape[0]
    out: list[dict[int, RicciCoefficient]] = [{} for _ in families]
    if curvature == "forman" and exact_geodesics(geodesics, n, n_sources):
        check_k_max(states, names, ks_u[-1])
        width = table_width(ks_u[-1], n, table_rule)

        def job(item: tuple[int, np.ndarray]) -> _StateMeasures:
            i, X = item
            if i == 0:
                return _input_measures(X, width, ks_u, rules)
            return _state_measures(X, width, ks_u, rules)

        per_state = map_layers(job, list(enumerate(states)), n)
        for f, fam in enumerate(families):
            rule = fam.protocol.ties
            for c, k in enumerate(ks_u):
                j = 0 if fam.degree == "union" else 1
                ric = np.array([float(m[rule][j][c]) for m in per_state], dtype=np.float64)
                gm = [m[rule][2][c] for m in per_state]
                out[f][k] = coefficient_from_layers(
                    ric, gm, names, k, curvature, fam.degree, on_disconnected, fam.protocol
                )
        return out, None
    tables = neighbour_tables(states, names, ks_u[-1], table_rule)
    for f, fam in enumerate(families):
        for k in ks_u:
            graphs = layer_graphs(tables, k, fam.degree, fam.protocol.ties)
            out[f][k] = global_from_graphs(
                graphs, names, k, curvature, fam.degree, on_disconnected, geodesics,
                n_sources, seed, alpha, fam.protocol,
            )
    return out, tables

