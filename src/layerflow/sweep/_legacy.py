"""Reading parts written before the Ricci coefficients had their own table.

Those parts held every (protocol, k) coefficient as a runs column — ``ricci_rho_k<k>`` for the
primary protocol, ``ricci_rho_<protocol>_k<k>`` and ``ricci_rho_<protocol>`` (at the primary k)
for the others, ``ricci_first_pair[_<protocol>]`` — and the per-layer metrics of a further
protocol as ``eta_<protocol>``, ``scalar_curvature_<protocol>``, ``geodesic_mass_<protocol>``.
The store reads them as the current tables: the same values, the runs table without those
columns, the coefficients as rows of the coefficients table, the per-layer metrics with a
``protocol`` column. Nothing is rewritten on disk.

A legacy coefficient's ``reason`` is what the old columns and layer rows say: ``""`` (defined),
``"k >= N"`` (listed in ``ricci_skipped_ks``), ``"disconnected"`` (an infinite geodesic mass at
that protocol and k, or ``ricci_connected`` false at the primary k), ``"too few pairs"``, the
primary coefficient's own reason when it is a short one, else ``"unrecorded"``.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pandas as pd

RICCI_LAYER_METRICS = ("scalar_curvature", "geodesic_mass", "eta")
_SHORT_REASONS = ("zero variance", "non-finite values")


#: the protocols a store in that layout could hold, with the first layer pair each correlates:
#: the layout was written only while these two existed, so it is read with them as they were
LEGACY_PROTOCOLS: dict[str, int] = {"layerflow": 0, "baptista": 1}


def _wide(name: str) -> tuple[str, str | None, int | None] | None:
    """``(kind, protocol or None for the primary, k or None for the primary k)`` of a legacy
    runs column (kind ``rho`` or ``first_pair``), else None."""
    protos = "|".join(map(re.escape, LEGACY_PROTOCOLS))
    if m := re.fullmatch(rf"ricci_rho(?:_({protos}))?_k(\d+)", name):
        return "rho", m.group(1), int(m.group(2))
    if m := re.fullmatch(rf"ricci_rho_({protos})", name):
        return "rho", m.group(1), None
    if m := re.fullmatch(rf"ricci_first_pair(?:_({protos}))?", name):
        return "first_pair", m.group(1), None
    return None


def is_wide_column(name: str) -> bool:
    """Whether ``name`` is a legacy per-(protocol, k) runs column."""
    return _wide(str(name)) is not None


def _num(v: Any) -> float:
    try:
        out = float(v)
    except (TypeError, ValueError):
        return math.nan
    return out


def split_wide_runs(part: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One runs part -> (the part without legacy columns, its coefficient rows).

    The coefficient rows (measured runs only: status ``ok``) carry ``attempt`` and the columns
    :func:`legacy_reasons` reads (``_primary_k``, ``_connected``, ``_layers``, ``_skipped``,
    ``_reason``); an empty frame when the part has no legacy column.
    """
    wide = {c: w for c in part.columns if (w := _wide(str(c))) is not None}
    if not wide:
        return part, pd.DataFrame()
    return part.drop(columns=list(wide)), _coefficient_rows(part, wide)


def primary_coefficients(runs: pd.DataFrame) -> pd.DataFrame:
    """The coefficient rows a runs table holds without a coefficients table: each measured
    run's primary coefficient (``ricci_rho`` at its ``k`` under its ``ricci_protocol``), with
    its reason; the legacy columns too when the table has them."""
    wide = {c: w for c in runs.columns if (w := _wide(str(c))) is not None}
    return legacy_reasons(_coefficient_rows(runs, wide), pd.DataFrame())


