"""The transport view's options, in a module that imports neither NumPy nor SciPy, so that
``layerflow --help`` lists them without loading the view (:data:`layerflow.views.VIEW_OPTIONS`).

The solvers are ``auto`` and the keys of :data:`layerflow.transport._assignment.SOLVERS`
(:func:`~layerflow.views.registry_keys`: a solver added to the registry is allowed; before the
registry's module is imported, the names it is created with).
"""

from __future__ import annotations

from layerflow.views import Option, ViewOptions, registry_keys

#: samples for the OT score by default
DEFAULT_M = 1000
#: points of the W2 path when the exact computation on all N does not fit in memory: a seeded
#: subsample of this many (``w2_m`` overrides)
W2_FALLBACK_M = 2000
#: the keys :data:`layerflow.transport._assignment.SOLVERS` is created with
SOLVER_NAMES = ("pot", "scipy")
_solvers = registry_keys("layerflow.transport._assignment", "SOLVERS", SOLVER_NAMES)

OPTIONS = ViewOptions(
    "transport",
    (
        Option("m", "int", DEFAULT_M, "samples for the OT score (min(N, m) are used)", low=2),
        Option("seed", "int", 0, "seed of the OT-score and W2 subsamples", low=0),
        Option("solver", "str", "auto", "exact assignment solver",
               choices=lambda: ("auto", *sorted(_solvers()))),
        Option("w2_m", "int", None, "samples for the W2 path (min(N, w2_m), seeded); default: "
               f"all when the exact assignments fit in memory, else {W2_FALLBACK_M}", low=2,
               nullable=True),
        Option("w2_max_bytes", "int", None, "memory budget of the W2 path's exact assignments "
               "in bytes (default: half the available memory)", low=1, nullable=True),
        Option("final_norm", "bool", False, "keep a language model's final-norm state in the "
               "default run (left out by default; token ids are always left out)"),
    ),
)
