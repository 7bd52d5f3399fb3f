"""From the states of one network to the per-layer measures of its Ricci coefficients.

The public functions resolve their options once (:func:`resolve_options`, one frozen
:class:`RicciOptions`) and validate the states once (:func:`trajectory_states`); everything below
works on checked values. One exact neighbour search per state serves every k and every protocol.
Then, per state, for every k and every family (protocol, degree mode), the scalar curvature
``Ric_l`` and the geodesic mass ``g_l`` (:func:`layer_measures`), by one of two routes that give
the same numbers (integers and the same float operations):

* a curvature kind with a closed form in the degrees (Forman's,
  :meth:`~layerflow.ricci._curvature.Forman.scalar_from_degrees`) with exact geodesics (the
  paper's setting): the graphs of all ks of a state are stored once, nested
  (:mod:`layerflow.ricci._shortest_paths.nested`), from the kNN relation at every k as births
  (:mod:`layerflow.ricci._knn.buckets` on the ``"blas"`` back-end; from a sorted exact table on
  the others); components only up to the first connected k, one geodesic mass per distinct
  graph — the two tie rules share it wherever no point has a tie across its k-th distance. The
  input state is the same for every network analysed on a data set: its measures are kept in
  :data:`INPUT_CACHE` (see it, clear it);
* any other kind, or sampled geodesics: each graph is built from one sorted exact table as wide
  as the largest k needs under the widest tie rule (its first k columns are exactly a separate
  search for k) and measured as :func:`~layerflow.ricci._curvature.scalar_curvature` and
  :func:`~layerflow.ricci._path_mass.path_mass` measure it.

States are the parallel jobs (:func:`~layerflow.ricci._threads.map_layers`).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypedDict

import numpy as np
import scipy.sparse as sp

from layerflow._errors import ConfigError
from layerflow._suggest import did_you_mean
from layerflow._trajectory import Trajectory
from layerflow.ricci import _threads
from layerflow.ricci._curvature import CURVATURES, check_kind
from layerflow.ricci._graphs import (
    check_choice,
    check_k,
    check_k_type,
    check_knn,
    check_points,
    graph_from_arcs,
)
from layerflow.ricci._knn import choose_knn, exact_knn, neighbour_arcs, table_width
from layerflow.ricci._options import DEFAULT_PROTOCOL as DEFAULT_PROTOCOL
from layerflow.ricci._path_mass import (
    PathMass,
    check_path_mass_options,
    exact_path_mass,
    path_mass_from_arrays,
)

ON_DISCONNECTED = ("nan", "raise")


# ---------------------------------------------------------------------------- options
@dataclass(frozen=True)
class Protocol:
    """One convention of the global coefficient: ``degrees`` the allowed kNN degree modes (the
    first is the default), ``ties`` the tie rule at the k-th distance, ``first_pair`` the first l
    of the correlated pairs ``(η_l, Ric_l)``, l = first_pair … L−1."""

    name: str
    degrees: tuple[str, ...]
    ties: str
    first_pair: int

    def degree(self, degree: Any) -> str:
        """The degree mode to use: the protocol's default for None, else one it allows."""
        if degree is None:
            return self.degrees[0]
        if len(self.degrees) == 1 and degree != self.degrees[0]:
            raise ConfigError(
                f"degree={degree!r} does not go with protocol={self.name!r}, which uses "
                f"degree={self.degrees[0]!r} (the authors' R code); leave degree out"
            )
        return check_choice("degree", degree, self.degrees)


# the protocols (see layerflow.ricci._coefficients): "layerflow" union graphs, exactly k
# neighbours, every pair; "baptista" the authors' R code: directed graphs keeping ties, l ≥ 1
PROTOCOLS: dict[str, Protocol] = {
    "layerflow": Protocol("layerflow", degrees=("union", "directed"), ties="by_index",
                          first_pair=0),
    "baptista": Protocol("baptista", degrees=("directed",), ties="keep", first_pair=1),
}


def get_protocol(name: Any) -> Protocol:
    """The protocol called ``name`` (else :class:`ConfigError` listing them)."""
    return PROTOCOLS[check_choice("protocol", name, tuple(PROTOCOLS))]


@dataclass(frozen=True)
class Family:
    """One family of coefficients: a protocol with its (checked) degree mode."""

    protocol: Protocol
    degree: str


