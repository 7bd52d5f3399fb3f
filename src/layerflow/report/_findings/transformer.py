"""Token trajectories of transformers: trained against untrained networks of the same shapes.

One sentence per metric (LSS, OTS, W2 geodesic ratio, kinetic energy, ρ), each from
:func:`layerflow.stats._transformer.trained_vs_untrained`: the two means with their 95 % bootstrap
intervals over networks, and the difference trained − untrained with its interval. The words
("lower", "higher") come from the numbers.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from layerflow.report._findings.base import Finding, Number
from layerflow.report._findings.ricci import no_coefficient, undefined_rho
from layerflow.report._format import format_number
from layerflow.stats._intervals import Interval
from layerflow.stats._transformer import trained_vs_untrained, transformer_runs

#: metric column -> (words, report section, a note that belongs to the sentence)
TOKEN_METRICS: dict[str, tuple[str, str, str]] = {
    "lss_mean": ("mean line-shape score", "transport",
                 " (LSS of each token's path through the layers; Hosseini & Fedorenko 2023 "
                 "measure the curvature of a sentence's path across positions within a layer)"),
    "ots": ("OT score", "transport", ""),
    "w2_geodesic_ratio": ("W2 geodesic ratio", "transport", ""),
    "kinetic_energy": ("kinetic energy", "transport", ""),
    "ricci_rho": ("global Ricci coefficient ρ", "ricci", ""),
}


def _iv(iv: Interval) -> str:
    if math.isnan(iv.low):
        return f"{format_number(iv.mean)} (no interval)"
    return f"{format_number(iv.mean)} [{format_number(iv.low)}, {format_number(iv.high)}]"


def _rho_details(runs: pd.DataFrame, df: pd.DataFrame, text: str,
                 coefficients: pd.DataFrame | None) -> tuple[str, dict[str, Number]]:
    """How many networks had no ρ, and the difference at every other swept k of the primary
    protocol (the coefficients table): a verdict that holds at one k only should be read as
    such."""
    from layerflow.stats._ricci import coefficient_table, protocol_rho, protocols_in_store

    numbers: dict[str, Number] = {}
    undefined = int(np.isnan(pd.to_numeric(df["ricci_rho"], errors="coerce")).sum())
    counts = undefined_rho(df)
    numbers.update({"n_undefined": undefined, "n_undefined_disconnected": counts[0],
                    "n_undefined_other": counts[1], "n_undefined_unrecorded": counts[2]})
    if undefined:
        text = text[:-1] + f"; {no_coefficient(counts, 'networks')} and are not counted."
    primary = pd.to_numeric(df["k"], errors="coerce").dropna() if "k" in df.columns else None
    coef = coefficient_table(runs, coefficients)
    protocol = protocols_in_store(runs, coef)[0]
    ks = sorted({int(k) for k in coef.loc[coef["protocol"] == protocol, "k"]})
    others = [k for k in ks if primary is None or k not in set(primary.astype(int))]
    parts = []
    for k in others:
        cmp = trained_vs_untrained(runs.assign(_rho_at_k=protocol_rho(runs, coef, protocol, k)),
                                   "_rho_at_k")
        if cmp is None:
            parts.append(f"k = {k}: too few networks with a coefficient")
            continue
        d = cmp.difference
        parts.append(f"k = {k}: {_iv(d)} (n = {cmp.trained.size} vs {cmp.untrained.size})")
        numbers.update({f"difference_k{k}": d.mean, f"difference_low_k{k}": d.low,
                        f"difference_high_k{k}": d.high})
    if parts:
        text = text[:-1] + "; the same difference at the other swept k: " + "; ".join(parts) + "."
    return text, numbers


def token_findings(runs: pd.DataFrame, layers: pd.DataFrame,
                   coefficients: pd.DataFrame | None = None) -> list[Finding]:
    """Trained vs untrained transformers, one finding per metric the store holds for both."""
    df = transformer_runs(runs)
    if df.empty:
        return []
    data = ", ".join(dict.fromkeys(df["dataset"].astype(str)))
    out: list[Finding] = []
    for metric, (words, view, note) in TOKEN_METRICS.items():
        cmp = trained_vs_untrained(runs, metric)
        if cmp is None:
            continue
        a, b, d = cmp.trained_iv, cmp.untrained_iv, cmp.difference
        word = "lower" if a.mean < b.mean else ("higher" if a.mean > b.mean else "the same")
        excludes = "" if math.isnan(d.low) else (
            "; the interval excludes 0" if d.excludes(0.0) else "; the interval contains 0")
        text = (f"Transformers on {data}, token tracks: trained networks had {word} {words} "
                f"than untrained ones of the same shapes{note}: {_iv(a)} (n = {a.n}) vs "
                f"{_iv(b)} (n = {b.n}), 95 % bootstrap intervals over networks; difference "
                f"trained − untrained {_iv(d)}{excludes}.")
        numbers: dict[str, Number] = {
            "metric": metric, "trained_mean": a.mean, "trained_low": a.low,
            "trained_high": a.high, "untrained_mean": b.mean, "untrained_low": b.low,
            "untrained_high": b.high, "difference": d.mean, "difference_low": d.low,
            "difference_high": d.high, "n_trained": a.n, "n_untrained": b.n,
        }
        if metric == "ricci_rho":
            text, more = _rho_details(runs, df, text, coefficients)
            numbers.update(more)
        out.append(Finding(f"token_{metric}", view, text, numbers))
    return out
