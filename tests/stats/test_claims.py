"""The claims table: declarations, units, the paper's estimand, counts and verdicts."""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from layerflow._errors import ConfigError
from layerflow.stats._intervals import Interval
from layerflow.stats._tables import prepare_runs
from layerflow.stats.claims import (
    CLAIMS,
    DECLARATIONS,
    Claim,
    compute_claims,
    judge,
    verdict,
)
from layerflow.stats.claims._observations import BUILDERS
from layerflow.stats.claims._registry import ClaimDeclaration, declaration


def test_verdict_rule_of_one_interval() -> None:
    iv = lambda lo, hi: Interval(0.5 * (lo + hi), lo, hi, 10, 0.1)  # noqa: E731
    assert verdict(iv(0.1, 0.3), 0.0, +1) == "supported"
    assert verdict(iv(0.1, 0.3), 0.0, -1) == "contradicted"
    assert verdict(iv(-0.3, -0.1), 0.0, -1) == "supported"
    assert verdict(iv(-0.1, 0.3), 0.0, +1) == "inconclusive"
    assert verdict(Interval(0.2, np.nan, np.nan, 1, np.nan), 0.0, +1) == "inconclusive"


def test_judge_reads_holm_p_equivalence_and_units() -> None:
    assert judge(0.3, 0.0, +1, 0.01, 0.9, 5, 3) == "supported"
    assert judge(0.3, 0.0, -1, 0.01, 0.9, 5, 3) == "contradicted"
    assert judge(0.7, 0.5, +1, 0.01, 0.9, 5, 3) == "supported"
    assert judge(0.01, 0.0, +1, 0.6, 0.01, 5, 3) == "no effect"
    assert judge(0.01, 0.0, +1, 0.6, 0.2, 5, 3) == "inconclusive"
    assert judge(0.3, 0.0, +1, 0.001, 0.9, 2, 3) == "too few"
    assert judge(0.3, 0.0, +1, math.nan, math.nan, 5, 3) == "inconclusive"


def test_every_declaration_has_a_builder_and_bad_declarations_are_refused() -> None:
    assert list(CLAIMS) == list(BUILDERS) == [d.key for d in DECLARATIONS]
    assert {d.kind for d in DECLARATIONS} == {"claim", "check"}
    assert all(d.family == "checks" for d in DECLARATIONS if d.kind == "check")
    d = DECLARATIONS[0]
    for field, bad, msg in (("paper", "x", "paper='x'"), ("kind", "x", "kind='x'"),
                            ("predicted", 0, "predicted=0"), ("estimator", "x", "estimator='x'"),
                            ("sesoi", 0.0, "sesoi=0.0"), ("min_units", 1, "min_units=1")):
        with pytest.raises(ConfigError, match=msg):
            dataclasses.replace(d, **{field: bad})
    with pytest.raises(ConfigError, match="claim 'nope'"):
        declaration("nope")
    assert declaration("rho_vs_accuracy").estimator == "meta_fisher_z"
    assert "unit:" in d.definition and "null 0" in d.definition


# ------------------------------------------------------------------------ Gai & Zhang
def _gz_runs(residual_lss: float, rng: np.random.Generator, n_sets: int = 7,
             noise: float = 0.05) -> pd.DataFrame:
    rows = []
    for i, kind, seed, wd in itertools.product(range(n_sets), ("resnet", "mlp"), range(3),
                                               (0.0, 0.001)):
        ds = f"d{i}"
        cell = 0.1 * i  # a cell effect shared by both kinds
        lss = (residual_lss if kind == "resnet" else 2.0) + cell + noise * rng.normal()
        rows.append({"run_id": f"{ds}{kind}{seed}{wd}", "dataset": ds, "model_kind": kind,
                     "width": 8, "depth": 4, "seed": seed, "trained": True, "status": "ok",
                     "weight_decay": wd, "transport_weight": 0.0, "uzawa": False,
                     "train_fraction": 1.0, "n_points": 200, "lss_mean": lss,
                     "test_acc": 0.9})
    return prepare_runs(pd.DataFrame(rows))


@pytest.mark.parametrize(("residual_lss", "want"), [(1.2, "supported"), (3.0, "contradicted"),
                                                    (2.0, "no effect")])
