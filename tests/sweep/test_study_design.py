"""The study design a sweep declares and records: data draws (``data_seed``), the full data-set
spec, the arm role written once, the validation split carved from the labelled budget, tuning
seeds apart from test seeds, and low data declared before the study runs."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import layerflow as lf
from layerflow._errors import ConfigError
from layerflow.sweep import expand_runs, load_config, run_sweep
from layerflow.sweep._grid import arm_role_of, dataset_spec_of
from layerflow.sweep._tasks.train import load_run_dataset


def _design(**over: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "seeds": 4,
        "data_draw": "seed",
        "tuning": {"seeds": [0], "fraction": 1.0},
        "datasets": [{"name": "moons", "n": 400, "noise": 0.2}],
        "train_fraction": [0.1, 1.0],
        "low_data": [0.1],
        "val_fraction": 0.25,
        "models": [{"kind": "resnet", "width": 4, "depth": 2}],
        "training": {"steps": 3, "batch_size": 16},
        "arms": {"plain": {}, "wd": {"weight_decay": [1e-3, 1e-2]},
                 "transport": {"uzawa": True, "uzawa_tau": [0.1, 1.0]}},
        "analysis": {"metrics": ["transport"], "test_points": 20, "m": 20},
    }
    cfg.update(over)
    return cfg


def _rows(X: np.ndarray) -> set[bytes]:
    return {r.tobytes() for r in np.ascontiguousarray(X, dtype=np.float32)}


# ----------------------------------------------------------------------------- data draws
def test_each_seed_is_its_own_draw_and_the_draw_fixes_the_data() -> None:
    runs = [r for r in expand_runs(load_config(_design())) if r.train_fraction == 0.1]
    by_seed: dict[int, list[Any]] = {}
    for r in runs:
        by_seed.setdefault(r.seed, []).append(r)
    assert {s: {r.data_seed for r in rs} for s, rs in by_seed.items()} == {1: {1}, 2: {2}, 3: {3}}
    one = {s: load_run_dataset(rs[0]) for s, rs in by_seed.items()}
    # different draws: different samples (the generated set itself is redrawn)
    assert _rows(one[1].X_test) != _rows(one[2].X_test)
    assert not _rows(one[1].X_train) & _rows(one[2].X_train)
    for s, rs in by_seed.items():
        # the draw is the loader's seed: the budget lies in that set's training split, with
        # round(0.1 * n_c) labels per class (independently recomputed here)
        whole = lf.load_dataset("moons", n=400, noise=0.2, seed=s)
        budget = _rows(one[s].X_train) | _rows(one[s].X_val)
        assert budget <= _rows(whole.X_train)
        assert _rows(one[s].X_test) == _rows(whole.X_test)
        per_class = np.bincount(np.concatenate([one[s].y_train, one[s].y_val]))
        assert per_class.tolist() == [round(0.1 * n) for n in np.bincount(whole.y_train)]
        for r in rs[1:]:  # every arm and setting of the draw: the same arrays
            ds = load_run_dataset(r)
            for split in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test"):
                np.testing.assert_array_equal(getattr(ds, split), getattr(one[s], split))


def test_a_fixed_draw_is_the_datasets_seed_for_every_seed() -> None:
    cfg = _design(data_draw="fixed", tuning=None, datasets=[{"name": "moons", "n": 400,
                                                             "seed": 7}],
                  arms={"plain": {}})
    runs = expand_runs(load_config(cfg))
    assert {r.data_seed for r in runs} == {7}
    assert {r.data_seed for r in expand_runs(load_config(_design(
        data_draw="fixed", tuning=None, arms={"plain": {}})))} == {0}  # the loader's default


def test_the_validation_split_is_carved_from_the_budget_and_disjoint() -> None:
    runs = expand_runs(load_config(_design()))
    for frac in (0.1, 1.0):
        r = next(r for r in runs if r.train_fraction == frac and r.seed == 2)
        ds = load_run_dataset(r)
        tr, va, te = _rows(ds.X_train), _rows(ds.X_val), _rows(ds.X_test)
        assert va and not va & tr and not va & te and not tr & te
        n_c = np.bincount(np.concatenate([ds.y_train, ds.y_val]))
        assert np.bincount(ds.y_val).tolist() == [min(round(0.25 * n), n - 1) for n in n_c]


def test_a_budget_too_small_for_a_validation_sample_is_refused_before_training(
        tmp_path: Path) -> None:
    # 1 % of 150 training samples per class is 2 labels: 25 % of 2 rounds to no validation sample
    cfg = _design(train_fraction=[0.01, 1.0], low_data=[0.01])
    with pytest.raises(ConfigError, match=r"^val_fraction: 0\.25 cannot be carved from the "
                                          r"labelled budget of datasets\[0\] \('moons'\) at "
                                          r"train_fraction 0\.01: \[2, 2\] samples per class"):
        run_sweep(cfg, tmp_path / "out")
    assert not (tmp_path / "out" / "store").exists()


# ----------------------------------------------------------------------------- tuning
def test_tuning_seeds_and_test_seeds_are_disjoint() -> None:
    runs = expand_runs(load_config(_design(seeds=6, tuning={"seeds": [0, 4], "fraction": 1.0})))
    tune = {r.seed for r in runs if r.design["seed_role"] == "tune"}
    test = {r.seed for r in runs if r.design["seed_role"] == "test"}
    assert tune == {0, 4} and test == {1, 2, 3, 5} and not tune & test
    # a tuning seed runs only the arms with a knob, only at the tuning fraction
    assert {(r.arm, r.train_fraction) for r in runs if r.seed in tune} == {("wd", 1.0),
                                                                         ("transport", 1.0)}
    cols = [r.columns() for r in runs]
    assert {c["tune_fraction"] for c in cols if c["arm"] != "plain"} == {1.0}
    assert all(math.isnan(c["tune_fraction"]) for c in cols if c["arm"] == "plain")
    assert {(c["train_fraction"], c["low_data"]) for c in cols} == {(0.1, True), (1.0, False)}


def test_the_declared_choice_is_made_on_tuning_seeds_and_reported_on_test_seeds() -> None:
    from layerflow.stats._least_action import select_on_validation

    rows = []
    # setting a wins on validation on the tuning seed; setting b would win on the test seeds
    for seed, role in ((0, "tune"), (1, "test"), (2, "test")):
        for frac in (0.1, 1.0):
            if role == "tune" and frac != 1.0:
                continue
            for setting, val, test in (("a", 0.9, 0.6), ("b", 0.8, 0.95)):
                rows.append({"dataset": "moons", "dataset_spec": "moons(n=400)",
                             "model_kind": "resnet", "arm": "wd", "setting_id": setting,
                             "group_id": f"{setting}{frac}{role}", "seed": seed,
                             "seed_role": role, "tune_fraction": 1.0, "train_fraction": frac,
                             "val_acc": val if role == "tune" else 1 - val, "test_acc": test})
            rows.append({"dataset": "moons", "dataset_spec": "moons(n=400)",
                         "model_kind": "resnet", "arm": "plain", "setting_id": "p",
                         "group_id": f"p{frac}{role}", "seed": seed, "seed_role": role,
                         "tune_fraction": math.nan, "train_fraction": frac, "val_acc": 0.5,
                         "test_acc": 0.5})
    kept, choices = select_on_validation(pd.DataFrame(rows))
    assert set(kept["seed_role"]) == {"test"}
    assert set(kept.loc[kept["arm"] == "wd", "setting_id"]) == {"a"}
    assert len(kept[kept["arm"] == "plain"]) == 4  # no knob: every test run kept
    assert choices[["arm", "setting_id", "val_acc", "n_settings"]].to_dict("records") == [
        {"arm": "wd", "setting_id": "a", "val_acc": 0.9, "n_settings": 2}]


# ----------------------------------------------------------------------------- full spec
def test_arms_are_keyed_on_the_full_dataset_spec() -> None:
    assert dataset_spec_of("moons", {"n": 400, "noise": 0.2}) == \
        "moons(n=400,noise=0.2,standardise=true,test_fraction=0.25)"
    # the loader's defaults are filled in; the draw's seed is data_seed, not the spec
    assert dataset_spec_of("moons", {"n": 2000, "seed": 3}) == dataset_spec_of("moons", {})
    assert dataset_spec_of("digits:3,8", {}) == \
        "digits:3,8(n=null,test_fraction=0.25)"
    cfg = _design(datasets=[{"name": "moons", "n": 400}, {"name": "moons", "n": 600}])
    runs = expand_runs(load_config(cfg))
    specs = {r.columns()["dataset_spec"] for r in runs}
    assert len(specs) == 2 and all(s.startswith("moons(") for s in specs)


def test_two_argument_sets_of_one_name_never_pair() -> None:
    from layerflow.stats._least_action import select_on_validation

    rows = []
    for spec, best in (("moons(n=400)", "a"), ("moons(n=600)", "b")):
        for seed, role in ((0, "tune"), (1, "test")):
            for setting in ("a", "b"):
                rows.append({"dataset": "moons", "dataset_spec": spec, "model_kind": "resnet",
                             "arm": "wd", "setting_id": setting, "group_id": spec + setting,
                             "seed": seed, "seed_role": role, "tune_fraction": 1.0,
                             "train_fraction": 1.0, "val_acc": 0.9 if setting == best else 0.1,
                             "test_acc": 0.5})
    kept, choices = select_on_validation(pd.DataFrame(rows))
    assert sorted(zip(choices["dataset_spec"], choices["setting_id"], strict=True)) == [
        ("moons(n=400)", "a"), ("moons(n=600)", "b")]
    assert sorted(zip(kept["dataset_spec"], kept["setting_id"], strict=True)) == [
        ("moons(n=400)", "a"), ("moons(n=600)", "b")]


# ----------------------------------------------------------------------------- arm role
@pytest.mark.parametrize(
    ("training", "role"),
    [(None, "untrained"), ({}, "plain"), ({"weight_decay": 0.0, "l2": 0.0}, "plain"),
     ({"weight_decay": 1e-3}, "weight decay"), ({"l2": 1e-3}, "weight decay"),
     ({"uzawa": True}, "transport penalty"), ({"transport_weight": 0.5}, "transport penalty"),
     ({"transport_weight": 0.5, "weight_decay": 1e-3}, "transport penalty")],
)
def test_arm_role_of(training: dict[str, Any] | None, role: str) -> None:
    assert arm_role_of(training) == role


def test_readers_use_the_stored_role() -> None:
    from layerflow.stats._least_action import assign_arms
    from layerflow.stats._tables import prepare_runs

    # a stored role that its fields would not give: the readers take what the runner recorded
    df = pd.DataFrame({"arm": ["x"], "arm_role": ["transport penalty"], "penalised": [True],
                       "transport_weight": [0.0], "uzawa": [False], "model_kind": ["resnet"]})
    assert assign_arms(df)["arm_role"].tolist() == ["transport penalty"]
    assert prepare_runs(df)["penalty"].tolist() == [True]


# ----------------------------------------------------------------------------- the runner
def test_the_runner_records_the_design_columns(tmp_path: Path) -> None:
    cfg = _design(baselines={"untrained": True, "seeds": 1})
    res = run_sweep(cfg, tmp_path / "out")
    assert res.n_failed == 0
    df = pd.read_parquet(tmp_path / "out" / "store" / "runs.parquet")
    assert {"dataset_spec", "data_seed", "arm_role", "penalised", "setting_id", "seed_role",
            "tune_fraction", "low_data", "val_acc"} <= set(df.columns)
    assert set(df["dataset_spec"]) == {"moons(n=400,noise=0.2,standardise=true,"
                                       "test_fraction=0.25)"}
    assert (df["data_seed"] == df["seed"]).all()
    assert np.isfinite(df["val_acc"]).all()  # every network, untrained baselines included
    trained = df[df["trained"]]
    assert dict(zip(trained["arm"], trained["arm_role"], strict=True)) == {
        "plain": "plain", "wd": "weight decay", "transport": "transport penalty"}
    assert (df["penalised"] == (df["arm_role"] == "transport penalty")).all()
    assert set(df.loc[~df["trained"], "arm_role"]) == {"untrained"}
    assert sorted(set(zip(trained["seed"], trained["seed_role"], strict=True))) == [
        (0, "tune"), (1, "test"), (2, "test"), (3, "test")]
    assert set(df.loc[~df["trained"], "seed_role"]) == {"test"}  # a baseline is never tuned
    # val_acc is the accuracy on the run's own validation split, recomputed here
    from layerflow.sweep._grid import RunSpec

    r = next(r for r in expand_runs(load_config(cfg)) if r.seed == 2 and r.arm == "plain"
             and r.train_fraction == 1.0)
    assert isinstance(r, RunSpec)
    ds = load_run_dataset(r)
    row = df[df["run_id"] == r.run_id].iloc[0]
    assert row["val_acc"] * len(ds.y_val) == pytest.approx(round(row["val_acc"] * len(ds.y_val)))


# ----------------------------------------------------------------------------- config errors
@pytest.mark.parametrize(
    ("over", "key", "fragment"),
    [
        ({"data_draw": "per_seed"}, "data_draw", "'per_seed' is not allowed; expected one of "
                                                 "fixed, seed"),
        ({"datasets": [{"name": "moons", "seed": 3}]}, "datasets[0].seed",
         "leave the dataset's seed out"),
        ({"low_data": 0.1}, "low_data", "expected a non-empty list"),
        ({"low_data": []}, "low_data", "expected a non-empty list"),
        ({"low_data": [0.05]}, "low_data[0]", "0.05 is not one of the train fractions"),
        ({"low_data": [1.0]}, "low_data[0]", "the full data is not low data"),
        ({"low_data": [0.1, 0.1]}, "low_data", "repeats a fraction"),
        ({"tuning": None}, "arms.wd", "declare where they are chosen"),
        ({"tuning": [0]}, "tuning", "expected a mapping"),
        ({"tuning": {"seeds": [0], "fraction": 1.0, "k": 1}}, "tuning.k", "unknown key"),
        ({"tuning": {"fraction": 1.0}}, "tuning.seeds", "missing"),
        ({"tuning": {"seeds": [0]}}, "tuning.fraction", "missing"),
        ({"tuning": {"seeds": 2, "fraction": 1.0}}, "tuning.seeds", "give the tuning seeds as "
                                                                   "a list"),
        ({"tuning": {"seeds": [9], "fraction": 1.0}}, "tuning.seeds", "seed 9 is not one of"),
        ({"tuning": {"seeds": [0, 1, 2, 3], "fraction": 1.0}}, "tuning.seeds",
         "leave at least one test seed"),
        ({"tuning": {"seeds": [0], "fraction": 0.5}}, "tuning.fraction",
         "0.5 is not one of the train fractions"),
        ({"val_fraction": 0.0}, "tuning", "give val_fraction > 0"),
        ({"arms": {"plain": {}, "wd": {"weight_decay": 1e-3}}}, "tuning",
         "nothing to choose"),
    ],
)
def test_design_config_errors(over: dict[str, Any], key: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(_design(**over))
    assert info.value.key == key
    assert fragment in str(info.value)


def test_the_resolved_design_round_trips() -> None:
    c = load_config(_design())
    again = load_config(c.to_yaml())
    assert again.to_dict() == c.to_dict()
    assert again.to_dict()["tuning"] == {"seeds": [0], "fraction": 1.0}
    assert again.to_dict()["low_data"] == [0.1] and again.data_draw == "seed"
    assert [r.run_id for r in again.runs()] == [r.run_id for r in c.runs()]


def test_the_least_action_study_declares_its_design() -> None:
    c = load_config("least-action")
    assert c.data_draw == "seed" and c.val_fraction > 0
    assert c.low_data == tuple(f for f in c.train_fraction if f < 1.0)
    assert c.tuning is not None and c.tuning["fraction"] == 1.0
    runs = c.runs()
    test = [r for r in runs if r.design["seed_role"] == "test"]
    per_cell: dict[tuple[str, float, str], set[int]] = {}
    for r in test:
        per_cell.setdefault((r.dataset["name"], r.train_fraction, r.arm), set()).add(r.data_seed)
    assert {len(v) for v in per_cell.values()} == {len(c.seeds) - len(c.tuning["seeds"])}


@pytest.mark.parametrize("name", ["default", "geodesic", "least-action", "paper-ricci",
                                  "transformer"])
def test_every_study_records_validation_accuracy(name: str) -> None:
    assert load_config(name).val_fraction > 0
