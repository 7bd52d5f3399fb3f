"""Trained vs untrained transformers: claims rows and findings recomputed by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from layerflow.report._findings import compute_findings
from layerflow.stats._tables import prepare_runs
from layerflow.stats._transformer import trained_vs_untrained
from layerflow.stats.claims import compute_claims

TOKEN_KEYS = {"token_lss_trained", "token_rho_trained", "token_geodesic_trained"}


def _runs(trained_lss: float, rho_shift: float, seed: int = 0,
          with_mlp: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(6):
        for trained in (True, False):
            lss = (trained_lss if trained else 2.5) + 0.05 * rng.normal()
            rho = (-0.8 + rho_shift if trained else -0.4) + 0.05 * rng.normal()
            rows.append({"run_id": f"t{s}{trained}", "dataset": "tokens:sorted",
                         "model_kind": "transformer", "width": 32, "depth": 6, "seed": s,
                         "trained": trained, "status": "ok", "steps": 1000 if trained else None,
                         "n_points": 1200, "n_sequences": 150, "k": 150,
                         "lss_mean": lss, "ricci_rho": rho,
                         "w2_geodesic_ratio": lss - 0.2, "ots": 0.5 if trained else 1.0,
                         "kinetic_energy": 900.0 if trained else 20.0,
                         "test_acc": 0.99 if trained else 0.5})
    if with_mlp:  # other kinds in the same store are not counted
        rows += [{"run_id": f"m{s}{t}", "dataset": "moons", "model_kind": "mlp", "seed": s,
                  "trained": t, "status": "ok", "lss_mean": 9.0, "ricci_rho": 0.9,
                  "w2_geodesic_ratio": 9.0, "test_acc": 0.9} for s in range(3) for t in (1, 0)]
    rows.append({**rows[0], "run_id": "dead", "status": "diverged", "lss_mean": 99.0})
    return prepare_runs(pd.DataFrame(rows))


@pytest.mark.parametrize(("trained_lss", "want"), [(1.9, "supported"), (3.1, "contradicted"),
                                                   (2.5, "inconclusive")])
def test_lss_claim_is_welchs_difference_and_follows_the_data(trained_lss: float,
                                                              want: str) -> None:
    runs = _runs(trained_lss, 0.0)
    claims = {c.key: c for c in compute_claims(runs)}
    assert TOKEN_KEYS <= {c.base_key for c in claims.values()}
    c = claims["token_lss_trained"]
    tf = runs[(runs["model_kind"] == "transformer") & (runs["status"] == "ok")]
    a = tf.loc[tf["trained"], "lss_mean"].to_numpy(dtype=float)
    b = tf.loc[~tf["trained"], "lss_mean"].to_numpy(dtype=float)
    se = np.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    q = stats.t.ppf(0.975, 5)  # Hsu's df: min(6, 6) − 1
    d = a.mean() - b.mean()
    np.testing.assert_allclose([c.estimate, *c.interval], [d, d - q * se, d + q * se],
                               rtol=1e-9)
    assert c.verdict == want and c.n_units == 12 and c.unit_word == "networks"
    assert c.paper == "Hosseini & Fedorenko 2023"
    assert "per token of 150 sequences" in c.protocol and "6 trained vs 6 untrained" in c.protocol
    assert "tokens:sorted" in c.protocol and "moons" not in c.protocol


@pytest.mark.parametrize(("shift", "want"), [(0.0, "supported"), (0.9, "contradicted")])
def test_rho_claim_is_made_at_every_declared_k(shift: float, want: str) -> None:
    runs = _runs(1.9, shift)
    runs["ricci_rho_k150"] = runs["ricci_rho"]
    runs["ricci_rho_k60"] = runs["ricci_rho"]
    rows = [c for c in compute_claims(runs) if c.base_key == "token_rho_trained"]
    assert sorted(c.key for c in rows) == ["token_rho_trained_k150", "token_rho_trained_k60"]
    assert all(c.verdict == want and c.paper == "Baptista et al. 2024" for c in rows)
    assert all("k = " in c.claim for c in rows)


def test_no_transformer_runs_no_token_rows_or_findings() -> None:
    runs = _runs(1.9, 0.0)
    others = runs[runs["model_kind"] != "transformer"]
    assert not TOKEN_KEYS & {c.base_key for c in compute_claims(others)}
    assert not [f for f in compute_findings(others) if f.key.startswith("token_")]
    only_trained = runs[runs["trained"]]
    assert trained_vs_untrained(only_trained, "lss_mean") is None
    assert trained_vs_untrained(runs, "no_such_metric") is None


def test_findings_state_both_groups_and_choose_their_words_from_the_numbers() -> None:
    runs = _runs(1.9, 0.0)
    found = {f.key: f for f in compute_findings(runs)}
    lss = found["token_lss_mean"]
    assert lss.view == "transport"
    assert "trained networks had lower mean line-shape score" in lss.text
    assert "the interval excludes 0" in lss.text and "(n = 6)" in lss.text
    tf = runs[(runs["model_kind"] == "transformer") & (runs["status"] == "ok")]
    np.testing.assert_allclose(lss.numbers["trained_mean"],
                               tf.loc[tf["trained"], "lss_mean"].mean(), rtol=1e-12)
    assert "higher kinetic energy" in found["token_kinetic_energy"].text
    assert found["token_ricci_rho"].view == "ricci"
    flipped = {f.key: f for f in compute_findings(_runs(3.1, 0.0))}
    assert "trained networks had higher mean line-shape score" in flipped["token_lss_mean"].text


def test_rho_finding_counts_networks_without_a_coefficient() -> None:
    runs = _runs(1.9, 0.0)
    runs.loc[runs["run_id"].isin(["t0True", "t1False"]), "ricci_rho"] = np.nan
    f = {f.key: f for f in compute_findings(runs)}["token_ricci_rho"]
    assert f.numbers["n_undefined"] == 2 and f.numbers["n_trained"] == 5
    assert "2 networks had no coefficient" in f.text


def test_rho_finding_gives_the_difference_at_every_other_swept_k() -> None:
    runs = _runs(1.9, 0.0)
    at = pd.DataFrame({"run_id": runs["run_id"], "protocol": "layerflow", "k": 150,
                       "rho": runs["ricci_rho"], "first_pair": 0, "reason": ""})
    shifted = runs["ricci_rho"] + np.where(runs["trained"], 0.4, 0.0)
    coef = pd.concat([at, at.assign(k=200, rho=shifted)], ignore_index=True)
    f = {f.key: f for f in compute_findings(runs, coefficients=coef)}["token_ricci_rho"]
    tf = runs[(runs["model_kind"] == "transformer") & (runs["status"] == "ok")]
    want = (shifted[tf.index][tf["trained"]].mean() - shifted[tf.index][~tf["trained"]].mean())
    np.testing.assert_allclose(f.numbers["difference_k200"], want, rtol=1e-12)
    assert "difference_k150" not in f.numbers  # the primary k is the sentence itself
    assert "at the other swept k: k = 200: " in f.text