def test_lss_claim_is_a_mean_over_cells_and_follows_the_data(residual_lss: float,
                                                             want: str) -> None:
    runs = _gz_runs(residual_lss, np.random.default_rng(0), noise=0.01)
    (c,) = [c for c in compute_claims(runs) if c.key == "lss_residual_vs_plain"]
    assert isinstance(c, Claim) and c.verdict == want
    # by hand: per data set (the cell), per weight decay the seed means, plain − residual,
    # averaged over the weight decays; then a one-sample t over the 7 cells (each data set is
    # one data draw holding one cell)
    diffs = []
    for _ds, g in runs.groupby("dataset"):
        per = g.groupby(["weight_decay", "kind"])["lss_mean"].mean().unstack()
        diffs.append(float((per["plain"] - per["residual"]).mean()))
    t = stats.ttest_1samp(diffs, 0.0)
    np.testing.assert_allclose([c.estimate, *c.interval], [np.mean(diffs),
                                                           *t.confidence_interval(0.95)])
    assert c.n_units == 7 and c.n_networks == 84 and c.n_eligible == 84
    assert c.counts.startswith("7 data sets, 7 cells, 84 of 84 networks")
    assert c.family == "gai-zhang" and c.kind == "claim" and c.definition
    assert [cell.label for cell in c.cells] == [f"d{i} · 8×4" for i in range(7)]
    # the row's p is the larger of the t-test's and the exact sign-flip test's (7 units of
    # one sign: 2 / 2^7)
    if want != "no effect":
        np.testing.assert_allclose(c.p_t, t.pvalue)
        assert c.p_signflip == 2 / 128 and c.p == max(c.p_t, c.p_signflip)


def test_two_cells_are_too_few() -> None:
    (c,) = [c for c in compute_claims(_gz_runs(1.2, np.random.default_rng(0), n_sets=2))
            if c.key == "lss_residual_vs_plain"]
    assert c.verdict == "too few" and "2 data sets of the 6 a verdict needs" in c.reason


# ------------------------------------------------------------------------ Baptista
def _ricci_store(within_r: float, between: float, rng: np.random.Generator,
                 n_sets: int = 9, n_per: int = 10, permute: bool = False,
                 val: bool = True, disconnected: int = 0) -> pd.DataFrame:
    """9 data sets × one shape, n_per well-trained networks each: within a data set ρ and test
    accuracy correlate at ``within_r``; the data sets' mean ρ and mean accuracy move together
    by ``between`` (a strong between-cell association when large)."""
    rows = []
    for i in range(n_sets):
        centre = (i - n_sets / 2) / n_sets
        mr, ma = between * centre, 0.99 + 0.004 * centre * np.sign(between or 1)
        x = rng.normal(size=n_per)
        y = within_r * x + math.sqrt(1 - within_r**2) * rng.normal(size=n_per)
        rho = mr + 0.05 * x
        if permute:
            rho = rng.permutation(rho)
        for s in range(n_per):
            rows.append({"run_id": f"{i}-{s}", "dataset": f"set{i}", "model_kind": "mlp",
                         "width": 25, "depth": 5, "seed": s, "trained": True, "status": "ok",
                         "test_acc": ma + 0.001 * y[s], "k": 30,
                         "ricci_rho_k30": rho[s] if s >= disconnected else np.nan,
                         "ricci_rho": rho[s] if s >= disconnected else np.nan,
                         "ricci_connected": 0 if s < disconnected else 1,
                         **({"val_acc": 0.99} if val else {})})
    return prepare_runs(pd.DataFrame(rows))


def _row(claims: list[Claim], key: str) -> Claim:
    (c,) = [c for c in claims if c.key == key]
    return c


def test_within_cell_correlation_is_not_the_pooled_one() -> None:
    """Every data set's r is negative while the pooled r over all networks is positive: the
    claim reads the within-cell r (supported), the between-cell r is reported apart."""
    runs = _ricci_store(-0.7, 1.0, np.random.default_rng(1))
    pooled = stats.pearsonr(runs["ricci_rho_k30"], runs["test_acc"]).statistic
    assert pooled > 0.5
    c = _row(compute_claims(runs), "rho_vs_accuracy_k30")
    assert c.verdict == "supported" and c.estimate < -0.4 and c.n_units == 9
    assert "between cells (not judged): r(mean ρ, mean accuracy) = +" in c.notes
    assert c.heterogeneity and {"tau2", "I2", "Q", "Q_p"} <= set(c.heterogeneity)
    within = [stats.pearsonr(g["ricci_rho_k30"], g["test_acc"]).statistic
              for _, g in runs.groupby("dataset")]
    np.testing.assert_allclose(sorted(cell.estimate for cell in c.cells), sorted(within))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_permuting_rho_within_cells_leaves_no_verdict(seed: int) -> None:
    """The acceptance test: ρ permuted at random within each (data set, shape) cell of a store
    with a strong between-cell association and none within reads 'inconclusive' or 'no
    effect', never support or contradiction."""
    runs = _ricci_store(-0.7, 1.0, np.random.default_rng(seed), permute=True)
    assert stats.pearsonr(runs["ricci_rho_k30"], runs["test_acc"]).statistic > 0.5
    c = _row(compute_claims(runs), "rho_vs_accuracy_k30")
    assert c.verdict in {"inconclusive", "no effect"}, (c.estimate, c.interval)


