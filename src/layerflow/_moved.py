"""Public names that were renamed or folded, and where they are now.

Reading one from its old package raises the ``AttributeError`` Python raises for a missing name,
with the name to use instead (as NumPy answers its expired names), so that code written for an
earlier layerflow fails with the fix in its message rather than a bare "no attribute". The
package faces call :func:`moved_error` when a name is not found.
"""

from __future__ import annotations

_ANY = "every layerflow error is a layerflow.LayerflowError, itself a ValueError"

#: old public name -> where it is now, by package
MOVED: dict[str, dict[str, str]] = {
    "layerflow": {
        "CaptureError": "layerflow.ConfigError",
        "DatasetError": "layerflow.ConfigError (names, options) or layerflow.DataError (files)",
        "TrajectoryError": "layerflow.ConfigError (arrays, arguments) or layerflow.DataError "
                           "(files)",
    },
    "layerflow.ricci": {
        "ricci_sweep": "layerflow.ricci.ricci_k_scan (the same arguments)",
        "ricci_sweeps": "layerflow.ricci.ricci_k_scans (the same arguments)",
        "RicciSweep": "layerflow.ricci.RicciKScan",
        "geodesic_mass": "layerflow.ricci.path_mass (the same arguments)",
        "GeodesicMass": "layerflow.ricci.PathMass",
        "DisconnectedGraphError": "layerflow.NotComputableError",
        "RicciInputError": "layerflow.ConfigError",
    },
    "layerflow.transport": {
        "MemoryBudgetError": "layerflow.BudgetError",
        "OTConvergenceError": "layerflow.NotComputableError",
        "TransportError": "layerflow.ConfigError (input) or layerflow.NotComputableError",
    },
    "layerflow.maps": {
        "JacobianBudgetError": "layerflow.BudgetError",
        "MapsError": "layerflow.ConfigError",
    },
    "layerflow.stats": {
        "StatsError": "layerflow.ConfigError",
        "summary_tables": "layerflow.stats.grouped_statistics",
    },
    "layerflow.sweep": {
        "BackendError": "layerflow.ConfigError",
        "ConfigError": "layerflow.ConfigError",
    },
    "layerflow.data": {
        "DatasetError": "layerflow.ConfigError (names, options) or layerflow.DataError (files)",
        "IdxError": "layerflow.DataError",
        "NpzError": "layerflow.DataError",
    },
    "layerflow.models": {
        "ModelSpecError": "layerflow.ConfigError",
        "WeightsError": "layerflow.DataError",
    },
    "layerflow.plot": {"PlotError": "layerflow.ConfigError"},
    "layerflow.report": {"ReportError": "layerflow.DataError"},
    "layerflow.training": {
        "PenaltyError": "layerflow.ConfigError",
        "TrainConfigError": "layerflow.ConfigError",
        "UzawaError": "layerflow.ConfigError",
    },
    "layerflow.views": {"OptionError": "layerflow.ConfigError"},
}


def moved_error(package: str, name: str) -> AttributeError:
    """The error for reading ``name`` from ``package`` when it has no such attribute: Python's
    message, followed by where the name is now when it moved."""
    text = f"module {package!r} has no attribute {name!r}"
    where = MOVED.get(package, {}).get(name)
    if where is not None:
        text += f"; it is now {where}"
        if name.endswith("Error"):
            text += f" ({_ANY})"
    return AttributeError(text)


def answer_moved(package: str) -> None:
    """Give ``package`` (the ``__name__`` of an ``__init__`` that has no ``__getattr__``) one
    that raises :func:`moved_error`; set at run time, so type checkers still see only the
    package's real names."""
    import sys

    def __getattr__(name: str) -> object:
        raise moved_error(package, name)

    vars(sys.modules[package])["__getattr__"] = __getattr__
