"""Sweep configs: validation names the bad key; grid expansion; stable run ids."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from layerflow._errors import ConfigError
from layerflow.sweep import builtin_configs, expand_runs, load_config, run_sweep
from layerflow.sweep._grid import run_id_of
from layerflow.sweep._source import parse_yaml

BASE = """
name: t
seeds: 2
datasets: [moons]
models:
  - {kind: mlp, width: [4, 8], depth: 2}
training: {lr: [0.01, 0.02], epochs: 1}
analysis: {metrics: [ricci], k: 5, test_points: 20}
"""


def cfg(**over: object) -> dict:
    d = parse_yaml(BASE)
    d.update(over)
    return d


@pytest.mark.parametrize(
    ("patch", "key", "fragment"),
    [
        ({"epochz": 3}, "epochz", "unknown key"),
        ({"training": {"lrr": 0.1}}, "training.lrr", "allowed keys here"),
        ({"models": [{"kind": "mlp", "widht": 4}]}, "models[0].widht", "unknown key"),
        ({"analysis": {"kk": 3}}, "analysis.kk", "unknown key"),
        ({"training": {"lr": "fast"}}, "training.lr", "expected a finite number"),
        ({"training": {"lr": [0.1, "x"]}}, "training.lr[1]", "'x'"),
        ({"training": {"optimizer": "lbfgs"}}, "training.optimizer",
         "expected one of ['adam', 'adamw', 'rmsprop', 'sgd']"),
        ({"training": {"uzawa": True, "transport_weight": 0.1}}, "training.transport_weight",
         "leave transport"),
        ({"arms": {"u": {"uzawa": True, "transport_weight": 0.1}}}, "arms.u.transport_weight",
         "leave transport"),
        ({"models": [{"kind": "mlp", "activation": "nope"}]}, "models[0].activation", "nope"),
        ({"training": {"epochs": 1.5}}, "training.epochs", "expected an int"),
        ({"training": {"uzawa": "yes"}}, "training.uzawa", "expected True or False"),
        ({"train_fraction": 1.5}, "train_fraction", "0 < train_fraction <= 1"),
        ({"train_fraction": [0.5, 0.0]}, "train_fraction[1]", "0 < train_fraction <= 1"),
        ({"training": {"train_fraction": 0.5}}, "training.train_fraction",
         "not a training field"),
        ({"seeds": "many"}, "seeds", "expected a count"),
        ({"seeds": [1, 1]}, "seeds", "repeats"),
        ({"seeds": 0}, "seeds", ">= 1"),
        ({"datasets": []}, "datasets", "non-empty list"),
        ({"datasets": [{"n": 5}]}, "datasets[0].name", "missing"),
        ({"datasets": [{"name": "moons", "size": 5}]}, "datasets[0].size", "unknown key"),
        ({"datasets": ["no_such_set"]}, "datasets[0].name", "unknown dataset"),
        ({"models": [{"width": 4}]}, "models[0].kind", "missing"),
        ({"models": [{"kind": "cnn"}]}, "models[0].kind",
         "expected one of ['bottleneck', 'mlp', 'resnet', 'transformer']"),
        ({"models": [{"kind": "transformer"}]}, "models[0].vocab", "vocab=None"),
        ({"models": [{"kind": "mlp", "depth": 0}]}, "models[0].depth", ">= 1"),
        ({"models": [{"kind": "mlp", "width": []}]}, "models[0].width", "empty list"),
        ({"analysis": {"metrics": ["ricci", "lss"]}}, "analysis.metrics[1]", "transport"),
        ({"analysis": {"ks": [10, 20], "k": 30}}, "analysis.k", "not one of ks"),
        ({"analysis": {"k": 30, "test_points": 30}}, "analysis.test_points", "more than 30"),
        ({"arms": {"untrained": {}}}, "arms.untrained", "reserved"),
        ({"arms": {"wd": {"weight_decay": -1.0}}}, "arms.wd.weight_decay", ">= 0"),
        ({"arms": {"wd": {"seeds": 3}}}, "arms.wd.seeds", "unknown key"),
        ({"baselines": {"untrained": 1}}, "baselines.untrained", "true or false"),
        ({"backend": "spark"}, "backend.name", "local, dask, ray"),
        ({"backend": {"name": "local", "workers": 0}}, "backend.workers", ">= 1"),
        ({"models": "mlp"}, "models", "non-empty list"),
        ({"training": {1: 0.1}}, "training", "keys must be strings, got 1"),
        ({"training": {"lr": [0.1, 0.1]}}, "training.lr", "[0.1, 0.1] repeats a value"),
        ({"name": ""}, "name", "expected a non-empty string, got str ''"),
        ({"models": [{"kind": "mlp", "activation": 3}]}, "models[0].activation",
         "activation=3: expected one of"),
        ({"datasets": [{"name": "moons", "args": {"shape": [1, 2]}}]}, "datasets[0].args.shape",
         "expected a scalar, got list [1, 2]"),
        ({"datasets": [{"name": "moons", "n": 50, "args": {"n": 60}}]}, "datasets[0].args.n",
         "set 'n' directly, not under args"),
        ({"analysis": {"metrics": "ricci"}}, "analysis.metrics",
         "expected a list (subset of ['transport', 'ricci', 'jacobian']), got str 'ricci'"),
        ({"analysis": {"metrics": ["ricci", "ricci"]}}, "analysis.metrics",
         "['ricci', 'ricci'] repeats a metric"),
        ({"analysis": {"ks": []}}, "analysis.ks", "expected a non-empty list of integers, got list []"),
        ({"analysis": {"ks": 5}}, "analysis.ks", "expected a non-empty list of integers, got int 5"),
        ({"analysis": {"ks": [5, 8, 5], "k": 5}}, "analysis.ks", "[5, 8, 5] repeats a value"),
        ({"datasets": ["moons", "circles", {"name": "moons"}]}, "datasets[2]",
         "{'name': 'moons'} repeats datasets[0]"),
        ({"arms": {}}, "arms", "an empty mapping; give at least one arm"),
    ],
)
def test_invalid_config_names_the_key(patch: dict, key: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(cfg(**patch))
    assert info.value.key == key
    assert str(info.value).startswith(f"{key}: ")
    assert fragment in str(info.value)


def test_missing_required_sections() -> None:
    d = cfg()
    del d["models"]
    with pytest.raises(ConfigError, match=r"^models: missing"):
        load_config(d)
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config("- a list\n- at the top\n")


def test_python_object_tag_refused_and_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = BASE + f'payload: !!python/object/apply:os.system ["touch {marker}"]\n'
    with pytest.raises(ConfigError, match="refused YAML"):
        load_config(text)
    assert not marker.exists()
    for tag in ("!!python/object:builtins.dict {}", "!!python/name:os.system"):
        with pytest.raises(ConfigError, match="refused YAML"):
            load_config(BASE + f"extra: {tag}\n")


def test_duplicate_key_and_bad_yaml() -> None:
    with pytest.raises(ConfigError, match=r"^seeds: duplicate key at line"):
        load_config(BASE + "seeds: 3\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(BASE + "models: [\n")


def test_scientific_floats_parse_as_numbers() -> None:
    c = load_config(BASE.replace("lr: [0.01, 0.02]", "lr: [1e-2, 2E-2]"))
    assert c.training["lr"] == [0.01, 0.02]


def test_invalid_config_fails_before_any_training(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(ConfigError, match=r"training\.lrr"):
        run_sweep(cfg(training={"lrr": 1.0}), out)
    assert not out.exists()


def test_config_files_and_builtins(tmp_path: Path) -> None:
    p = tmp_path / "c.yaml"
    p.write_text(BASE)
    assert load_config(p).name == "t"
    assert load_config(str(p)).to_dict() == load_config(BASE).to_dict()
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="neither a YAML file nor a built-in"):
        load_config("no-such-builtin")
    assert "paper-ricci" in builtin_configs()
    for name in builtin_configs():
        assert load_config(name).runs()


def test_resolved_config_round_trips() -> None:
    c = load_config(cfg(arms={"plain": {}, "wd": {"weight_decay": [0.1, 0.2]}},
                        val_fraction=0.2, tuning={"seeds": [1], "fraction": 1.0}))
    again = load_config(c.to_yaml())
    assert again.to_dict() == c.to_dict()
    assert [r.run_id for r in again.runs()] == [r.run_id for r in c.runs()]


def test_grid_expansion_counts() -> None:
    d = cfg(
        seeds=[3, 5, 7],
        datasets=["moons", {"name": "circles", "n": 300}],
        models=[{"kind": "mlp", "width": [4, 8, 16], "depth": [2, 3]},
                {"kind": "resnet", "width": 4, "depth": 3, "h": [0.1, 0.5]}],
        training={"lr": [0.01, 0.02], "epochs": [1, 2]},
        arms={"plain": {}, "wd": {"weight_decay": [0.1, 0.01, 0.001]}},
        baselines={"untrained": True, "seeds": 2},
        val_fraction=0.2, tuning={"seeds": [3], "fraction": 1.0},
    )
    runs = expand_runs(load_config(d))
    n_models = 3 * 2 + 2
    n_train = 2 * 2 * (1 + 3)
    # two test seeds run every setting; the tuning seed 3 only the tuned arm's (wd) settings
    expected_trained = 2 * n_models * (n_train * 2 + 2 * 2 * 3)
    expected_baseline = 2 * n_models * 2
    assert sum(r.trained for r in runs) == expected_trained
    assert sum(not r.trained for r in runs) == expected_baseline
    assert len({r.run_id for r in runs}) == len(runs)
    # every (dataset, model, arm, lr, epochs, wd, seed) combination appears exactly once
    combos = {(r.dataset["name"], r.model["kind"], r.model["width"], r.model["depth"],
               r.model["h"], r.arm, r.training["lr"], r.training["epochs"],
               r.training["weight_decay"], r.seed) for r in runs if r.trained}
    assert len(combos) == expected_trained
    assert {r.arm for r in runs} == {"plain", "wd", "untrained"}
    assert all(r.training is None and r.seed in (0, 1) for r in runs if not r.trained)


def test_run_ids_are_stable_and_content_derived() -> None:
    a = expand_runs(load_config(cfg()))
    # same content, keys in another order, another name and output folder
    d = cfg(name="other", out="/somewhere/else")
    d = dict(reversed(list(d.items())))
    d["training"] = dict(reversed(list(d["training"].items())))
    b = expand_runs(load_config(d))
    assert [r.run_id for r in a] == [r.run_id for r in b]
    # explicit defaults give the same ids as implicit ones
    c = expand_runs(load_config(cfg(training={"lr": [0.01, 0.02], "epochs": 1,
                                              "optimizer": "adam", "batch_size": 32})))
    assert [r.run_id for r in a] == [r.run_id for r in c]
    # any change of content changes the id
    e = expand_runs(load_config(cfg(training={"lr": [0.01, 0.02], "epochs": 2})))
    assert not {r.run_id for r in a} & {r.run_id for r in e}
    # the id is the hash of the canonical content, recomputed independently here
    import hashlib
    import json
    r = a[0]
    content = {"dataset": r.dataset, "model": r.model, "training": r.training, "arm": r.arm,
               "seed": r.seed, "trained": r.trained, "analysis": r.analysis}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"))
    assert r.run_id == hashlib.sha256(text.encode()).hexdigest()[:16] == run_id_of(content)


def test_seed_count_and_list() -> None:
    assert load_config(cfg(seeds=4)).seeds == (0, 1, 2, 3)
    assert load_config(cfg(seeds=[9, 2])).seeds == (9, 2)
    grid = list(itertools.product([4, 8], [0.01, 0.02]))
    assert len(expand_runs(load_config(cfg(seeds=[9, 2])))) == 2 * len(grid)


def test_val_fraction_is_held_out_for_every_fraction_and_recorded() -> None:
    c = load_config(cfg(train_fraction=[0.5, 1.0], val_fraction=0.2))
    runs = expand_runs(c)
    assert {r.val_fraction for r in runs} == {0.2}
    assert {r.train_fraction for r in runs} == {0.5, 1.0}
    assert all("val_fraction" not in r.loader_args for r in runs)
    assert c.to_dict()["val_fraction"] == 0.2
    with pytest.raises(ConfigError, match=r"^val_fraction: 1\.0: expected"):
        load_config(cfg(val_fraction=1.0))