def test_counts_say_who_was_left_out_and_why() -> None:
    runs = _ricci_store(-0.7, 0.0, np.random.default_rng(0), n_sets=3, disconnected=3)
    claims = compute_claims(runs)
    c = _row(claims, "rho_negative_k30")
    assert (c.n_networks, c.n_eligible) == (21, 30)
    assert c.counts == "3 data sets, 3 cells, 21 of 30 networks; 9 disconnected at k = 30"
    c = _row(claims, "rho_vs_accuracy_k30")
    assert c.verdict == "too few" or c.n_units == 3
    assert "well-trained: validation accuracy" in c.notes


def test_well_trained_on_test_accuracy_is_labelled() -> None:
    runs = _ricci_store(-0.7, 0.0, np.random.default_rng(0), n_sets=3, val=False)
    c = _row(compute_claims(runs), "rho_vs_accuracy_k30")
    assert "TEST accuracy" in c.notes


def test_shares_are_over_cells() -> None:
    runs = _ricci_store(-0.7, 0.0, np.random.default_rng(0), n_sets=4)
    runs.loc[runs["dataset"] == "set0", "ricci_rho_k30"] = 0.5  # one cell all positive
    runs.loc[runs["dataset"] != "set0", "ricci_rho_k30"] = -0.5
    c = _row(compute_claims(runs), "rho_negative_k30")
    assert c.estimate == 0.75 and c.n_units == 4 and c.unit_word == "data sets"


# ------------------------------------------------------------------------- Karkar
def _la_runs(gain: float, draws: int | None, rng: np.random.Generator,
             fracs: tuple[float, ...] = (0.05, 0.2, 1.0),
             low_data: tuple[float, ...] | None = None) -> pd.DataFrame:
    rows = []
    for task, frac, seed in itertools.product(("moons", "circles"), fracs, range(3)):
        for d in range(draws or 1):
            shift = 0.02 * rng.normal()
            for arm, tw, wd in (("plain", 0.0, 0.0), ("transport", 1.0, 0.0),
                                ("weight_decay", 0.0, 1e-3)):
                acc = 0.8 + shift + (gain if (tw and frac < 1) else 0) + 0.005 * rng.normal()
                rows.append({"run_id": f"{task}{frac}{seed}{d}{arm}", "dataset": task,
                             "model_kind": "resnet", "width": 8, "depth": 4, "seed": seed,
                             "trained": True, "status": "ok", "train_fraction": frac,
                             "arm": arm, "transport_weight": tw, "uzawa": False,
                             "weight_decay": wd, "test_acc": acc,
                             "kinetic_energy": (10.0 if tw else 20.0) * (1 + 0.1 * rng.random()),
                             **({"data_seed": d} if draws else {}),
                             **({"low_data": frac in low_data} if low_data else {})})
    return prepare_runs(pd.DataFrame(rows))


def test_least_action_units_are_data_draws() -> None:
    claims = compute_claims(_la_runs(0.05, 4, np.random.default_rng(0)))
    c = _row(claims, "penalty_low_data")
    assert c.n_units == 8 and c.unit_word == "data draws" and c.verdict == "supported"
    assert c.n_networks == 2 * 2 * 2 * 3 * 4  # tasks × low fractions × arms × seeds × draws
    assert _row(claims, "penalty_vs_weight_decay").verdict == "supported"
    k = _row(claims, "penalty_kinetic_energy")
    assert k.kind == "check" and k.family == "checks" and k.verdict == "supported"


def test_least_action_without_data_seed_has_one_unit_per_task() -> None:
    c = _row(compute_claims(_la_runs(0.05, None, np.random.default_rng(0))), "penalty_low_data")
    assert c.n_units == 2 and c.verdict == "too few"
    assert "no data_seed" in c.notes and "no data_seed" in c.reason


def test_holm_adjusts_within_a_family() -> None:
    claims = compute_claims(_la_runs(0.05, 4, np.random.default_rng(0)))
    karkar = [c for c in claims if c.family == "karkar"]
    assert len(karkar) >= 2
    assert all(c.p_adjusted >= c.p for c in karkar)
    ordered = sorted(karkar, key=lambda c: c.p)
    np.testing.assert_allclose(ordered[0].p_adjusted, min(1.0, len(karkar) * ordered[0].p))


