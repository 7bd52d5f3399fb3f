"""Gai & Zhang 2021: are residual networks' tracks straighter and closer to the OT map?"""

from __future__ import annotations

import pandas as pd

from layerflow.report._findings.base import Finding
from layerflow.report._format import format_number
from layerflow.stats._tables import paired_settings


def _compare(
    runs: pd.DataFrame, metric: str, label: str, key: str, view: str
) -> list[Finding]:
    pairs = paired_settings(runs, metric)
    n = len(pairs)
    if n == 0:
        return []
    lower = int((pairs["residual"] < pairs["plain"]).sum())
    higher = int((pairs["residual"] > pairs["plain"]).sum())
    equal = n - lower - higher
    if lower > higher:
        head = f"residual networks had lower {label} than plain ones in {lower} of {n} settings"
    elif higher > lower:
        head = f"residual networks had higher {label} than plain ones in {higher} of {n} settings"
    else:
        head = (
            f"residual networks had lower {label} than plain ones in {lower} and higher in "
            f"{higher} of {n} settings"
        )
    res_mean = float(pairs["residual"].mean())
    plain_mean = float(pairs["plain"].mean())
    text = (
        f"{head[0].upper()}{head[1:]} (mean over settings: residual {format_number(res_mean)}, "
        f"plain {format_number(plain_mean)}"
        + (f"; {equal} tied" if equal else "")
        + ")."
    )
    return [
        Finding(
            key=key,
            view=view,
            text=text,
            numbers={
                "n_settings": n, "n_lower": lower, "n_higher": higher, "n_equal": equal,
                "residual_mean": res_mean, "plain_mean": plain_mean,
            },
        )
    ]


def lss_residual_vs_plain(runs: pd.DataFrame, layers: pd.DataFrame) -> list[Finding]:
    """Gai & Zhang: is the residual network's track straighter (LSS closer to 1)?"""
    return _compare(runs, "lss_mean", "mean LSS", "lss_residual_vs_plain", "transport")


def ots_residual_vs_plain(runs: pd.DataFrame, layers: pd.DataFrame) -> list[Finding]:
    """Gai & Zhang: is the residual network's map closer to the optimal transport map?"""
    return _compare(runs, "ots", "OTS", "ots_residual_vs_plain", "transport")


def geodesic_residual_vs_plain(runs: pd.DataFrame, layers: pd.DataFrame) -> list[Finding]:
    """Is the W2 path of the residual network closer to a geodesic (ratio closer to 1)?"""
    return _compare(
        runs, "w2_geodesic_ratio", "W2 geodesic ratio", "w2_residual_vs_plain", "transport"
    )


def weight_decay_sweep(runs: pd.DataFrame, layers: pd.DataFrame) -> list[Finding]:
    """Gai & Zhang's γ sweep: per kind and metric, the mean at the smallest and largest γ, the
    rank trend with γ, and the paper's CIFAR-100 range beside it."""
    from layerflow.report._papers import GAI_ZHANG_CIFAR100
    from layerflow.stats._geodesic import weight_decay_table, weight_decay_trend

    tab = weight_decay_table(runs)
    if tab.empty:
        return []
    out = []
    names = {"lss_mean": "LSS", "ots": "OTS", "ot_cost_ratio": "OT cost ratio",
             "w2_geodesic_ratio": "W2 geodesic ratio"}
    for kind in ("residual", "plain"):
        for m, label in names.items():
            sub = tab[(tab["kind"] == kind) & (tab["metric"] == m)]
            if sub["gamma"].nunique() < 2:
                continue
            by_g = sub.groupby("gamma")["mean"].mean()
            g0, g1 = float(by_g.index.min()), float(by_g.index.max())
            trend = weight_decay_trend(runs, m, kind)
            text = (f"{kind.capitalize()} networks: mean {label} {format_number(by_g[g0])} at γ = {g0:g} "
                    f"and {format_number(by_g[g1])} at γ = {g1:g} (mean over {sub['dataset'].nunique()} "
                    "data sets)")
            numbers: dict[str, float | int | str | bool] = {
                "kind": kind, "metric": m, "gamma_low": g0, "gamma_high": g1,
                "mean_low": float(by_g[g0]), "mean_high": float(by_g[g1])}
            if trend is not None:
                word = ("falls" if trend.high < 0 else "rises" if trend.low > 0
                        else "shows no clear trend")
                text += (f"; across γ it {word} (Spearman ρ = {format_number(trend.mean, 2)}, 95 % "
                         f"bootstrap interval [{format_number(trend.low, 2)}, {format_number(trend.high, 2)}], "
                         f"n = {trend.n})")
                numbers.update({"spearman": trend.mean, "spearman_low": trend.low,
                                "spearman_high": trend.high, "n": trend.n})
            acc = tab[(tab["kind"] == kind) & (tab["metric"] == "test_acc")].groupby(
                "gamma")["mean"].mean()
            if m == "lss_mean" and g0 in acc.index and g1 in acc.index:
                text += (f"; their mean test accuracy was {format_number(acc[g0])} at γ = {g0:g} and "
                         f"{format_number(acc[g1])} at γ = {g1:g}")
                numbers.update({"acc_low": float(acc[g0]), "acc_high": float(acc[g1])})
            band = GAI_ZHANG_CIFAR100.get(kind, {}).get(m)
            if band is not None:
                text += (f". Gai & Zhang report {format_number(band[0])}–{format_number(band[1])} on CIFAR-100 "
                         "(other networks and data: for orientation)")
            out.append(Finding("weight_decay_sweep", "transport", text + ".", numbers))
    return out
