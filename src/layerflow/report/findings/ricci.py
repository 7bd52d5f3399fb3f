"""Baptista et al. 2024: the sign of the Ricci coefficient and its relation to accuracy."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from layerflow.report.findings.base import Finding, Number, fmt, fmt_percent
from layerflow.stats.accuracy import WELL_TRAINED, accuracy_study
from layerflow.stats.tables import finished

__all__ = ["protocol_findings", "rho_by_protocol_and_k", "rho_sign", "rho_trained_vs_untrained", "rho_vs_accuracy"]


def _rho_table(runs: pd.DataFrame) -> pd.DataFrame:
    df = finished(runs)
    if "ricci_rho" not in df.columns:
        return df.iloc[0:0]
    rho = pd.to_numeric(df["ricci_rho"], errors="coerce")
    return df.assign(ricci_rho=rho).dropna(subset=["ricci_rho"])


def rho_sign(runs: pd.DataFrame, layers: pd.DataFrame) -> list[Finding]:
    """Baptista et al.: share of well-trained networks with ρ < 0 (Ricci-flow-like)."""
    df = _rho_table(runs)
    if df.empty or "test_acc" not in df.columns:
        return []
    acc = pd.to_numeric(df["test_acc"], errors="coerce")
    well = df[df["trained"] & (acc >= WELL_TRAINED)]
    n_trained = int(df["trained"].sum())
    if well.empty:
        if n_trained == 0:
            return []
        return [
            Finding(
                "rho_sign", "ricci",
                f"No trained network reached test accuracy {WELL_TRAINED:g} (n = {n_trained} "
                "trained networks with a Ricci coefficient), so the sign of ρ among well-trained "
                "networks is not stated.",
                {"n_well_trained": 0, "n_trained": n_trained, "threshold": WELL_TRAINED},
            )
        ]
    rho = well["ricci_rho"].to_numpy(dtype=np.float64)
    n = rho.size
    neg = int((rho < 0).sum())
    pos = int((rho > 0).sum())
    if neg >= pos:
        share, sign = neg / n, "ρ < 0"
    else:
        share, sign = pos / n, "ρ > 0"
    text = (
        f"{sign} in {fmt_percent(share)} of well-trained networks (test accuracy ≥ "
        f"{WELL_TRAINED:g}; n = {n}; median ρ = {fmt(float(np.median(rho)))})"
    )
    numbers: dict[str, Number] = {
        "n_well_trained": n, "n_negative": neg, "n_positive": pos, "share": share,
        "median_rho": float(np.median(rho)), "threshold": WELL_TRAINED,
    }
    base = df[~df["trained"]]["ricci_rho"].to_numpy(dtype=np.float64)
    if base.size:
        base_share = float(np.mean(base < 0) if sign == "ρ < 0" else np.mean(base > 0))
        text += (f"; untrained networks of the same shapes: {fmt_percent(base_share)} "
                 f"(n = {base.size})")
        numbers.update({"n_untrained": int(base.size), "share_untrained": base_share})
    return [Finding("rho_sign", "ricci", text + ".", numbers)]


def rho_trained_vs_untrained(runs: pd.DataFrame, layers: pd.DataFrame) -> list[Finding]:
    """Trained networks against untrained baselines of the same shapes: median ρ of each."""
    df = _rho_table(runs)
    if df.empty:
        return []
    tr = df[df["trained"]]["ricci_rho"].to_numpy(dtype=np.float64)
    un = df[~df["trained"]]["ricci_rho"].to_numpy(dtype=np.float64)
    if tr.size == 0 or un.size == 0:
        return []
    mt, mu = float(np.median(tr)), float(np.median(un))
    word = "lower" if mt < mu else ("higher" if mt > mu else "the same")
    text = (
        f"Trained networks had {word} median ρ than untrained ones of the same shapes "
        f"({fmt(mt)}, n = {tr.size} vs {fmt(mu)}, n = {un.size})."
    )
    return [
        Finding(
            "rho_trained_vs_untrained", "ricci", text,
            {"median_trained": mt, "median_untrained": mu, "n_trained": int(tr.size),
             "n_untrained": int(un.size)},
        )
    ]


def rho_vs_accuracy(runs: pd.DataFrame, layers: pd.DataFrame) -> list[Finding]:
    """SPEC §3's accuracy study: corr(ρ, test accuracy) among well-trained networks.

    Pooled over data sets with its seeded bootstrap 95 % interval
    (:func:`layerflow.stats.accuracy_study`), how many data sets have a negative or
    positive correlation, and how many networks had no coefficient (disconnected graphs).
    """
    df = finished(runs)
    if "ricci_rho" not in df.columns or "test_acc" not in df.columns or "dataset" not in df.columns:
        return []
    df = df.assign(ricci_rho=pd.to_numeric(df["ricci_rho"], errors="coerce"),
                   test_acc=pd.to_numeric(df["test_acc"], errors="coerce"))
    table = accuracy_study(df, threshold=WELL_TRAINED).table
    table = table[table["trained"].astype(bool)]
    pooled = table[table["scope"] == "pooled"]
    if pooled.empty:
        return []
    row = pooled.iloc[0]
    r, lo, hi = float(row["r"]), float(row["ci_low"]), float(row["ci_high"])
    n_well, n_undef = int(row["n_well"]), int(row["n_undefined"])
    if n_well < 3 or math.isnan(r):
        return []
    per = table[(table["scope"] != "pooled")]
    rs = pd.to_numeric(per["r"], errors="coerce").to_numpy(dtype=np.float64)
    n_neg, n_pos = int(np.sum(rs < 0)), int(np.sum(rs > 0))
    n_sets = int(np.sum(np.isfinite(rs)))
    word = "negatively" if r < 0 else "positively"
    excludes = ("" if math.isnan(lo) or lo <= 0 <= hi
                else "; the interval excludes 0")
    text = (
        f"Among well-trained networks (test accuracy ≥ {WELL_TRAINED:g}; n = {n_well}), ρ and "
        f"test accuracy were {word} correlated (Pearson r = {fmt(r, 2)}, 95 % bootstrap "
        f"interval [{fmt(lo, 2)}, {fmt(hi, 2)}]{excludes}); per data set, r < 0 in {n_neg} and "
        f"r > 0 in {n_pos} of {n_sets}."
    )
    if n_undef:
        text = text[:-1] + (f"; {n_undef} trained networks had no coefficient (a disconnected "
                            "kNN graph) and are not counted.")
    return [
        Finding(
            "rho_vs_accuracy", "ricci", text,
            {"pearson_r": r, "ci_low": lo, "ci_high": hi, "n": n_well, "n_undefined": n_undef,
             "n_datasets_negative": n_neg, "n_datasets_positive": n_pos,
             "n_datasets": n_sets, "threshold": WELL_TRAINED},
        )
    ]


def rho_by_protocol_and_k(runs: pd.DataFrame, layers: pd.DataFrame) -> list[Finding]:
    """SPEC §3 / issue 12, for each protocol and k the store holds: the per-network share of
    ρ < 0, R's pooled coefficient, r(ρ, accuracy) among well-trained networks, the untrained
    baseline beside them, and how many networks had no coefficient and why."""
    from layerflow.stats.ricci import protocol_table

    return protocol_findings(protocol_table(runs, layers))


def protocol_findings(tab: pd.DataFrame) -> list[Finding]:
    """:func:`rho_by_protocol_and_k` from an already computed
    :func:`layerflow.stats.ricci.protocol_table` (the report computes that table once, for these
    sentences and for its table)."""
    if tab.empty or (tab["protocol"].nunique() < 2 and tab["k"].nunique() < 2):
        return []
    out = []
    for (proto, k), g in tab.groupby(["protocol", "k"], sort=False):
        w = g[g["networks"] == "well-trained"]
        u = g[g["networks"] == "untrained"]
        if w.empty or not w.iloc[0]["n"]:
            continue
        r = w.iloc[0]
        text = (f"Protocol {proto}, k = {k}: among {int(r['n'])} well-trained networks ρ < 0 in "
                f"{fmt_percent(r['share_negative'])} [{fmt_percent(r['share_low'])}, "
                f"{fmt_percent(r['share_high'])}]; the pooled coefficient (R's, over "
                f"{int(r['n_pairs'])} layer pairs) was {fmt(r['pooled'], 2)} "
                f"[{fmt(r['pooled_low'], 2)}, {fmt(r['pooled_high'], 2)}]; r(ρ, test accuracy) "
                f"= {fmt(r['r_accuracy'], 2)} [{fmt(r['r_low'], 2)}, {fmt(r['r_high'], 2)}]")
        numbers: dict[str, Number] = {"protocol": str(proto), "k": int(k),
                                      **{c: float(r[c]) for c in (
                                          "share_negative", "pooled", "pooled_low",
                                          "pooled_high", "r_accuracy")},
                                      "n": int(r["n"]), "n_excluded": int(r["n_excluded"])}
        if not u.empty and u.iloc[0]["n"]:
            b = u.iloc[0]
            text += (f"; untrained networks of the same shapes: ρ < 0 in "
                     f"{fmt_percent(b['share_negative'])} (n = {int(b['n'])}), pooled "
                     f"{fmt(b['pooled'], 2)} [{fmt(b['pooled_low'], 2)}, "
                     f"{fmt(b['pooled_high'], 2)}]")
            numbers.update({"share_negative_untrained": float(b["share_negative"]),
                            "pooled_untrained": float(b["pooled"])})
        if r["n_excluded"]:
            text += (f"; {int(r['n_excluded'])} well-trained networks had a disconnected kNN "
                     "graph and no coefficient")
        if r["n_not_applicable"]:
            text += f"; {int(r['n_not_applicable'])} had fewer test points than k"
        out.append(Finding("rho_by_protocol_and_k", "ricci", text + ".", numbers))
    return out
