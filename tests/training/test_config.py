from __future__ import annotations

import pytest
import torch

from layerflow._errors import ConfigError
from layerflow.training import TrainConfig


def test_defaults_are_valid() -> None:
    cfg = TrainConfig()
    assert cfg.optimizer == "adam" and not cfg.uses_transport
    assert TrainConfig(uzawa=True).uses_transport and TrainConfig(transport_weight=0.1).uses_transport
    assert cfg.to_dict()["batch_size"] == 32
    assert cfg.transport_reduction == "mean"  # the authors' cost (LAP main.py)
    assert TrainConfig(device="cpu").resolved_device() == torch.device("cpu")


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"optimizer": "lbfgs"}, "optimizer='lbfgs'"),
        ({"lr": 0.0}, "lr=0.0"),
        ({"lr": float("inf")}, "lr=inf"),
        ({"lr": "1e-3"}, "lr='1e-3'"),
        ({"epochs": -1}, "epochs=-1"),
        ({"epochs": 2.0}, "epochs=2.0"),
        ({"batch_size": 0}, "batch_size=0"),
        ({"weight_decay": -0.1}, "weight_decay=-0.1"),
        ({"l2": float("nan")}, "l2=nan"),
        ({"loss": "mse"}, "loss='mse'"),
        ({"seed": "0"}, "seed='0'"),
        ({"device": 3}, "device=3"),
        ({"device": "quantum"}, "device='quantum'"),
        ({"transport_weight": -1.0}, "transport_weight=-1.0"),
        ({"uzawa": 1}, "uzawa=1"),
        ({"uzawa": True, "transport_weight": 0.5}, "transport_weight=0.5 with uzawa=True"),
        ({"uzawa_tau": -2.0}, "uzawa_tau=-2.0"),
        ({"uzawa_every": 0}, "uzawa_every=0"),
        ({"momentum": 0.9}, "momentum=0.9 applies only"),
        ({"optimizer": "sgd", "momentum": -0.5}, "momentum=-0.5"),
        ({"eval_batch_size": 0}, "eval_batch_size=0"),
        ({"transport_reduction": "l1"}, "transport_reduction='l1': expected one of ['mean', 'sum']"),
    ],
)
def test_invalid_configs_name_the_field(kwargs: dict[str, object], needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        TrainConfig(**kwargs)  # type: ignore[arg-type]
    assert needle in str(info.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cuda_requested_without_cuda() -> None:
    with pytest.raises(ConfigError, match="CUDA is not available"):
        TrainConfig(device="cuda").resolved_device()