class RicciKeywords(TypedDict, total=False):
    """The options every coefficient function takes by keyword beside its own (what each means:
    :func:`~layerflow.ricci.ricci_coefficient`; each default is :class:`RicciOptions`'s)."""

    geodesics: str
    n_sources: int | None
    seed: int | None
    alpha: float
    knn: str
    final_norm: bool


@dataclass(frozen=True)
class RicciOptions:
    """Every option of a coefficient call, checked (:func:`resolve_options`): the distinct
    ``ks`` (increasing; each ``< N`` is checked against the states), the ``families``, and the
    options every family shares. The defaults here are the functions' defaults, and where
    they come from: ``curvature="forman"``, the authors' R code's only kind; exact path masses
    (``geodesics="auto"``) up to 20,000 points, as the R code computes every distance, sampled
    above with 1,024 sources (``n_sources=None``) and seed 0 (layerflow's own bound and count:
    exact path masses cost N² per graph, and a sampled one reports its standard error);
    ``alpha=0.5``, the laziness of Ollivier–Ricci curvature in GraphRicciCurvature
    (``OllivierRicci(alpha=0.5)``); ``knn="auto"`` (the back-ends give the same exact graphs);
    ``final_norm=False`` (a language model's final normalisation rescales every token, so its
    step would dominate η and Ric)."""

    ks: tuple[int, ...]
    families: tuple[Family, ...]
    curvature: str = "forman"
    on_disconnected: str = "nan"
    geodesics: str = "auto"
    n_sources: int | None = None
    seed: int | None = 0
    alpha: float = 0.5
    knn: str = "auto"
    final_norm: bool = False

    @property
    def rules(self) -> list[str]:
        """The distinct tie rules of the families, in their order."""
        return list(dict.fromkeys(f.protocol.ties for f in self.families))

    @property
    def table_rule(self) -> str:
        """The tie rule the shared neighbour tables are made wide enough for: ``"keep"`` (a
        margin of columns beyond the largest k) if any family keeps ties, else ``"by_index"``."""
        return "keep" if "keep" in self.rules else "by_index"


def resolve_options(caller: str, ks: Sequence[int], curvature: Any,
                    families: Sequence[tuple[Any, Any]], options: Mapping[str, Any],
                    on_disconnected: Any = "nan") -> RicciOptions:
    """The options of a coefficient call, checked once at the public edge (``families``: pairs
    ``(protocol name, degree or None)``; ``options``: the call's :class:`RicciKeywords`; k
    against N once the states are known). A keyword that is not an option raises the
    ``TypeError`` a Python function raises, naming ``caller`` and the option meant."""
    for key in options:
        if key not in RicciKeywords.__optional_keys__:
            raise TypeError(f"{caller}() got an unexpected keyword argument {key!r}"
                            + did_you_mean(key, RicciKeywords.__optional_keys__))
    fams = []
    for name, deg in families:
        check_kind(curvature)
        proto = get_protocol(name)
        fams.append(Family(proto, proto.degree(deg)))
        check_choice("on_disconnected", on_disconnected, ON_DISCONNECTED)
    ks_t = tuple(check_k_type(k) for k in ks)
    opts = RicciOptions(tuple(sorted(set(ks_t))), tuple(fams), str(curvature),
                        str(on_disconnected), **options)
    check_path_mass_options(opts.geodesics, opts.n_sources, "geodesics")
    check_knn(opts.knn)
    if not isinstance(opts.final_norm, bool | np.bool_):
        raise ConfigError(f"final_norm={opts.final_norm!r}: expected True or False")
    return replace(opts, geodesics=str(opts.geodesics), knn=str(opts.knn),
                   final_norm=bool(opts.final_norm))


