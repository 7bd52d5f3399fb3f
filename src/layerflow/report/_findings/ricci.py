"""Baptista et al. 2024: the sign of the Ricci coefficient and its relation to accuracy."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from layerflow.report._findings.base import Finding, Number, fmt_percent
from layerflow.report._format import format_number
from layerflow.stats._accuracy import WELL_TRAINED, accuracy_study
from layerflow.stats._ricci import K_TOO_LARGE


def undefined_rho(df: pd.DataFrame,
                  coefficients: pd.DataFrame | None = None) -> tuple[int, int, int]:
    """Networks (rows of ``df``) with no coefficient, by cause: ``(disconnected, other,
    unrecorded)``.

    Without ``coefficients``: the primary coefficient ``ricci_rho``, its cause read from
    ``ricci_connected``. With ``coefficients`` (the coefficients table's rows at one protocol
    and k): each network's ``rho`` and ``reason`` there — ``"disconnected"``; a connected graph
    but too few layer pairs or no variance (any other reason); no row or ``"unrecorded"``
    (a store that did not record it). Networks that left this k out because k >= N had no
    graph and are not counted.
    """
    if coefficients is None:
        if "ricci_rho" not in df.columns:
            return 0, 0, 0
        nan = pd.to_numeric(df["ricci_rho"], errors="coerce").isna()
        flag = (pd.to_numeric(df["ricci_connected"], errors="coerce")
                if "ricci_connected" in df.columns else pd.Series(np.nan, index=df.index))
        known = flag.notna()
        connected = flag != 0
    else:
        at = coefficients.set_index("run_id")
        reason = df["run_id"].map(at["reason"])
        nan = df["run_id"].map(at["rho"]).isna() & (reason != K_TOO_LARGE)
        known = reason.notna() & (reason != "unrecorded")
        connected = reason != "disconnected"
    n_disc = int((nan & known & ~connected).sum())
    n_other = int((nan & known & connected).sum())
    return n_disc, n_other, int((nan & ~known).sum())


def no_coefficient(counts: tuple[int, int, int], who: str) -> str:
    """``"N <who> had no coefficient (<causes>)"`` from :func:`undefined_rho`'s counts ("" when
    every network had one); each cause is named only for the networks the store records it of."""
    n_disc, n_other, n_unknown = counts
    total = n_disc + n_other + n_unknown
    if not total:
        return ""
    causes = [(n_disc, "a disconnected kNN graph"),
              (n_other, "a connected graph but too few layer pairs or no variance (see "
                        "ricci_reason)"),
              (n_unknown, "a cause the store does not record")]
    parts = [(n, why) for n, why in causes if n]
    text = (parts[0][1] if len(parts) == 1
            else "; ".join(f"{n} {why}" for n, why in parts))
    return f"{total} {who} had no coefficient ({text})"


def _rho_table(runs: pd.DataFrame) -> pd.DataFrame:
    if "ricci_rho" not in runs.columns:
        return runs.iloc[0:0]
    rho = pd.to_numeric(runs["ricci_rho"], errors="coerce")
    return runs.assign(ricci_rho=rho).dropna(subset=["ricci_rho"])


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
        f"{WELL_TRAINED:g}; n = {n}; median ρ = {format_number(float(np.median(rho)))})"
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
        f"({format_number(mt)}, n = {tr.size} vs {format_number(mu)}, n = {un.size})."
    )
    return [
        Finding(
            "rho_trained_vs_untrained", "ricci", text,
            {"median_trained": mt, "median_untrained": mu, "n_trained": int(tr.size),
             "n_untrained": int(un.size)},
        )
    ]


def rho_vs_accuracy(runs: pd.DataFrame, layers: pd.DataFrame) -> list[Finding]:
    """The Ricci accuracy study: corr(ρ, test accuracy) among well-trained networks.

    Pooled over data sets with its seeded bootstrap 95 % interval
    (:func:`layerflow.stats.accuracy_study`), how many data sets have a negative or
    positive correlation, and how many networks had no coefficient (disconnected graphs).
    """
    df = runs
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
    contains = not math.isnan(lo) and lo <= 0 <= hi
    word = ("not clearly" if contains else "negatively" if r < 0 else "positively")
    note = ("; the interval contains 0" if contains
            else "" if math.isnan(lo) else "; the interval excludes 0")
    text = (
        f"Among well-trained networks (test accuracy ≥ {WELL_TRAINED:g}; n = {n_well}), ρ and "
        f"test accuracy were {word} correlated (Pearson r = {format_number(r, 2)}, 95 % bootstrap "
        f"interval [{format_number(lo, 2)}, {format_number(hi, 2)}]{note}); per data set, r < 0 in {n_neg} and "
        f"r > 0 in {n_pos} of {n_sets}."
    )
    # the networks accuracy_study counts in n_undefined: trained, an accuracy, no ρ
    undefined = df[df["trained"].astype(bool) & np.isfinite(df["test_acc"])]
    counts = undefined_rho(undefined)
    if n_undef:
        text = text[:-1] + f"; {no_coefficient(counts, 'trained networks')} and are not counted."
    return [
        Finding(
            "rho_vs_accuracy", "ricci", text,
            {"pearson_r": r, "ci_low": lo, "ci_high": hi, "n": n_well, "n_undefined": n_undef,
             "n_undefined_disconnected": counts[0], "n_undefined_other": counts[1],
             "n_undefined_unrecorded": counts[2],
             "n_datasets_negative": n_neg, "n_datasets_positive": n_pos,
             "n_datasets": n_sets, "threshold": WELL_TRAINED},
        )
    ]


def rho_by_protocol_and_k(runs: pd.DataFrame, layers: pd.DataFrame,
                          coefficients: pd.DataFrame | None = None) -> list[Finding]:
    """For each protocol and k the store holds: the per-network share of
    ρ < 0, R's pooled coefficient, r(ρ, accuracy) among well-trained networks, the untrained
    baseline beside them, and how many networks had no coefficient and why."""
    from layerflow.stats._ricci import protocol_table

    return protocol_findings(protocol_table(runs, layers, coefficients), runs, coefficients)


def protocol_findings(tab: pd.DataFrame, runs: pd.DataFrame,
                      coefficients: pd.DataFrame | None = None) -> list[Finding]:
    """:func:`rho_by_protocol_and_k` from an already computed
    :func:`layerflow.stats._ricci.protocol_table` of ``runs`` (the report computes that table
    once, for these sentences and for its table); the coefficients table tells why a
    coefficient is missing (:func:`undefined_rho`)."""
    from layerflow.stats._accuracy import well_trained
    from layerflow.stats._ricci import coefficient_table

    df = runs
    acc = (pd.to_numeric(df["test_acc"], errors="coerce") if "test_acc" in df.columns
           else pd.Series(np.nan, index=df.index))
    well = df[df["trained"].astype(bool) & well_trained(acc)] if "trained" in df.columns \
        else df.iloc[0:0]
    if tab.empty or (tab["protocol"].nunique() < 2 and tab["k"].nunique() < 2):
        return []
    coef = coefficient_table(runs, coefficients)
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
                f"{int(r['n_pairs'])} layer pairs) was {format_number(r['pooled'], 2)} "
                f"[{format_number(r['pooled_low'], 2)}, {format_number(r['pooled_high'], 2)}]; r(ρ, test accuracy) "
                f"= {format_number(r['r_accuracy'], 2)} [{format_number(r['r_low'], 2)}, {format_number(r['r_high'], 2)}]")
        numbers: dict[str, Number] = {"protocol": str(proto), "k": int(k),
                                      **{c: float(r[c]) for c in (
                                          "share_negative", "pooled", "pooled_low",
                                          "pooled_high", "r_accuracy")},
                                      "n": int(r["n"]), "n_excluded": int(r["n_excluded"])}
        if not u.empty and u.iloc[0]["n"]:
            b = u.iloc[0]
            text += (f"; untrained networks of the same shapes: ρ < 0 in "
                     f"{fmt_percent(b['share_negative'])} (n = {int(b['n'])}), pooled "
                     f"{format_number(b['pooled'], 2)} [{format_number(b['pooled_low'], 2)}, "
                     f"{format_number(b['pooled_high'], 2)}]")
            numbers.update({"share_negative_untrained": float(b["share_negative"]),
                            "pooled_untrained": float(b["pooled"])})
        if r["n_excluded"]:
            counts = undefined_rho(well, coef[(coef["protocol"] == proto)
                                              & (coef["k"] == int(k))])
            if sum(counts) != int(r["n_excluded"]):  # not the table's networks: say no cause
                counts = (0, 0, int(r["n_excluded"]))
            text += "; " + no_coefficient(counts, "well-trained networks")
            numbers.update({"n_excluded_disconnected": counts[0],
                            "n_excluded_other": counts[1], "n_excluded_unrecorded": counts[2]})
        if r["n_not_applicable"]:
            text += f"; {int(r['n_not_applicable'])} had fewer test points than k"
        out.append(Finding("rho_by_protocol_and_k", "ricci", text + ".", numbers))
    return out