def test_no_data_no_claims() -> None:
    runs = prepare_runs(pd.DataFrame({"run_id": ["x"], "dataset": ["a"], "model_kind": ["mlp"],
                                      "status": ["ok"], "trained": [True], "test_acc": [0.9]}))
    assert compute_claims(runs) == []


def test_record_has_the_findings_fields() -> None:
    c = _row(compute_claims(_gz_runs(1.2, np.random.default_rng(0))), "lss_residual_vs_plain")
    rec = c.record()
    assert {"key", "paper", "claim", "definition", "protocol", "estimate", "interval", "unit",
            "n_units", "n_networks", "n_eligible", "family", "p_adjusted", "kind",
            "verdict"} <= set(rec)
    assert isinstance(ClaimDeclaration, type)


def test_cells_sharing_a_data_draw_are_one_unit() -> None:
    """Two shapes of each data set share its one data draw: the unit is the data set (its two
    cells averaged within it). A data set drawn twice (data_seed 0 and 1) has a cell per
    (draw, shape), each nested in one draw: 8 draws, 16 cells."""
    a = _gz_runs(1.2, np.random.default_rng(0), n_sets=4)
    b = a.assign(width=16, run_id=a["run_id"] + "w16")
    runs = pd.concat([a, b], ignore_index=True)
    c = _row(compute_claims(runs), "lss_residual_vs_plain")
    assert (c.n_units, c.n_cells, c.unit_word) == (4, 8, "data sets")
    assert c.verdict == "too few" and c.counts.startswith("4 data sets, 8 cells, 96 of 96")
    seeded = pd.concat([runs.assign(data_seed=0), runs.assign(data_seed=1,
                                                              run_id=runs["run_id"] + "s1")],
                       ignore_index=True)
    c = _row(compute_claims(seeded), "lss_residual_vs_plain")
    assert (c.n_units, c.unit_word) == (8, "data draws") and len(c.cells) == 16


def test_the_smooth_orientation_row_is_a_check() -> None:
    """det J of σ(Wx + b) with σ' > 0 has the sign of det W, and I + hJ preserves orientation
    by construction: the row cannot fail, so it is a manipulation check, never a claim."""
    d = declaration("diffeomorphism_smooth")
    assert (d.kind, d.family) == ("check", "checks")
    assert "det W" in d.wording and "cannot fail" in d.wording
    assert not [x for x in DECLARATIONS if x.paper == "dong" and x.kind == "claim"]


def test_low_data_is_the_declared_fractions() -> None:
    rng = np.random.default_rng(0)
    c = _row(compute_claims(_la_runs(0.05, 4, rng)), "penalty_low_data")
    assert "low data: 5, 20 % of the data" in c.claim
    # the config declared only 5 % low data: 20 % is left out
    c = _row(compute_claims(_la_runs(0.05, 4, rng, low_data=(0.05,))), "penalty_low_data")
    assert "low data: 5 % of the data" in c.claim and c.n_networks == 2 * 2 * 3 * 4
    # no declaration and no task ran the full data: no fraction is low data
    claims = compute_claims(_la_runs(0.05, 4, rng, fracs=(0.05, 0.2)))
    assert not [c for c in claims if c.base_key in ("penalty_low_data",
                                                    "penalty_most_low_data")]


def test_the_smallest_declared_fraction_has_its_own_row_in_the_family() -> None:
    claims = compute_claims(_la_runs(0.05, 4, np.random.default_rng(0),
                                     fracs=(0.01, 0.2, 1.0)))
    c = _row(claims, "penalty_smallest_fraction")
    assert c.family == "karkar" and "low data: 1 % of the data" in c.claim
    assert c.n_networks == 2 * 2 * 3 * 4 and c.n_units == 8
    karkar = [x for x in claims if x.family == "karkar"]
    assert len(karkar) == 4  # Holm over all four rows
    assert min(x.p_adjusted for x in karkar) >= 4 * min(x.p for x in karkar) - 1e-12 or \
        min(x.p_adjusted for x in karkar) == 1.0
    assert "penalty_smallest_fraction" not in {x.key for x in compute_claims(
        _la_runs(0.05, 4, np.random.default_rng(0)))}