# ---------------------------------------------------------------------------- states, graphs
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
        raise ConfigError(
            f"expected a Trajectory or a sequence of (N, d) arrays, got {type(traj).__name__}"
        )
    names = ("input", *(f"layer{i}" for i in range(1, len(traj))))
    states = [check_points(s, layer=f"state {i} ({names[i]!r})") for i, s in enumerate(traj)]
    if not states:
        raise ConfigError("no states given; expected a sequence of (N, d) arrays")
    n = states[0].shape[0]
    for i, s in enumerate(states):
        if s.shape[0] != n:
            raise ConfigError(
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


def neighbour_tables(states: list[np.ndarray], names: Sequence[str], k_max: int,
                     ties: str = "by_index", knn: str = "auto") -> list[Neighbours]:
    """One exact neighbour search per state, wide enough for the largest k under the tie rule
    (rows sorted nearest first); ``k_max`` is checked here, once, against N (every state has the
    same N), naming layer 0."""
    n = states[0].shape[0]
    check_k(k_max, n, layer=layer_desc(0, names[0]))
    width = table_width(k_max, n, ties)
    return _threads.map_layers(lambda X: Neighbours(X, *exact_knn(X, width, knn)), states, n)


class LayerGraph:
    """The kNN graph of one state built from its arcs ``i → arcs[ptr[i]:ptr[i+1]]``: ``indptr``,
    ``indices`` (int64) are its union graph (symmetric, sorted rows, no self-loops); :meth:`csr`
    is the scipy matrix in the ``degree`` convention (built on first use)."""

    __slots__ = ("_csr", "arcs", "degree", "indices", "indptr", "ptr")

    def __init__(self, ptr: np.ndarray, arcs: np.ndarray, degree: str) -> None:
        from layerflow.ricci._shortest_paths import union_csr

        self.ptr = ptr
        self.arcs = arcs
        self.degree = degree
        self.indptr, self.indices = union_csr(ptr, arcs)
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
        """``Ric`` (each union edge once; each arc once for ``"directed"``): from the degrees
        where the kind has a closed form in them, else the sum of the edge values."""
        kind = CURVATURES[curvature]
        closed = getattr(kind, "scalar_from_degrees", None)
        if closed is not None:
            if self.degree == "union":
                deg = np.diff(self.indptr)
                return float(closed(int(self.indices.shape[0]), int(deg @ deg), "union"))
            D = np.bincount(self.arcs, minlength=self.n) + np.diff(self.ptr)
            return float(closed(int(self.arcs.size), int(D @ D), "directed"))
        total = float(kind(self.csr(), self.degree, alpha=alpha).sum())
        return 0.5 * total if self.degree == "union" else total


def layer_graphs(tables: list[Neighbours], k: int, degree: str, ties: str = "by_index"
                 ) -> list[LayerGraph]:
    """The kNN graph of every state for one k and tie rule."""
    return _threads.map_layers(
        lambda nb: LayerGraph(*nb.arcs(k, ties), degree), tables, tables[0].idx.shape[0]
    )


# ---------------------------------------------------------------------------- measures
# per tie rule: (Σ stored entries, Σ deg²) of the union graphs, (arcs, Σ D²) of the directed
# ones, and the geodesic masses, each per swept k
_StateMeasures = dict[str, tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray],
                                 list[PathMass]]]


def _state_measures(X: np.ndarray, width: int, ks: tuple[int, ...], rules: Sequence[str],
                    knn: str) -> _StateMeasures:
    """Degree sums and exact geodesic masses of one state (checked points) at every k, per tie
    rule, from the nested graphs. The kNN relation comes as births
    (:func:`~layerflow.ricci._knn.buckets.bucket_table`) on the ``"blas"`` back-end, else from
    a sorted exact table of ``width`` columns."""
    from layerflow.ricci._shortest_paths.nested import (
        ORDER_K,
        NestedGraphs,
        boundary_ties,
        locality_order,
        nested_from_births,
        nested_graphs,
    )

    n, d = X.shape
    method = choose_knn(knn, n, d, width)
    if method != "blas":
        nb = Neighbours(X, *exact_knn(X, width, method))
        order = locality_order(nb.idx, min(ks[0], ORDER_K))
        tied = boundary_ties(nb.sqd, ks)

        def build(rule: str) -> NestedGraphs:
            return nested_graphs(nb.points, nb.idx, nb.sqd, ks, rule, order)
    else:
        from layerflow.ricci._knn.buckets import bucket_table

        bt = bucket_table(X, ks)
        order = locality_order(bt.idx, min(ks[0], ORDER_K))
        tied = bt.tied

        def build(rule: str) -> NestedGraphs:
            return nested_from_births(bt.idx, bt.births[rule], ks, rule, bt.extras[rule], order)

    def masses(raw: list[tuple[float, int]]) -> list[PathMass]:
        return [PathMass(g, 0.0, n if c == 1 else 0, True, c, n) for g, c in raw]

    first = build(rules[0])
    raw = first.path_masses()
    out: _StateMeasures = {rules[0]: (first.union_degrees, first.directed_degrees, masses(raw))}
    for rule in rules[1:]:
        if not tied.any():  # the same graphs at every k
            out[rule] = out[rules[0]]
            continue
        ng = build(rule)
        out[rule] = (ng.union_degrees, ng.directed_degrees,
                     masses(ng.path_masses(raw, ~tied)))
    return out


