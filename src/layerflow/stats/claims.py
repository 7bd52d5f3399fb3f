"""The claims table (SPEC §8): one row per paper's claim, estimated from a sweep's store.

Each claim function reads the prepared runs table (:func:`~layerflow.stats.tables.prepare_runs`)
and the per-layer table at each run's primary k, and returns a :class:`Claim` — the estimate of
the quantity the claim is about, its 95 % interval (percentile bootstrap, or Wilson for a
proportion: both stay inside the quantity's range), ``n``, the protocol the numbers come from,
and a verdict computed from the interval:

- ``supported``: the interval excludes the null value on the side the paper predicts;
- ``contradicted``: it excludes the null value on the other side;
- ``inconclusive``: it contains the null value (or no interval could be estimated).

A claim whose data the store does not hold gives no row. Nothing here is written in advance:
the same function gives the opposite verdict when the data say the opposite.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from layerflow.stats.claim import (
    Claim,
    column_values,
    difference_claim,
    make_claim,
    protocol_of,
    verdict,
)
from layerflow.stats.geodesic import weight_decay_trend
from layerflow.stats.intervals import (
    bootstrap_mean_interval,
)
from layerflow.stats.least_action import study_runs
from layerflow.stats.ricci_claims import (
    k_text,
    pooled_claims,
    rho_accuracy_claim,
    rho_sign_claim,
    rho_vs_untrained_claim,
)
from layerflow.stats.tables import finished, paired_settings
from layerflow.stats.transformer import trained_vs_untrained, transformer_runs

__all__ = ["CLAIMS", "Claim", "compute_claims", "verdict"]

# ------------------------------------------------------------------------------ Gai & Zhang
def _residual_vs_plain(runs: pd.DataFrame, metric: str, key: str, text: str, quantity: str,
                       residual_higher: bool) -> Claim | None:
    pairs = paired_settings(runs, metric)
    if len(pairs) < 2:
        return None
    diff = (pairs["residual"] - pairs["plain"]) if residual_higher else (
        pairs["plain"] - pairs["residual"])
    diff = diff.to_numpy(dtype=np.float64)
    iv = bootstrap_mean_interval(diff)
    used = finished(runs)
    used = used[used["trained"] & ~used["penalty"] & used["kind"].isin(["residual", "plain"])]
    return make_claim(key, "gai-zhang", text, protocol_of(used, f"{len(pairs)} matched settings"),
                  quantity, iv, 0.0, +1)


def lss_claim(runs: pd.DataFrame, layers: pd.DataFrame) -> Claim | None:
    return _residual_vs_plain(runs, "lss_mean", "lss_residual_vs_plain",
                              "Residual networks move data along straighter tracks than plain "
                              "ones (lower line-shape score)",
                              "mean over settings of LSS(plain) − LSS(residual)", False)


def ots_claim(runs: pd.DataFrame, layers: pd.DataFrame) -> Claim | None:
    return _residual_vs_plain(runs, "ots", "ots_residual_vs_plain",
                              "Residual networks are closer to the optimal transport map than "
                              "plain ones (higher OT score)",
                              "mean over settings of OTS(residual) − OTS(plain)", True)


def weight_decay_claim(runs: pd.DataFrame, layers: pd.DataFrame) -> Claim | None:
    """Weight decay pulls residual tracks toward the geodesic. With three or more weight decays
    γ (a sweep, as Gai & Zhang ran): Spearman's ρ(γ, LSS) over residual networks < 0; with two:
    LSS(γ = 0) − LSS(γ > 0) > 0, matched by dataset, shape, train fraction and seed."""
    trend = weight_decay_trend(runs, "lss_mean", "residual")
    if trend is not None:
        used = finished(runs)
        used = used[used["trained"] & (used["kind"] == "residual") & ~used["penalty"]]
        n_g = used["weight_decay"].nunique() if "weight_decay" in used.columns else 0
        return make_claim("lss_weight_decay", "gai-zhang",
                      "Weight decay pulls residual networks' tracks toward the geodesic (lower "
                      "LSS)", protocol_of(used, f"{n_g} weight decays"),
                      "Spearman ρ(γ, LSS) over residual networks, ranks within each data set",
                      trend, 0.0, -1)
    df = finished(runs)
    df = df[df["trained"] & ~df["penalty"] & (df["kind"] == "residual")]
    if "lss_mean" not in df.columns or "weight_decay" not in df.columns or df.empty:
        return None
    wd = column_values(df, "weight_decay").fillna(0.0) + (column_values(df, "l2").fillna(0.0)
                                                      if "l2" in df.columns else 0.0)
    keys = [k for k in ("dataset", "width", "depth", "train_fraction", "seed") if k in df.columns]
    df = df.assign(_wd=wd > 0, _v=column_values(df, "lss_mean"))
    g = df.groupby([*keys, "_wd"])["_v"].mean().unstack("_wd")
    if True not in g.columns or False not in g.columns:
        return None
    g = g.dropna()
    if len(g) < 2:
        return None
    iv = bootstrap_mean_interval((g[False] - g[True]).to_numpy(dtype=np.float64))
    return make_claim("lss_weight_decay", "gai-zhang",
                  "Weight decay pulls residual networks' tracks toward the geodesic (lower LSS)",
                  protocol_of(df, f"{len(g)} matched pairs"),
                  "mean over matched runs of LSS(γ = 0) − LSS(γ > 0)", iv, 0.0, +1)


# ------------------------------------------------------------------------------- Baptista
# ----------------------------------------------------------------------------------- Dong
def diffeomorphism_claim(runs: pd.DataFrame, layers: pd.DataFrame) -> Claim | None:
    if layers is None or layers.empty or "metric" not in layers.columns:
        return None
    lay = layers[layers["metric"].astype(str) == "orientation_fraction"]
    df = finished(runs)
    df = df[df["trained"] & df["kind"].isin(["residual", "plain"])]
    per_run = lay.assign(value=pd.to_numeric(lay["value"], errors="coerce")).groupby(
        "run_id")["value"].mean()
    df = df.assign(_v=df["run_id"].map(per_run)).dropna(subset=["_v"])
    res = df.loc[df["kind"] == "residual", "_v"].to_numpy(dtype=np.float64)
    plain = df.loc[df["kind"] == "plain", "_v"].to_numpy(dtype=np.float64)
    return difference_claim("diffeomorphism", "dong",
                       "Residual layers act as local orientation-preserving diffeomorphisms; "
                       "plain layers need not",
                       protocol_of(df, f"{res.size} residual vs {plain.size} plain networks"),
                       "share of samples with det J > 0: residual − plain", res, plain)


# --------------------------------------------------------------------------------- Karkar
def _arm_pairs(runs: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Transport-penalty vs plain runs paired by (dataset, model kind, fraction, seed)."""
    df = study_runs(runs)
    if df.empty or metric not in df.columns or "train_fraction" not in df.columns:
        return pd.DataFrame()
    df = df[df["arm_role"].isin(["plain", "transport penalty"])]
    keys = [k for k in ("dataset", "model_kind", "train_fraction", "seed") if k in df.columns]
    wide = df.assign(_v=column_values(df, metric)).pivot_table(index=keys, columns="arm_role",
                                                         values="_v", aggfunc="mean")
    if not {"plain", "transport penalty"} <= set(wide.columns):
        return pd.DataFrame()
    return wide.dropna(subset=["plain", "transport penalty"]).reset_index()


