"""layerflow: what a deep network does to data, layer by layer, as geometry.

Public names::

    import layerflow as lf
    ds   = lf.load_dataset("moons", n=2000, noise=0.1, seed=0)
    traj = lf.capture(model, ds.X_test)             # or lf.Trajectory([X0, X1, ...], labels=y)
    lf.transport.line_shape_score(traj)
    lf.ricci.ricci_coefficient(traj, k=30)
    lf.train(model, ds, lf.TrainConfig(...))
    lf.plot.tracks(traj)                            # figures (matplotlib, loaded on first use)

Heavy modules (torch, POT, the Ricci kernels) load on first use, so ``import layerflow`` is quick
and never imports Dask, Ray or matplotlib.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from layerflow._errors import (
    BudgetError,
    ConfigError,
    DataError,
    FetchChecksumError,
    FetchOfflineError,
    LayerflowError,
    NotComputableError,
)
from layerflow._moved import moved_error
from layerflow._version import __version__

# public name -> module that defines it (imported on first access)
_LAZY_NAMES: dict[str, str] = {
    "Trajectory": "layerflow._trajectory",
    "capture": "layerflow._capture",
    "Dataset": "layerflow.data",
    "load_dataset": "layerflow.data",
    "list_datasets": "layerflow.data",
    "train": "layerflow.training",
    "TrainConfig": "layerflow.training",
    "TrainResult": "layerflow.training",
    "train_ensemble": "layerflow.training",
    "TransportPenalty": "layerflow.training",
    "Uzawa": "layerflow.training",
    "ModelSpec": "layerflow.models",
    "build_model": "layerflow.models",
    "reproducible": "layerflow._environment",
    "environment": "layerflow._environment",
}
_SUBMODULES = {
    "data", "models", "training", "transport", "ricci", "maps", "plot", "sweep", "report", "stats",
    "views",
}

__all__ = [
    "BudgetError", "ConfigError", "DataError", "FetchChecksumError", "FetchOfflineError",
    "LayerflowError", "NotComputableError", "__version__", *_LAZY_NAMES, *sorted(_SUBMODULES)]


def __getattr__(name: str) -> Any:
    if name in _LAZY_NAMES:
        value = getattr(importlib.import_module(_LAZY_NAMES[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        module = importlib.import_module(f"layerflow.{name}")
        globals()[name] = module
        return module
    raise moved_error("layerflow", name)


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # pragma: no cover
    from layerflow import (  # noqa: F401
        data,
        maps,
        models,
        plot,
        report,
        ricci,
        stats,
        sweep,
        training,
        transport,
        views,
    )
    from layerflow._capture import capture  # noqa: F401
    from layerflow._environment import environment, reproducible  # noqa: F401
    from layerflow._trajectory import Trajectory  # noqa: F401
    from layerflow.data import Dataset, list_datasets, load_dataset  # noqa: F401
    from layerflow.models import ModelSpec, build_model  # noqa: F401
    from layerflow.training import (  # noqa: F401
        TrainConfig,
        TrainResult,
        TransportPenalty,
        Uzawa,
        train,
        train_ensemble,
    )
