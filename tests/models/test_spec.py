from __future__ import annotations

import pytest

from layerflow._errors import ConfigError
from layerflow.models import ModelSpec


def test_hidden_widths_of_each_kind() -> None:
    assert ModelSpec("mlp", width=25, depth=3).hidden_widths == (25, 25, 25)
    assert ModelSpec("bottleneck", width=50, depth=5).hidden_widths == (50, 50, 25, 50, 50)
    assert ModelSpec("bottleneck", width=50, depth=11).hidden_widths == (50,) * 5 + (25,) + (50,) * 5
    assert ModelSpec("bottleneck", width=50, depth=3, bottleneck_width=7).hidden_widths == (50, 7, 50)
    assert ModelSpec("resnet", width=8, depth=4).hidden_widths == (8, 8, 8, 8)
    assert ModelSpec("mlp", widths=(3, 5)).hidden_widths == (3, 5)


def test_step_defaults_to_one_over_depth() -> None:
    assert ModelSpec("resnet", depth=8).step == pytest.approx(1 / 8)
    assert ModelSpec("resnet", depth=8, h=1).step == 1.0
    assert ModelSpec("resnet", depth=8, h=1).h == 1.0 and isinstance(ModelSpec("resnet", h=1).h, float)


def test_to_dict_round_trips() -> None:
    spec = ModelSpec("mlp", widths=(3, 4), activation="tanh")
    d = spec.to_dict()
    assert d["widths"] == [3, 4]
    assert ModelSpec(**{**d, "widths": tuple(d["widths"])}) == spec


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"kind": "cnn"}, "kind='cnn'"),
        ({"kind": "mlp", "width": 0}, "width=0"),
        ({"kind": "mlp", "width": 2.5}, "width=2.5"),
        ({"kind": "mlp", "depth": True}, "depth=True"),
        ({"kind": "mlp", "activation": "swish!"}, "activation='swish!'"),
        ({"kind": "mlp", "h": 0.1}, "h=0.1 applies only"),
        ({"kind": "resnet", "h": -1.0}, "h=-1.0"),
        ({"kind": "resnet", "h": float("nan")}, "h=nan"),
        ({"kind": "resnet", "h": "big"}, "h='big'"),
        ({"kind": "mlp", "bottleneck_width": 3}, "bottleneck_width=3 applies only"),
        ({"kind": "bottleneck", "bottleneck_width": 0}, "bottleneck_width=0"),
        ({"kind": "bottleneck", "depth": 2}, "depth=2"),
        ({"kind": "resnet", "widths": (3,)}, "widths=(3,) applies only"),
        ({"kind": "mlp", "widths": ()}, "widths=()"),
        ({"kind": "mlp", "widths": (3, 0)}, "widths[1]=0"),
        ({"kind": "mlp", "widths": 5}, "widths=5"),
    ],
)
def test_invalid_specs_name_the_field(kwargs: dict[str, object], needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        ModelSpec(**kwargs)  # type: ignore[arg-type]
    assert needle in str(info.value)
