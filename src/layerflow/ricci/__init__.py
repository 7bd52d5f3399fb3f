"""The Ricci view: kNN graphs, discrete curvature, geodesic mass and Ricci coefficients.

Baptista et al. 2024, "Deep Learning as Ricci Flow" (SPEC §3)::

    G   = knn_graph(X, k=30)                      # symmetric 0/1 CSR, zero diagonal
    F   = edge_curvature(G, kind="forman")        # same sparsity; "augmented", "ollivier"
    g   = geodesic_mass(G)                        # Σ_{i<j} hop distance (inf if disconnected)
    res = ricci_coefficient(traj, k=30)           # ρ = corr_l(g_{l+1} − g_l, Ric_l)
    ricci_coefficient(traj, k=30, protocol="baptista")   # the authors' R conventions
    pooled_coefficient([res_1, res_2, …])         # R's coefficient pooled over (layer, network)
    local_coefficients(traj, k=30)                # per sample
    layer_coefficients(traj, k=30)                # per layer
    ricci_sweep(traj, ks=(10, 20, 30))            # several k from one neighbour search
    ricci_sweeps(traj, ks, protocols=("layerflow", "baptista"))  # and several protocols
    summary(traj, k=30)                           # flat dict for `layerflow analyze` and sweeps
"""

from __future__ import annotations

from layerflow.ricci.checks import RicciInputError
from layerflow.ricci.coefficients import (
    DisconnectedGraphError,
    RicciCoefficient,
    ricci_coefficient,
    summary,
)
from layerflow.ricci.curvature import CURVATURES, edge_curvature, scalar_curvature
from layerflow.ricci.geodesics import AUTO_EXACT_MAX_N, GeodesicMass, geodesic_mass
from layerflow.ricci.graphs import knn_graph
from layerflow.ricci.knn import TIE_RULES, knn_indices
from layerflow.ricci.local import (
    LayerCoefficients,
    LocalCoefficients,
    layer_coefficients,
    local_coefficients,
)
from layerflow.ricci.pooled import PooledCoefficient, pooled_coefficient
from layerflow.ricci.protocols import PROTOCOLS
from layerflow.ricci.sweep import RicciSweep, ricci_sweep, ricci_sweeps

__all__ = [
    "AUTO_EXACT_MAX_N",
    "CURVATURES",
    "PROTOCOLS",
    "TIE_RULES",
    "DisconnectedGraphError",
    "GeodesicMass",
    "LayerCoefficients",
    "LocalCoefficients",
    "PooledCoefficient",
    "RicciCoefficient",
    "RicciInputError",
    "RicciSweep",
    "edge_curvature",
    "geodesic_mass",
    "knn_graph",
    "knn_indices",
    "layer_coefficients",
    "local_coefficients",
    "pooled_coefficient",
    "ricci_coefficient",
    "ricci_sweep",
    "ricci_sweeps",
    "scalar_curvature",
    "summary",
]