def test_settings_tuned_on_the_reported_seeds_give_no_verdict() -> None:
    base = _la_runs(0.05, 4, np.random.default_rng(0))
    pen = base[base["arm"] == "transport"]
    two = pd.concat([base, pen.assign(transport_weight=2.0, run_id=pen["run_id"] + "tw2")],
                    ignore_index=True)
    two = prepare_runs(two.drop(columns=[c for c in ("group_id",) if c in two.columns]))
    claims = compute_claims(two)
    for key in ("penalty_low_data", "penalty_most_low_data", "penalty_vs_weight_decay"):
        c = _row(claims, key)
        assert c.verdict == "inconclusive" and "tuned on the reported seeds" in c.reason, key
        assert math.isnan(c.p_adjusted)
    # one setting per arm: a verdict as before
    assert _row(compute_claims(base), "penalty_low_data").verdict == "supported"


def test_settings_are_told_apart_per_data_set_spec() -> None:
    """Two data sets of one name (two specs), each arm at one setting per spec: not tuned."""
    from layerflow.stats._least_action import tuned_on_reported_seeds

    base = _la_runs(0.05, 4, np.random.default_rng(0))
    a = base.assign(dataset_spec=base["dataset"] + "(noise=0.1)")
    b = base.assign(dataset_spec=base["dataset"] + "(noise=0.2)", run_id=base["run_id"] + "b",
                    transport_weight=base["transport_weight"] * 2)
    runs = pd.concat([a, b], ignore_index=True)
    assert not tuned_on_reported_seeds(runs)
    assert tuned_on_reported_seeds(runs.drop(columns="dataset_spec"))
    assert not tuned_on_reported_seeds(runs.drop(columns="dataset_spec").assign(seed_role="test"))


def test_rows_at_another_k_are_sensitivity_rows_in_a_family_of_their_own() -> None:
    """The study's primary k (its config's, every run's ``k``) gives the confirmatory row; a
    row at another k is Holm-adjusted in the claim's sensitivity family, so declaring more ks
    never dilutes the confirmatory row."""
    runs = _ricci_store(-0.7, 1.0, np.random.default_rng(1))
    alone = _row(compute_claims(runs), "rho_vs_accuracy_k30")
    runs = runs.assign(ricci_rho_k20=runs["ricci_rho_k30"], ricci_rho_k50=runs["ricci_rho_k30"])
    claims = compute_claims(runs)
    main = _row(claims, "rho_vs_accuracy_k30")
    other = _row(claims, "rho_vs_accuracy_k20")
    assert not main.family.endswith("sensitivity") and other.family == main.family + \
        " · sensitivity"
    assert main.p_adjusted == alone.p_adjusted and main.verdict == alone.verdict == "supported"
    assert other.p_adjusted >= other.p


def test_p_floor_is_the_smallest_p_the_exact_sign_flip_test_gives() -> None:
    """The floor of 6 units is what the exact test itself gives for 6 same-signed summaries
    (every flip but the observed one and its mirror is smaller): 2 / 64."""
    from layerflow.stats.claims import p_floor
    from layerflow.stats.claims._estimators import Estimate, sign_flip_p

    for n in (3, 6, 10):
        most_extreme = sign_flip_p(2.0 ** np.arange(n))
        est = Estimate(1.0, 0.5, 1.5, 0.01, math.nan, n, n - 1.0, p_signflip=most_extreme)
        assert p_floor(est) == pytest.approx(most_extreme)
    assert p_floor(Estimate(1.0, 0.5, 1.5, 0.01, math.nan, 6, 5.0)) == 0.0  # no sign-flip test


@pytest.mark.parametrize("m", [6, 14])
def test_a_design_that_cannot_reach_a_verdict_says_so(m: int) -> None:
    """Six data sets with a strong within-set association: the exact sign-flip test cannot go
    below 1/32, so Holm over a family of two or more rows cannot reach 0.05 and the row reads
    inconclusive with the reason; with 14 data sets the same association is supported. Every
    row's adjusted p is at least its reachable p."""
    from layerflow.stats.claims._calibration_stores import rho_accuracy_store

    runs, _ = rho_accuracy_store(np.random.default_rng(3), -0.9, m=m, tau=0.02)
    rows = compute_claims(prepare_runs(runs))
    for c in rows:
        if math.isfinite(c.p_adjusted):
            assert c.p_adjusted >= c.p_reachable - 1e-12, c.key
    (row,) = [c for c in rows if c.key == "rho_vs_accuracy_k30"]
    family = [c for c in rows if c.family == row.family and math.isfinite(c.p_adjusted)]
    assert row.estimate < -0.8
    if m == 6 and len(family) >= 2:
        assert row.p_reachable >= 0.05
        assert row.verdict == "inconclusive"
        assert "cannot reach supported or contradicted" in row.reason
    if m == 14:
        assert row.p_reachable < 0.05
        assert row.verdict == "supported"
        assert "cannot reach" not in row.reason