def _fraction_text(fracs: list[float]) -> str:
    return ", ".join(f"{100 * f:.3g}" for f in sorted(fracs)) + " %"


def penalty_low_data_claim(runs: pd.DataFrame, layers: pd.DataFrame) -> Claim | None:
    """Gain in test accuracy (penalty − plain, paired by data set, fraction and seed) over every
    train fraction below the largest one: the low-data regime of the study."""
    pairs = _arm_pairs(runs, "test_acc")
    if pairs.empty or pairs["train_fraction"].nunique() < 2:
        return None
    full = float(pairs["train_fraction"].max())
    low = pairs[pairs["train_fraction"] < full]
    if len(low) < 2:
        return None
    gain = (low["transport penalty"] - low["plain"]).to_numpy(dtype=np.float64)
    iv = bootstrap_mean_interval(gain)
    fracs = sorted(set(low["train_fraction"].astype(float)))
    return make_claim("penalty_low_data", "karkar",
                  "The transport penalty improves test accuracy when data are scarce",
                  protocol_of(study_runs(runs), f"train fractions {_fraction_text(fracs)}; "
                                                "paired by seed"),
                  f"test accuracy, penalty − plain, at {_fraction_text(fracs)} of the data",
                  iv, 0.0, +1)


def penalty_most_claim(runs: pd.DataFrame, layers: pd.DataFrame) -> Claim | None:
    """The low-data gain minus the gain with all the data, paired by data set and seed."""
    pairs = _arm_pairs(runs, "test_acc")
    if pairs.empty or pairs["train_fraction"].nunique() < 2:
        return None
    full = float(pairs["train_fraction"].max())
    gain = pairs.assign(g=pairs["transport penalty"] - pairs["plain"],
                        low=pairs["train_fraction"] < full)
    keys = [k for k in ("dataset", "model_kind", "seed") if k in gain.columns]
    g = gain.pivot_table(index=keys, columns="low", values="g", aggfunc="mean")
    if True not in g.columns or False not in g.columns:
        return None
    d = (g[True] - g[False]).dropna().to_numpy(dtype=np.float64)
    if d.size < 2:
        return None
    iv = bootstrap_mean_interval(d)
    fracs = sorted(set(gain.loc[gain["low"], "train_fraction"].astype(float)))
    return make_claim("penalty_most_low_data", "karkar",
                  "The penalty helps most in low-data regimes",
                  protocol_of(study_runs(runs), f"{_fraction_text(fracs)} vs "
                                                f"{100 * full:.3g} % of the data; paired by seed"),
                  f"mean gain at {_fraction_text(fracs)} − gain at {100 * full:.3g} % "
                  "(test accuracy)", iv, 0.0, +1)


