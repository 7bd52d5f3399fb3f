"""Gai & Zhang 2021: are residual networks' tracks straighter and closer to the OT map?"""

from __future__ import annotations

import pandas as pd

from layerflow.report.findings.base import Finding, fmt
from layerflow.stats.tables import paired_settings

__all__ = ["geodesic_residual_vs_plain", "lss_residual_vs_plain", "ots_residual_vs_plain"]


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
        f"{head[0].upper()}{head[1:]} (mean over settings: residual {fmt(res_mean)}, "
        f"plain {fmt(plain_mean)}"
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
