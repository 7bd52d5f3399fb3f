"""Sweep config checks: residual kinds, the validation split's one home, arms that expand to no
run, and errors of combinations keyed at the field that causes them."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner

from layerflow._errors import ConfigError
from layerflow.cli import cli
from layerflow.models import KINDS, ModelSpec
from layerflow.sweep import builtin_configs, expand_runs, load_config

TOKENS: dict[str, Any] = {
    "name": "tokens",
    "datasets": [{"name": "tokens:sorted", "n": 80, "length": 4, "vocab": 6, "seed": 2}],
    "models": [{"kind": "transformer", "width": 4, "depth": 1, "heads": 2, "vocab": 6}],
    "training": {"steps": 2, "batch_size": 16},
    "analysis": {"metrics": ["transport"], "test_points": 10},
}


def _mlp(**over: Any) -> dict[str, Any]:
    return {"datasets": ["moons"], "models": [{"kind": "mlp", "width": 4, "depth": 2}],
            "training": {"epochs": 1}, "analysis": {"metrics": ["transport"]}, **over}


# ----------------------------------------------------------------------------- 1: residual kinds
def test_residual_kinds_are_resnet_and_transformer() -> None:
    """SPEC §4: the transport cost is that of a residual network; the transformer's blocks are
    residual too (x + attn(x), x + mlp(x))."""
    assert ModelSpec.RESIDUAL_KINDS == ("resnet", "transformer")
    assert set(ModelSpec.RESIDUAL_KINDS) <= set(KINDS)


def test_a_transformer_keeps_its_penalised_arms() -> None:
    cfg = {**TOKENS, "arms": {"plain": {}, "uzawa": {"uzawa": True},
                              "fixed": {"transport_weight": 0.5}}}
    runs = expand_runs(load_config(cfg))
    assert [r.arm for r in runs] == ["plain", "uzawa", "fixed"]


def test_a_plain_model_beside_a_residual_one_drops_only_its_penalised_arm() -> None:
    cfg = _mlp(models=[{"kind": "mlp", "width": 4, "depth": 2},
                       {"kind": "resnet", "width": 4, "depth": 2}],
               arms={"plain": {}, "uzawa": {"uzawa": True}})
    runs = expand_runs(load_config(cfg))
    assert [(r.model["kind"], r.arm) for r in runs] == [("mlp", "plain"), ("resnet", "plain"),
                                                         ("resnet", "uzawa")]


# ----------------------------------------------------------------------------- 2: val_fraction
@pytest.mark.parametrize(
    ("over", "key"),
    [
        ({"training": {"epochs": 1, "val_fraction": 0.2}}, "training.val_fraction"),
        ({"training": {"epochs": 1, "val_fraction": [0.0, 0.2]}}, "training.val_fraction"),
        ({"val_fraction": 0.1, "training": {"epochs": 1, "val_fraction": 0.2}},
         "training.val_fraction"),
        ({"arms": {"a": {"val_fraction": 0.3}}}, "arms.a.val_fraction"),
        ({"training": {"epochs": 1, "val_seed": 4}}, "training.val_seed"),
        ({"arms": {"a": {}, "b": {"val_seed": 1}}}, "arms.b.val_seed"),
    ],
)
def test_the_validation_split_is_given_at_the_top_level_only(over: dict[str, Any],
                                                             key: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(_mlp(**over))
    assert info.value.key == key
    assert "give val_fraction at the top level" in str(info.value)


def test_a_zero_validation_field_keeps_the_run_ids() -> None:
    plain = expand_runs(load_config(_mlp()))
    zero = expand_runs(load_config(_mlp(training={"epochs": 1, "val_fraction": 0.0,
                                                  "val_seed": 0})))
    assert [r.run_id for r in zero] == [r.run_id for r in plain]
    top = expand_runs(load_config(_mlp(val_fraction=0.2)))
    assert [r.val_fraction for r in top] == [0.2]
    assert top[0].columns()["val_fraction"] == 0.2


# ----------------------------------------------------------------------------- 5: empty arms
@pytest.mark.parametrize(
    ("over", "key", "fragment"),
    [
        ({"training": {"epochs": 1, "transport_weight": 1.0}}, "training.transport_weight",
         "models[0] is mlp"),
        ({"training": {"epochs": 1, "uzawa": True}}, "training.uzawa", "no run"),
        ({"arms": {"plain": {}, "pen": {"transport_weight": 0.5}}}, "arms.pen.transport_weight",
         "kind resnet or transformer"),
        ({"training": {"epochs": 1, "transport_weight": 0.5}, "arms": {"wd": {"lr": 0.1}}},
         "training.transport_weight", "arm wd"),
    ],
)
def test_an_arm_without_runs_is_an_error(over: dict[str, Any], key: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(_mlp(**over))
    assert info.value.key == key
    assert fragment in str(info.value)


def test_an_arm_penalised_only_on_some_grid_points_is_kept() -> None:
    runs = expand_runs(load_config(_mlp(training={"epochs": 1,
                                                  "transport_weight": [0.0, 1.0]})))
    assert [r.training["transport_weight"] for r in runs] == [0.0]


def test_builtin_configs_expand_to_runs_in_every_arm() -> None:
    for name in builtin_configs():
        cfg = load_config(name)
        arms = set(cfg.arms or {"default": {}})
        assert {r.arm for r in expand_runs(cfg) if r.trained} == arms, name


# ----------------------------------------------------------------------------- 8: field keys
@pytest.mark.parametrize(
    ("over", "key"),
    [
        ({"models": [{"kind": "transformer"}]}, "models[0].vocab"),
        ({"models": [{"kind": "mlp"}, {"kind": "transformer", "vocab": 4, "width": [4, 6],
                                       "heads": 4}]}, "models[1].heads"),
        ({"training": {"uzawa": True, "transport_weight": 0.1}}, "training.transport_weight"),
        ({"training": {"transport_weight": [0.0, 0.1], "uzawa": True}},
         "training.transport_weight[1]"),
        ({"training": {"transport_weight": 0.1}, "arms": {"a": {"uzawa": True}}},
         "arms.a.uzawa"),
        ({"arms": {"u": {"uzawa": True, "transport_weight": 0.1}}}, "arms.u.transport_weight"),
    ],
)
def test_a_combination_error_names_the_field(over: dict[str, Any], key: str) -> None:
    cfg = _mlp(**over)
    cfg["models"] = over.get("models", [{"kind": "resnet", "width": 4, "depth": 2}])
    with pytest.raises(ConfigError) as info:
        load_config(cfg)
    assert info.value.key == key
    assert str(info.value).startswith(f"{key}: ")


def test_run_turns_a_report_error_into_a_clean_message(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A sweep that leaves no finished run (here: a stand-in that writes nothing) makes
    ``load_input`` raise DataError; ``layerflow run`` says so without a traceback."""
    import layerflow.sweep as sweep

    out = tmp_path / "out"
    out.mkdir()

    def fake_run_sweep(cfg: Any, out_dir: Any, **kw: Any) -> Any:
        return SimpleNamespace(statuses={}, n_runs=0, n_skipped=0, seconds=0.0, out=out,
                               n_failed=0)

    monkeypatch.setattr(sweep, "run_sweep", fake_run_sweep)
    res = CliRunner().invoke(cli, ["run", "default", "--out", str(out)])
    assert res.exit_code == 1, res.output
    assert "Error: no report: " in res.output and "holds no" in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
    assert "Traceback" not in res.output


def test_run_refuses_a_config_that_expands_to_no_run(tmp_path: Path) -> None:
    p = tmp_path / "empty.yaml"
    p.write_text("datasets: [moons]\nmodels: [{kind: mlp}]\n"
                 "training: {transport_weight: 1.0}\n")
    res = CliRunner().invoke(cli, ["run", str(p), "--out", str(tmp_path / "out")])
    assert res.exit_code == 1
    assert res.output.startswith("Error: training.transport_weight: 1.0 puts the transport")
    assert not (tmp_path / "out").exists()
