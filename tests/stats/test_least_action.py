"""The low-data study: intervals against scipy.stats.t, arms from training fields, findings."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from layerflow._errors import ConfigError
from layerflow.report._findings.least_action import least_action_findings
from layerflow.stats import arm_table, assign_arms, study_table, t_interval


def _boot_interval(x: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """The report's rule written out: seeded percentile bootstrap of the mean (2,000 draws)."""
    idx = np.random.default_rng(0).integers(0, x.size, size=(2000, x.size))
    lo, hi = np.quantile(x[idx].mean(axis=1), [(1 - level) / 2, (1 + level) / 2])
    return float(x.mean()), float(lo), float(hi)


def _scipy_interval(x: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    lo, hi = stats.t.interval(level, x.size - 1, loc=x.mean(), scale=stats.sem(x))
    return float(x.mean()), float(lo), float(hi)


@pytest.mark.parametrize("n", [2, 3, 7, 40])
@pytest.mark.parametrize("level", [0.9, 0.95, 0.99])
def test_t_interval_equals_scipy(n: int, level: float, rng: np.random.Generator) -> None:
    x = rng.normal(0.8, 0.05, size=n)
    iv = t_interval(x, level)
    np.testing.assert_allclose([iv.mean, iv.low, iv.high], _scipy_interval(x, level),
                               rtol=1e-12)
    assert iv.n == n
    np.testing.assert_allclose(iv.std, np.std(x, ddof=1), rtol=1e-12)


def test_t_interval_of_one_value_has_no_interval_and_nans_are_dropped() -> None:
    iv = t_interval([0.7, float("nan")])
    assert iv.n == 1
    assert iv.mean == 0.7
    assert math.isnan(iv.low) and math.isnan(iv.high)
    assert not iv.overlaps(t_interval([0.6, 0.8]))


def test_t_interval_rejects_bad_input() -> None:
    with pytest.raises(ConfigError, match=r"level=1\.5"):
        t_interval([1.0, 2.0], level=1.5)
    with pytest.raises(ConfigError, match="at least one finite value"):
        t_interval([float("nan")])


def test_overlap_of_intervals() -> None:
    a, b, c = t_interval([0.0, 1.0]), t_interval([0.5, 1.5]), t_interval([100.0, 100.1])
    assert a.overlaps(b) and b.overlaps(a)
    assert not a.overlaps(c)


def _study(rng: np.random.Generator, gain: float = 0.04, seeds: int = 5) -> pd.DataFrame:
    rows = []
    arms = {"plain": (0.0, 0.0, False), "wd": (5e-4, 0.0, False), "lap": (0.0, 0.1, False),
            "uzawa": (0.0, 0.0, True)}
    for ds, f, s, (arm, (wd, tw, uz)) in itertools.product(
        ("moons", "digits:6,8"), (0.01, 0.05, 1.0), range(seeds), arms.items()
    ):
        acc = 0.6 + 0.3 * f + rng.normal(0, 0.03) + (gain if tw > 0 or uz else 0.0)
        rows.append({"dataset": ds, "model_kind": "resnet", "train_fraction": f, "seed": s,
                     "arm": arm, "weight_decay": wd, "transport_weight": tw, "uzawa": uz,
                     "status": "ok", "trained": True, "test_acc": acc,
                     "kinetic_energy": rng.uniform(0.1, 1.0) if tw > 0 or uz
                     else rng.uniform(2.0, 3.0)})
    return pd.DataFrame(rows)


def test_arm_roles_come_from_training_fields() -> None:
    df = pd.DataFrame({"weight_decay": [0.0, 1e-3, 0.0, 0.0, 1e-3],
                       "transport_weight": [0.0, 0.0, 0.5, 0.0, 0.5],
                       "uzawa": [False, False, False, True, False],
                       "arm": ["a", "b", None, "d", ""]})
    out = assign_arms(df)
    assert list(out["arm_role"]) == ["plain", "weight decay", "transport penalty",
                                     "transport penalty", "transport penalty"]
    assert list(out["arm"]) == ["a", "b", "transport penalty", "d", "transport penalty"]
    assert list(assign_arms(df.drop(columns="arm"))["arm"]) == list(out["arm_role"])


def test_arm_table_equals_a_scipy_computation(rng: np.random.Generator) -> None:
    runs = _study(rng)
    runs.loc[0, "status"] = "diverged"  # failed runs do not count
    tab = arm_table(runs, by=("dataset",), interval="t")
    assert len(tab) == 2 * 3 * 4
    for _, row in tab.iterrows():
        sel = runs[(runs["dataset"] == row["dataset"]) & (runs["arm"] == row["arm"])
                   & (runs["train_fraction"] == row["train_fraction"])
                   & (runs["status"] == "ok")]
        x = sel["test_acc"].to_numpy()
        assert row["test_acc_n"] == x.size
        np.testing.assert_allclose(
            [row["test_acc_mean"], row["test_acc_low"], row["test_acc_high"]],
            _scipy_interval(x), rtol=1e-12,
        )
    assert tab.loc[0, "test_acc_n"] in (4, 5)
    assert (tab["test_acc_n"] == 4).sum() == 1


def test_arm_table_needs_its_columns(rng: np.random.Generator) -> None:
    runs = _study(rng)
    with pytest.raises(ConfigError, match="train_fraction"):
        arm_table(runs.drop(columns="train_fraction"))
    with pytest.raises(ConfigError, match="test_acc"):
        arm_table(runs.drop(columns="test_acc"))


def test_study_table_keeps_only_low_data_groups(rng: np.random.Generator) -> None:
    runs = _study(rng)
    full = runs[runs["train_fraction"] == 1.0].assign(dataset="circles")
    tab = study_table(pd.concat([runs, full], ignore_index=True))
    assert set(tab["dataset"]) == {"moons", "digits:6,8"}
    assert study_table(runs.drop(columns="test_acc")).empty


@pytest.mark.parametrize("gain", [0.04, -0.04])
def test_findings_follow_the_data(gain: float, rng: np.random.Generator) -> None:
    runs = _study(rng, gain=gain, seeds=8)
    found = least_action_findings(runs)
    acc = [f for f in found if f.key == "least_action_accuracy"]
    assert {(f.numbers["dataset"], f.numbers["arm"]) for f in acc} == {
        (d, a) for d in ("moons", "digits:6,8") for a in ("wd", "lap", "uzawa")
    }
    for f in acc:
        sel = runs[(runs["dataset"] == f.numbers["dataset"]) & (runs["train_fraction"] == 0.01)]
        a = sel[sel["arm"] == f.numbers["arm"]]["test_acc"].to_numpy()
        b = sel[sel["arm"] == "plain"]["test_acc"].to_numpy()
        np.testing.assert_allclose(
            [f.numbers["arm_mean"], f.numbers["arm_low"], f.numbers["arm_high"]],
            _boot_interval(a), rtol=1e-12)
        np.testing.assert_allclose(
            [f.numbers["base_mean"], f.numbers["base_low"], f.numbers["base_high"]],
            _boot_interval(b), rtol=1e-12)
        assert a.min() <= f.numbers["arm_low"] <= f.numbers["arm_high"] <= a.max()
        gains = {}
        for fr in (0.01, 0.05, 1.0):
            s = runs[(runs["dataset"] == f.numbers["dataset"]) & (runs["train_fraction"] == fr)]
            gains[fr] = (s[s["arm"] == f.numbers["arm"]]["test_acc"].mean()
                         - s[s["arm"] == "plain"]["test_acc"].mean())
        higher = sum(g > 0 for g in gains.values())
        assert f.numbers["n_higher"] == higher
        assert f.numbers["largest_fraction"] == max(gains, key=lambda k: abs(gains[k]))
        assert f.numbers["largest_difference"] == gains[f.numbers["largest_fraction"]]
        if f.numbers["role"] == "transport penalty":
            # a gain of ±0.04 against noise 0.03/√8 is visible at every fraction
            assert higher == (3 if gain > 0 else 0)
            word = "higher" if gain > 0 else "lower"
            assert f"had {word} mean test accuracy than plain at 3 of 3 train fractions" in f.text
            assert "at 1 % of the training data" in f.text
    ke = [f for f in found if f.key == "least_action_kinetic" and f.numbers["arm"] == "lap"]
    assert len(ke) == 2
    for f in ke:
        assert "had lower mean kinetic energy than plain" in f.text


def test_no_study_no_findings(rng: np.random.Generator) -> None:
    runs = _study(rng)
    assert least_action_findings(runs[runs["train_fraction"] == 1.0]) == []
    assert least_action_findings(runs.drop(columns="train_fraction")) == []


def test_each_arms_setting_is_chosen_on_validation_never_on_test() -> None:
    from layerflow.stats._least_action import select_on_validation

    rows = []
    for frac, seed, (gid, tau, val, test) in itertools.product(
        (0.01, 1.0), range(4),
        (("g-plain", 0.0, 0.80, 0.80), ("g-tau-small", 0.1, 0.90, 0.70),
         ("g-tau-big", 10.0, 0.85, 0.95)),
    ):
        arm = "plain" if gid == "g-plain" else "transport"
        rows.append({"dataset": "moons", "model_kind": "resnet", "train_fraction": frac,
                     "seed": seed, "arm": arm, "group_id": f"{gid}-{frac}",
                     "uzawa": arm == "transport", "uzawa_tau": tau, "status": "ok",
                     "trained": True, "val_acc": val + 0.001 * seed, "test_acc": test})
    runs = pd.DataFrame(rows)
    kept, choices = select_on_validation(assign_arms(runs))
    # the higher validation accuracy wins, although its test accuracy is the lower one
    assert set(kept.loc[kept["arm"] == "transport", "uzawa_tau"]) == {0.1}
    assert len(kept) == 2 * 4 * 2
    t = choices[choices["arm"] == "transport"]
    assert list(t["uzawa_tau"]) == [0.1, 0.1] and list(t["n_settings"]) == [2, 2]
    np.testing.assert_allclose(t["val_acc"], 0.9 + 0.001 * 1.5)
    tab = study_table(runs)
    acc = tab[tab["arm"] == "transport"]["test_acc_mean"]
    np.testing.assert_allclose(acc, 0.70)
    # without a validation split nothing is chosen: each setting is an arm of its own
    split, none = select_on_validation(assign_arms(runs.drop(columns="val_acc")))
    assert none.empty and len(split) == len(runs)
    assert set(split["arm"]) == {"plain", "transport (uzawa_tau=0.1)", "transport (uzawa_tau=10.0)"}