class InputCache:
    """The measures of the input states analysed last, by content (at most :attr:`maxsize`):
    every network analysed on the same data set shares its input state (a sweep analyses
    hundreds per data set in one worker process). ``len()`` says how many are kept,
    :attr:`hits` and :attr:`misses` how many look-ups found their state or measured it;
    :meth:`clear` forgets them and zeroes the counts."""

    def __init__(self, maxsize: int = 4) -> None:
        self.maxsize = maxsize
        self.hits = 0
        self.misses = 0
        self._items: OrderedDict[tuple[Any, ...], _StateMeasures] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        self._items.clear()
        self.hits = self.misses = 0

    def measures(self, X: np.ndarray, width: int, ks: tuple[int, ...], rules: Sequence[str],
                 knn: str) -> _StateMeasures:
        """:func:`_state_measures` of the input state (C-contiguous float64), kept by its bytes."""
        digest = hashlib.blake2b(X.data, digest_size=20).digest()
        key = (digest, X.shape, width, ks, tuple(rules))
        hit = self._items.get(key)
        if hit is not None:
            self.hits += 1
            self._items.move_to_end(key)
            return hit
        self.misses += 1
        out = _state_measures(X, width, ks, rules, knn)
        self._items[key] = out
        while len(self._items) > self.maxsize:
            self._items.popitem(last=False)
        return out


INPUT_CACHE = InputCache()

# per family, per k: Ric_l (L+1,) and the geodesic masses of the L+1 states
Measures = list[dict[int, tuple[np.ndarray, list[PathMass]]]]


def layer_measures(states: list[np.ndarray], names: Sequence[str], opts: RicciOptions
                   ) -> tuple[Measures, list[Neighbours] | None]:
    """``Ric_l`` and ``g_l`` of every state for every k and family of ``opts`` (k against N
    checked here). Returns ``out[f][k]`` for ``opts.families[f]``, and the neighbour tables
    where they were kept (the built-graph route; None on the nested one)."""
    ks = opts.ks
    n = states[0].shape[0]
    out: Measures = [{} for _ in opts.families]
    kind = CURVATURES[opts.curvature]
    closed = getattr(kind, "scalar_from_degrees", None)
    if closed is not None and exact_path_mass(opts.geodesics, n, opts.n_sources):
        check_k(ks[-1], n, layer=layer_desc(0, names[0]))
        width = table_width(ks[-1], n, opts.table_rule)
        rules = opts.rules

        def job(item: tuple[int, np.ndarray]) -> _StateMeasures:
            i, X = item
            if i == 0:
                return INPUT_CACHE.measures(X, width, ks, rules, opts.knn)
            return _state_measures(X, width, ks, rules, opts.knn)

        per_state = _threads.map_layers(job, list(enumerate(states)), n)
        for f, fam in enumerate(opts.families):
            rule = fam.protocol.ties
            sums = [m[rule][0] if fam.degree == "union" else m[rule][1] for m in per_state]
            for c, k in enumerate(ks):
                ric = np.array([float(closed(e[c], sq[c], fam.degree)) for e, sq in sums],
                               dtype=np.float64)
                out[f][k] = (ric, [m[rule][2][c] for m in per_state])
        return out, None
    tables = neighbour_tables(states, names, ks[-1], opts.table_rule, opts.knn)
    for f, fam in enumerate(opts.families):
        for k in ks:
            per_layer = _threads.map_layers(
                lambda G: (
                    G.scalar_curvature(opts.curvature, opts.alpha),
                    path_mass_from_arrays(G.indptr, G.indices, opts.geodesics, opts.n_sources,
                                         opts.seed),
                ),
                layer_graphs(tables, k, fam.degree, fam.protocol.ties),
                n,
            )
            out[f][k] = (np.array([r for r, _ in per_layer], dtype=np.float64),
                         [m for _, m in per_layer])
    return out, tables