def _coefficient_rows(part: pd.DataFrame,
                      wide: dict[Any, tuple[str, str | None, int | None]]) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    for _, r in part.iterrows():
        if str(r.get("status", "ok")) != "ok":
            continue
        primary = r.get("ricci_protocol")
        primary = str(primary) if isinstance(primary, str) and primary else "layerflow"
        pk = _num(r.get("k"))
        rho: dict[tuple[str, int], float] = {}
        first: dict[str, float] = {}
        for col, (kind, proto, k) in wide.items():
            p = proto or primary
            if kind == "first_pair":
                first[p] = _num(r[col])
                continue
            if k is None:
                if math.isnan(pk):
                    continue
                k = int(pk)
            if (p, k) not in rho or not math.isnan(_num(r[col])):
                rho[(p, k)] = _num(r[col])
        if not math.isnan(pk) and (primary, int(pk)) not in rho and "ricci_rho" in r.index:
            rho[(primary, int(pk))] = _num(r["ricci_rho"])
        for (p, k), value in rho.items():
            fp = first.get(p, math.nan)
            rows.append({
                "run_id": r["run_id"], "protocol": p, "k": k, "rho": value,
                "first_pair": int(fp) if not math.isnan(fp) else LEGACY_PROTOCOLS.get(p, 0),
                "reason": "", "attempt": r.get("attempt"),
                "_primary": p == primary and k == pk, "_connected": r.get("ricci_connected"),
                "_layers": _num(r.get("ricci_layers")),
                "_skipped": str(r.get("ricci_skipped_ks") or ""),
                "_reason": str(r.get("ricci_reason") or ""),
            })
    cols = ["run_id", "protocol", "k", "rho", "first_pair", "reason", "attempt", "_primary",
            "_connected", "_layers", "_skipped", "_reason"]
    return pd.DataFrame(rows, columns=cols)


def legacy_reasons(coef: pd.DataFrame, layers: pd.DataFrame) -> pd.DataFrame:
    """The coefficient rows of :func:`split_wide_runs` with their ``reason`` (see the module
    docstring), read with the store's ``layers`` (``protocol`` column present)."""
    infinite: set[tuple[Any, str, int]] = set()
    if layers is not None and len(layers):
        gm = layers[layers["metric"] == "geodesic_mass"]
        bad = gm[~np.isfinite(pd.to_numeric(gm["value"], errors="coerce").to_numpy(np.float64))]
        infinite = {(rid, str(p), int(k)) for rid, p, k in
                    zip(bad["run_id"], bad["protocol"], bad["k"], strict=True) if pd.notna(k)}
    reasons = []
    for r in coef.to_dict("records"):
        if np.isfinite(r["rho"]):
            why = ""
        elif f"k={int(r['k'])} " in r["_skipped"] + " ":
            why = "k >= N"
        elif (r["run_id"], r["protocol"], int(r["k"])) in infinite or (
                r["_primary"] and r["_connected"] is not None and not bool(r["_connected"])):
            why = "disconnected"
        elif not math.isnan(r["_layers"]) and r["_layers"] - r["first_pair"] < 3:
            why = "too few pairs"
        elif r["_primary"] and r["_reason"] in _SHORT_REASONS:
            why = r["_reason"]
        else:
            why = "unrecorded"
        reasons.append(why)
    out = coef.assign(reason=reasons)
    return out.drop(columns=[c for c in out.columns if c.startswith("_")])


def split_layer_metrics(layers: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Layer rows with a ``protocol`` column: legacy rows (no protocol recorded) named
    ``<metric>_<protocol>`` become ``<metric>`` under that protocol; a legacy Ricci metric
    without a suffix is the run's primary protocol's (``ricci_protocol``, else ``layerflow``);
    every other metric gets ``""``."""
    out = layers.copy()
    if "protocol" not in out.columns:
        out["protocol"] = None
    out["protocol"] = out["protocol"].astype(object)
    old = out["protocol"].isna()
    if not old.any():
        return out
    protos = "|".join(map(re.escape, LEGACY_PROTOCOLS))
    pat = re.compile(rf"({'|'.join(RICCI_LAYER_METRICS)})_({protos})")
    primary = (runs.set_index("run_id")["ricci_protocol"].dropna().astype(str)
               if "ricci_protocol" in runs.columns else pd.Series(dtype=object))
    metric = out.loc[old, "metric"].astype(str)
    proto = pd.Series("", index=metric.index, dtype=object)
    base = metric.copy()
    for i, m in metric.items():
        if match := pat.fullmatch(m):
            base[i], proto[i] = match.group(1), match.group(2)
        elif m in RICCI_LAYER_METRICS:
            rid = out.at[i, "run_id"]
            proto[i] = str(primary.get(rid, "layerflow")) or "layerflow"
    out.loc[old, "metric"] = base
    out.loc[old, "protocol"] = proto
    return out