def kinetic_claim(runs: pd.DataFrame, layers: pd.DataFrame) -> Claim | None:
    pairs = _arm_pairs(runs, "kinetic_energy")
    if len(pairs) < 2:
        return None
    a, b = pairs["transport penalty"].to_numpy(np.float64), pairs["plain"].to_numpy(np.float64)
    ok = (a > 0) & (b > 0)
    if ok.sum() < 2:
        return None
    iv = bootstrap_mean_interval(np.log10(a[ok] / b[ok]))
    return make_claim("penalty_kinetic_energy", "karkar",
                  "Training with the transport penalty gives networks of lower kinetic energy",
                  protocol_of(study_runs(runs), "paired by seed and train fraction"),
                  "mean log10(kinetic energy: penalty / plain)", iv, 0.0, -1)


# ----------------------------------------------------------------------------- transformers
def _token_claim(runs: pd.DataFrame, metric: str, key: str, paper: str, text: str,
                 quantity: str, note: str = "") -> Claim | None:
    """Trained − untrained transformers (token tracks), predicted below 0."""
    cmp = trained_vs_untrained(runs, metric)
    if cmp is None:
        return None
    used = cmp.runs
    per_token = ""
    if "n_sequences" in used.columns and used["n_sequences"].notna().any():
        n_seq = sorted({int(v) for v in column_values(used, "n_sequences").dropna()})
        per_token = f"per token of {'/'.join(map(str, n_seq))} sequences; "
    extra = (f"{per_token}{cmp.trained.size} trained vs {cmp.untrained.size} untrained "
             f"transformers" + (f"; {note}" if note else ""))
    return make_claim(key, paper, text, protocol_of(used, extra), quantity, cmp.difference, 0.0, -1)


def token_lss_claim(runs: pd.DataFrame, layers: pd.DataFrame) -> Claim | None:
    return _token_claim(runs, "lss_mean", "token_lss_trained", "hosseini-fedorenko",
                        "Training straightens token trajectories: trained transformers' token "
                        "tracks have a lower line-shape score than untrained ones'",
                        "mean LSS of token tracks: trained − untrained",
                        "LSS across layers; the paper's curvature is across positions")


def token_rho_claim(runs: pd.DataFrame, layers: pd.DataFrame) -> Claim | None:
    return _token_claim(runs, "ricci_rho", "token_rho_trained", "baptista",
                        "Training makes a transformer's token flow Ricci-flow-like: a lower "
                        "global Ricci coefficient than untrained transformers",
                        "mean ρ of token graphs: trained − untrained",
                        k_text(transformer_runs(runs)))


def token_geodesic_claim(runs: pd.DataFrame, layers: pd.DataFrame) -> Claim | None:
    return _token_claim(runs, "w2_geodesic_ratio", "token_geodesic_trained", "gai-zhang",
                        "Trained transformers move the token distribution closer to a W2 "
                        "geodesic than untrained ones (lower geodesic ratio)",
                        "mean W2 geodesic ratio of token clouds: trained − untrained")


# each returns one claim, none (no data), or several (one per protocol or k)
CLAIMS: dict[str, Callable[[pd.DataFrame, pd.DataFrame], Claim | list[Claim] | None]] = {
    "lss_residual_vs_plain": lss_claim,
    "ots_residual_vs_plain": ots_claim,
    "lss_weight_decay": weight_decay_claim,
    "rho_negative": rho_sign_claim,
    "rho_negative_vs_untrained": rho_vs_untrained_claim,
    "rho_vs_accuracy": rho_accuracy_claim,
    "rho_pooled": pooled_claims,
    "diffeomorphism": diffeomorphism_claim,
    "penalty_low_data": penalty_low_data_claim,
    "penalty_most_low_data": penalty_most_claim,
    "penalty_kinetic_energy": kinetic_claim,
    "token_lss_trained": token_lss_claim,
    "token_rho_trained": token_rho_claim,
    "token_geodesic_trained": token_geodesic_claim,
}


def compute_claims(runs: pd.DataFrame, layers: pd.DataFrame | None = None,
                   coefficients: pd.DataFrame | None = None) -> list[Claim]:
    """Every claim the store can speak to, in registry order (``runs`` prepared). A claim
    function that declares a ``coefficients`` parameter gets the store's coefficients table."""
    import inspect

    lay = layers if layers is not None else pd.DataFrame()
    out: list[Claim] = []
    for fn in CLAIMS.values():
        reads = "coefficients" in inspect.signature(fn).parameters
        c = fn(runs, lay, coefficients=coefficients) if reads else fn(runs, lay)  # type: ignore[call-arg]
        out.extend(c if isinstance(c, list) else [] if c is None else [c])
    return out
