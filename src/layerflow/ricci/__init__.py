"""The Ricci view: kNN graphs, discrete curvature, geodesic mass and Ricci coefficients.

Baptista et al. 2024, "Deep Learning as Ricci Flow"::

    G   = knn_graph(X, k=30)                      # symmetric 0/1 CSR, zero diagonal
    F   = edge_curvature(G, kind="forman")        # same sparsity; "augmented", "ollivier"
    g   = path_mass(G)                        # Σ_{i<j} hop distance (inf if disconnected)
    res = ricci_coefficient(traj, k=30)           # ρ = corr_l(g_{l+1} − g_l, Ric_l)
    ricci_coefficient(traj, k=30, protocol="baptista")   # the authors' R conventions
    pooled_coefficient([res_1, res_2, …])         # R's coefficient pooled over (layer, network)
    local_coefficients(traj, k=30)                # per sample
    layer_coefficients(traj, k=30)                # per layer
    ricci_k_scan(traj, ks=(10, 20, 30))            # several k from one neighbour search
    ricci_k_scans(traj, ks, protocols=("layerflow", "baptista"))  # and several protocols
    summary(traj, k=30)                           # flat dict for `layerflow analyze` and sweeps

Modules, as the paper reads: :mod:`~layerflow.ricci._graphs` (kNN graphs, input checks),
:mod:`~layerflow.ricci._curvature` (the :data:`CURVATURES` registry and its kernels: triangles,
Ollivier's W1), :mod:`~layerflow.ricci._path_mass`
(geodesic mass), :mod:`~layerflow.ricci._coefficients` (global ρ, the protocols, the k family),
:mod:`~layerflow.ricci._local` (per sample and per layer), :mod:`~layerflow.ricci._pooled` (R's
pooled coefficient), :mod:`~layerflow.ricci._view` (the view's declaration). Below them, private:
``_core`` (states → per-layer measures, one frozen options object), ``_knn/`` (exact neighbour
search; the back-ends of the ``knn=`` argument, :data:`KNN_METHODS`), ``_shortest_paths/`` (BFS,
geodesic mass, the nested graphs of every k), ``_threads`` (which work runs on how many threads).

State kept between calls, both visible: :data:`INPUT_CACHE` (the measures of the last input
states, shared by every network analysed on one data set; ``INPUT_CACHE.clear()``) and the layer
thread pool; :func:`clear_caches` clears both.

The names above are imported on first use (:mod:`layerflow._lazy`): ``import layerflow.ricci``
loads none of the kernels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from layerflow._lazy import lazy_face

if TYPE_CHECKING:
    from layerflow.ricci._coefficients import (
        PROTOCOLS,
        RicciCoefficient,
        RicciKScan,
        ricci_coefficient,
        ricci_k_scan,
        ricci_k_scans,
        summary,
    )
    from layerflow.ricci._core import INPUT_CACHE
    from layerflow.ricci._curvature import CURVATURES, edge_curvature, scalar_curvature
    from layerflow.ricci._graphs import (
        KNN_METHODS,
        TIE_RULES,
        knn_graph,
        knn_indices,
    )
    from layerflow.ricci._local import (
        LayerCoefficients,
        LocalCoefficients,
        layer_coefficients,
        local_coefficients,
    )
    from layerflow.ricci._options import DEFAULT_K, DEFAULT_PROTOCOL
    from layerflow.ricci._path_mass import AUTO_EXACT_MAX_N, PathMass, path_mass
    from layerflow.ricci._pooled import PooledCoefficient, pooled_coefficient


def clear_caches() -> None:
    """Forget the input states' measures kept between calls (:data:`INPUT_CACHE`) and shut the
    layer thread pool down; the next call starts afresh (the same results, more work)."""
    from layerflow.ricci._core import INPUT_CACHE
    from layerflow.ricci._threads import LAYER_POOL

    INPUT_CACHE.clear()
    LAYER_POOL.shutdown()


__all__ = [
    "AUTO_EXACT_MAX_N",
    "CURVATURES",
    "DEFAULT_K",
    "DEFAULT_PROTOCOL",
    "INPUT_CACHE",
    "KNN_METHODS",
    "PROTOCOLS",
    "TIE_RULES",
    "LayerCoefficients",
    "LocalCoefficients",
    "PathMass",
    "PooledCoefficient",
    "RicciCoefficient",
    "RicciKScan",
    "clear_caches",
    "edge_curvature",
    "knn_graph",
    "knn_indices",
    "layer_coefficients",
    "local_coefficients",
    "path_mass",
    "pooled_coefficient",
    "ricci_coefficient",
    "ricci_k_scan",
    "ricci_k_scans",
    "scalar_curvature",
    "summary",
]

lazy_face(__name__, __file__)
