"""One row of the claims table (SPEC §8) and what every claim function shares: the verdict rule,
the protocol column read from the store, and the two-group comparison."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from layerflow.data.provenance import data_sources_text
from layerflow.stats.intervals import Interval, bootstrap_diff_interval

__all__ = ["PAPERS", "Claim", "column_values", "difference_claim", "make_claim", "protocol_of",
           "verdict"]

PAPERS = {
    "gai-zhang": "Gai & Zhang 2021",
    "baptista": "Baptista et al. 2024",
    "dong": "Dong et al. 2017",
    "karkar": "Karkar et al. 2020",
    "hosseini-fedorenko": "Hosseini & Fedorenko 2023",
}


@dataclass(frozen=True)
class Claim:
    """One row of the claims table (the fields of ``findings.json``'s ``claims``)."""

    key: str
    paper: str
    claim: str
    protocol: str
    quantity: str
    estimate: float
    interval: tuple[float, float]
    n: int
    verdict: str
    null: float = 0.0

    def record(self) -> dict[str, Any]:
        out = asdict(self)
        out["interval"] = list(self.interval)
        return out


def verdict(iv: Interval, null: float, predicted: int) -> str:
    """``supported`` / ``contradicted`` / ``inconclusive`` from an interval and the side
    (``predicted`` = +1: above ``null``, −1: below) the paper predicts."""
    if math.isnan(iv.low) or math.isnan(iv.high):
        return "inconclusive"
    if iv.low > null:
        return "supported" if predicted > 0 else "contradicted"
    if iv.high < null:
        return "supported" if predicted < 0 else "contradicted"
    return "inconclusive"


def make_claim(key: str, paper: str, text: str, protocol: str, quantity: str, iv: Interval,
           null: float, predicted: int) -> Claim:
    return Claim(key, PAPERS[paper], text, protocol, quantity, float(iv.mean),
                 (float(iv.low), float(iv.high)), int(iv.n), verdict(iv, null, predicted), null)


def difference_claim(key: str, paper: str, text: str, protocol: str, quantity: str,
                a: np.ndarray, b: np.ndarray) -> Claim | None:
    """Claim that ``mean(a) − mean(b) > 0`` (two independent groups, bootstrap interval)."""
    if a.size < 2 or b.size < 2:
        return None
    return make_claim(key, paper, text, protocol, quantity, bootstrap_diff_interval(a, b), 0.0, +1)


def column_values(df: pd.DataFrame, col: str) -> pd.Series:
    return pd.to_numeric(df[col], errors="coerce")


def protocol_of(runs: pd.DataFrame, extra: str = "") -> str:
    """Data, N, k, steps and seeds of the runs behind a claim, read from the store."""
    parts = [data_sources_text(runs)]
    if "n_points" in runs.columns and runs["n_points"].notna().any():
        ns = sorted({int(v) for v in column_values(runs, "n_points").dropna()})
        parts.append("N = " + ("/".join(map(str, ns)) if len(ns) <= 3 else f"{ns[0]}–{ns[-1]}"))
    if "depth" in runs.columns:
        ds = sorted({int(v) for v in column_values(runs, "depth").dropna()})
        parts.append("depth " + "/".join(map(str, ds)))
    if "optimizer" in runs.columns and runs["optimizer"].notna().any():
        opts = sorted({str(o) for o in runs["optimizer"].dropna()})
        lrs = sorted({float(v) for v in column_values(runs, "lr").dropna()}) if "lr" in runs.columns \
            else []
        parts.append("/".join(opts) + (" lr " + "/".join(f"{v:g}" for v in lrs[:3])
                                       if lrs else ""))
    for col, label in (("steps", "steps"), ("epochs", "epochs")):
        if col in runs.columns and runs[col].notna().any() and (column_values(runs, col) > 0).any():
            vs = sorted({int(v) for v in column_values(runs, col).dropna() if v > 0})
            parts.append(f"{label} " + "/".join(map(str, vs[:4])))
            break
    if "seed" in runs.columns:
        parts.append(f"{runs['seed'].nunique()} seeds")
    if extra:
        parts.append(extra)
    return "; ".join(p for p in parts if p)
