"""Training: one loop for single networks and ensembles.

    from layerflow.training import TrainConfig, train, train_ensemble
    result = train(model, ds, TrainConfig(optimizer="rmsprop", lr=1e-3, epochs=50, batch_size=32))
    results = train_ensemble(spec, ds, cfg, seeds=range(64))   # 64 networks as one batched module

    pen = TransportPenalty(model, blocks=["layer1.0", "layer1.1"], h=1.0)   # any residual model
    uz = Uzawa(tau=0.1, every=10)                                         # adaptive weight
    loss = ce + uz.update(ce) * pen.cost()                                # in your own loop

The package is ``layerflow.training``; the function is ``layerflow.train`` (``lf.train``), so the
two names never shadow each other.
"""

from __future__ import annotations

from layerflow._moved import answer_moved
from layerflow.training._config import DEFAULT_EPOCHS, LAP_LR_MILESTONES, TrainConfig, TrainResult
from layerflow.training._ensemble import train_ensemble
from layerflow.training._loop import accuracy, train
from layerflow.training._objectives import LOSSES, predict
from layerflow.training._optim import OPTIMIZERS, OptimizerRule
from layerflow.training._penalty import TransportPenalty
from layerflow.training._uzawa import Uzawa

__all__ = [
    "DEFAULT_EPOCHS",
    "LAP_LR_MILESTONES",
    "LOSSES",
    "OPTIMIZERS",
    "OptimizerRule",
    "TrainConfig",
    "TrainResult",
    "TransportPenalty",
    "Uzawa",
    "accuracy",
    "predict",
    "train",
    "train_ensemble",
]

answer_moved(__name__)
