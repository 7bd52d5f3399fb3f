"""The Ricci view's options, in a module that imports neither NumPy nor the kernels, so that
``layerflow --help`` lists them without loading the view (:data:`layerflow.views.VIEW_OPTIONS`).

The allowed curvature kinds and protocols are the keys of :data:`~layerflow.ricci.CURVATURES`
and :data:`~layerflow.ricci.PROTOCOLS` (:func:`~layerflow.views.registry_keys`: a kind added to
the registry is allowed; before the registry's module is imported, the names it is created with).
"""

from __future__ import annotations

from layerflow.views import Option, ViewOptions, registry_keys

#: neighbours per point of a kNN graph when none is given: the default ``k`` of every Ricci
#: function, of the Ricci view (its primary k when 30 is among the swept ks, or none are given)
#: and of the CLI. 30 is the smallest k of the authors' analysis (Baptista et al. 2024 report
#: k = 30, 120 and 300; their R script's pooled coefficient at 30).
DEFAULT_K = 30
#: the protocol of a coefficient when none is named (and the Ricci view's primary protocol):
#: layerflow's own (union kNN graphs, every layer pair); "baptista" is the authors' R code's
DEFAULT_PROTOCOL = "layerflow"
#: points of the kNN graphs by default: a trajectory with more rows is read on a seeded
#: subsample of this many (a corpus of tokens; exact kNN graphs grow as N²)
MAX_POINTS = 20_000
#: the keys :data:`~layerflow.ricci.CURVATURES` is created with
CURVATURE_KINDS = ("forman", "augmented", "ollivier")
#: the keys :data:`~layerflow.ricci.PROTOCOLS` is created with
PROTOCOL_NAMES = ("layerflow", "baptista")

OPTIONS = ViewOptions(
    "ricci",
    (
        Option("k", "int", None, f"neighbours per point (the primary k; default {DEFAULT_K})",
               low=1, nullable=True, resolved_default=DEFAULT_K),
        Option("ks", "ints", None, "every k to compute (one neighbour search; default [k])",
               low=1, nullable=True),
        Option("curvature", "str", "forman", "edge curvature kind",
               choices=registry_keys("layerflow.ricci._curvature", "CURVATURES", CURVATURE_KINDS)),
        Option("degree", "str", None, "kNN degree for the first protocol: union (symmetric) or "
               "directed (in + out); default: the protocol's own", choices=("union", "directed"),
               nullable=True),
        Option("geodesics", "str", "auto", "geodesic mass: exact, sampled, or auto (sampled "
               "above 20,000 points)", choices=("auto", "exact", "sampled")),
        Option("seed", "int", 0, "seed of the sampled geodesic mass and of the point subsample",
               low=0),
        Option("protocols", "strs", [DEFAULT_PROTOCOL], "protocols of the coefficient: "
               "layerflow (union graphs, every pair) and/or baptista (the authors' R code); the "
               "first is primary (its coefficient at k is the run's ricci_rho); every protocol's "
               "coefficients are rows of the coefficients table",
               choices=registry_keys("layerflow.ricci._core", "PROTOCOLS", PROTOCOL_NAMES)),
        Option("max_points", "int", MAX_POINTS, "points of the kNN graphs: a trajectory with "
               "more rows is read on a seeded subsample of this many (null: all)", low=4,
               nullable=True),
        Option("final_norm", "bool", False, "keep a language model's final-norm state (left "
               "out by default; token ids are always left out)"),
    ),
)
