"""The claims of Baptista et al. 2024 (Deep learning as Ricci flow) estimated from a store: for
every protocol the store holds (SPEC §3), the share of well-trained networks with ρ < 0, its
relation to accuracy, the comparison with untrained networks of the same shapes, and — the
authors' own estimate — R's pooled coefficient over (layer, network) pairs at their ks."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from layerflow.stats.accuracy import WELL_TRAINED, well_trained
from layerflow.stats.claim import (
    Claim,
    column_values,
    difference_claim,
    make_claim,
    protocol_of,
)
from layerflow.stats.correlation import bootstrap_pearson, pearson
from layerflow.stats.intervals import Interval, wilson_interval
from layerflow.stats.ricci import (
    coefficient_table,
    first_pair_of,
    pooled_from_layers,
    protocol_rho,
    protocols_in_store,
)
from layerflow.stats.tables import finished

__all__ = ["AUTHORS_KS", "k_text", "pooled_claims", "rho_accuracy_claim", "rho_sign_claim",
           "rho_vs_untrained_claim"]

#: the ks of the authors' R code (SPEC §6); pooled claims are made at these when the store has them
AUTHORS_KS: tuple[int, ...] = (30, 120, 300)
#: the authors' protocol (SPEC §3): its coefficient is R's pooled one
AUTHORS_PROTOCOL = "baptista"


def _protocol_columns(runs: pd.DataFrame, coef: pd.DataFrame) -> list[tuple[str, str]]:
    """``(protocol, claim-key suffix)`` of every protocol the coefficients table holds (the
    primary first; its suffix is empty)."""
    if coef.empty:
        return []
    primary, protos, _ = protocols_in_store(runs, coef)
    return [(p, "" if p == primary else f"_{p}") for p in protos
            if p == primary or (coef["protocol"] == p).any()]


def _well_trained(runs: pd.DataFrame, rho: pd.Series | None = None) -> pd.DataFrame:
    """Finished, trained, well-trained runs with ``_rho`` (default: the primary ``ricci_rho``;
    else ``rho``, aligned with ``runs``)."""
    df = finished(runs)
    if (rho is None and "ricci_rho" not in df.columns) or "test_acc" not in df.columns:
        return df.iloc[0:0]
    values = column_values(df, "ricci_rho") if rho is None else rho.loc[df.index]
    df = df.assign(_rho=values, test_acc=column_values(df, "test_acc"))
    return df[df["trained"] & well_trained(df["test_acc"])]


def k_text(df: pd.DataFrame) -> str:
    if "k" not in df.columns or not df["k"].notna().any():
        return ""
    ks = sorted({int(v) for v in column_values(df, "k").dropna()})
    return "k = " + "/".join(map(str, ks))


def _key(base: str, sfx: str) -> str:
    return base + sfx


def _where(proto: str, primary: bool) -> str:
    return "" if primary else f" (protocol {proto})"


def rho_sign_claim(runs: pd.DataFrame, layers: pd.DataFrame,
                   coefficients: pd.DataFrame | None = None) -> list[Claim]:
    out = []
    coef = coefficient_table(runs, coefficients)
    for i, (proto, sfx) in enumerate(_protocol_columns(runs, coef)):
        df = _well_trained(runs, protocol_rho(runs, coef, proto))
        rho = df["_rho"].dropna().to_numpy(dtype=np.float64) if not df.empty else np.zeros(0)
        if rho.size == 0:
            continue
        iv = wilson_interval(int((rho < 0).sum()), int(rho.size))
        out.append(make_claim(
            _key("rho_negative", sfx), "baptista",
            "Most well-trained networks have a negative global Ricci coefficient"
            + _where(proto, i == 0),
            protocol_of(df, k_text(df) + f"; protocol {proto}; well-trained: test accuracy ≥ "
                        f"{WELL_TRAINED:g}"),
            "share of well-trained networks with ρ < 0", iv, 0.5, +1))
    return out


def rho_vs_untrained_claim(runs: pd.DataFrame, layers: pd.DataFrame) -> Claim | None:
    df = _well_trained(runs)
    base = finished(runs)
    base = base[~base["trained"]] if "ricci_rho" in base.columns else base.iloc[0:0]
    if df.empty or base.empty:
        return None
    a = (df["_rho"].dropna() < 0).to_numpy(dtype=np.float64)
    b = (column_values(base, "ricci_rho").dropna() < 0).to_numpy(dtype=np.float64)
    return difference_claim("rho_negative_vs_untrained", "baptista",
                            "Negative coefficients come from training: more common in "
                            "well-trained than in untrained networks of the same shapes",
                            protocol_of(pd.concat([df, base]), k_text(df) +
                                        f"; {b.size} untrained"),
                            "share ρ < 0 (well-trained) − share ρ < 0 (untrained)", a, b)


def rho_accuracy_claim(runs: pd.DataFrame, layers: pd.DataFrame,
                       coefficients: pd.DataFrame | None = None) -> list[Claim]:
    out = []
    coef = coefficient_table(runs, coefficients)
    for i, (proto, sfx) in enumerate(_protocol_columns(runs, coef)):
        df = _well_trained(runs, protocol_rho(runs, coef, proto)).dropna(
            subset=["_rho", "test_acc"])
        if len(df) < 3:
            continue
        x = df["_rho"].to_numpy(dtype=np.float64)
        y = df["test_acc"].to_numpy(dtype=np.float64)
        lo, hi = bootstrap_pearson(x, y)
        iv = Interval(pearson(x, y), lo, hi, int(x.size), math.nan)
        out.append(make_claim(
            _key("rho_vs_accuracy", sfx), "baptista",
            "The more negative the coefficient, the higher the accuracy" + _where(proto, i == 0),
            protocol_of(df, k_text(df) + f"; protocol {proto}"),
            "Pearson r(ρ, test accuracy), well-trained", iv, 0.0, -1))
    return out


def pooled_claims(runs: pd.DataFrame, layers: pd.DataFrame,
                  coefficients: pd.DataFrame | None = None) -> list[Claim]:
    """The authors' estimate: R's pooled coefficient of the well-trained networks under their
    protocol, at each of their ks the store holds; and the same against untrained networks."""
    if layers is None or layers.empty or "trained" not in runs.columns:
        return []
    coef = coefficient_table(runs, coefficients)
    _, protos, ks = protocols_in_store(runs, coef)
    if AUTHORS_PROTOCOL not in protos or not (coef["protocol"] == AUTHORS_PROTOCOL).any():
        return []
    df = finished(runs)
    # the R code's rule: well-trained means test accuracy strictly above 0.98
    well = df[df["trained"].astype(bool) & well_trained(column_values(df, "test_acc"),
                                                        strict=True)]
    base = df[~df["trained"].astype(bool)]
    first = first_pair_of(coef[coef["run_id"].isin(set(df["run_id"]))], AUTHORS_PROTOCOL)
    out = []
    for k in [k for k in AUTHORS_KS if k in ks] or ks[:1]:
        # the two groups resample their networks independently (seeds 0 and 1)
        a = pooled_from_layers(layers, well["run_id"], AUTHORS_PROTOCOL, k, first, seed=0)
        if a.n_pairs < 3:
            continue
        proto = protocol_of(well, f"k = {k}; protocol {AUTHORS_PROTOCOL}, pairs l ≥ {first}; "
                                  f"well-trained: test accuracy > {WELL_TRAINED} (R's rule); "
                                  f"{a.n_networks} networks pooled, {len(a.excluded)} left out "
                                  "(disconnected)")
        out.append(make_claim(f"rho_pooled_k{k}", "baptista",
                              "The pooled Ricci coefficient of well-trained networks is negative "
                              "(the authors' estimate)", proto,
                              f"R's pooled ρ at k = {k} over (layer, network) pairs, networks "
                              "resampled",
                              a.interval, 0.0, -1))
        b = pooled_from_layers(layers, base["run_id"], AUTHORS_PROTOCOL, k, first, seed=1)
        if b.n_pairs < 3 or a.bootstrap.size == 0 or b.bootstrap.size == 0:
            continue
        n = min(a.bootstrap.size, b.bootstrap.size)
        diff = a.bootstrap[:n] - b.bootstrap[:n]
        lo, hi = np.quantile(diff, [0.025, 0.975])
        iv = Interval(a.interval.mean - b.interval.mean, float(lo), float(hi),
                      a.n_networks, math.nan)
        out.append(make_claim(f"rho_pooled_vs_untrained_k{k}", "baptista",
                              "Training makes the pooled coefficient more negative than in "
                              "untrained networks of the same shapes",
                              proto + f"; {b.n_networks} untrained",
                              f"pooled ρ at k = {k}: well-trained − untrained", iv, 0.0, -1))
    return out
