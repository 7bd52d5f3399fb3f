"""Compare a results store written with one column per (protocol, k) against one written with the
long coefficients table, value by value.

    python benchmarks/compare_stores.py OLD_OUT NEW_OUT

``OLD_OUT`` was written by a layerflow whose runs table held ``ricci_rho[_<protocol>]_k<k>``,
``ricci_rho_<protocol>`` and ``ricci_first_pair[_<protocol>]`` columns and whose layers table named
a further protocol's metrics ``<metric>_<protocol>``; ``NEW_OUT`` by this one, from the same
config. Both are read as plain Parquet (the compacted ``OUT/store/*.parquet``), and the new one
also through :class:`layerflow.sweep.ResultStore`. Checked, bit for bit (NaN equal to NaN):

1. runs: the same run ids, and every column but the moved ones and the timings. A run whose
   status differs between the stores (a time budget met in one run and not in the other, e.g.
   the Jacobian view's on a loaded machine) is listed and left out of every comparison: its
   two rows are not the same measurement; of a run that failed in both, the error's type is
   compared, not its text (a budget error quotes the seconds it measured);
2. layers: every old row is a new row with the protocol split out of the metric name (the
   primary protocol's metrics carry the run's ``ricci_protocol``; other metrics ``""``);
3. coefficients: one new row per finished run and old ``ricci_rho…_k<k>`` column, with the same
   value; ``ricci_rho_<protocol>`` and ``ricci_first_pair…`` equal the rows at the primary k; the
   reason is ``""`` exactly where ρ is defined, ``"k >= N"`` exactly for the ks listed in
   ``ricci_skipped_ks``, ``"disconnected"`` exactly where the old store shows a disconnected
   graph (``ricci_connected`` false at the primary k, an infinite geodesic mass at another);
4. the old store read through :class:`~layerflow.sweep.ResultStore` (its reading of the old
   layout) gives the new store's three tables.

Prints one line per check and exits 1 on any difference.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

TIMINGS = {"seconds", "train_seconds", "analysis_seconds", "finished_at", "attempt", "task_id"}
PROTOCOLS = ("layerflow", "baptista")
RICCI_LAYER = ("scalar_curvature", "geodesic_mass", "eta")
_P = "|".join(PROTOCOLS)
WIDE_RHO = re.compile(rf"ricci_rho(?:_({_P}))?_k(\d+)")
OTHER_AT_PRIMARY = re.compile(rf"ricci_rho_({_P})")
FIRST_PAIR = re.compile(rf"ricci_first_pair(?:_({_P}))?")


def same(a: pd.Series, b: pd.Series) -> bool:
    """Bit-for-bit equal values (NaN equal to NaN; floats compared as float64 bits)."""
    a, b = a.reset_index(drop=True), b.reset_index(drop=True)
    if len(a) != len(b):
        return False
    if pd.api.types.is_float_dtype(a) or pd.api.types.is_float_dtype(b):
        try:
            x = a.to_numpy(dtype=np.float64)
            y = b.to_numpy(dtype=np.float64)
        except (TypeError, ValueError):
            return False
        return bool(np.array_equal(x.view(np.int64), y.view(np.int64))
                    or (np.array_equal(x, y, equal_nan=True)
                    and np.array_equal(np.signbit(x), np.signbit(y))))
    return all(_equal(x, y) for x, y in zip(a, b, strict=True))


def _equal(x: object, y: object) -> bool:
    if isinstance(x, np.ndarray | list) or isinstance(y, np.ndarray | list):
        return bool(np.array_equal(np.asarray(x), np.asarray(y)))
    if pd.isna(x) and pd.isna(y):  # type: ignore[call-overload]
        return True
    return bool(x == y)


def _errors(a: pd.DataFrame, b: pd.DataFrame, col: str) -> tuple[pd.Series, pd.Series]:
    """Column ``col`` of both tables; for ``error``, a failed run's text cut to its type."""
    if col != "error":
        return a[col], b[col]
    def cut(df: pd.DataFrame) -> pd.Series:
        failed = df["status"] == "failed"
        kind = [str(e).split(":")[0] for e in df["error"]]
        return df["error"].astype(object).where(~failed, pd.Series(kind, index=df.index))
    return cut(a), cut(b)


def moved(col: str) -> bool:
    return bool(WIDE_RHO.fullmatch(col) or OTHER_AT_PRIMARY.fullmatch(col)
                or FIRST_PAIR.fullmatch(col))


def compare(old_out: Path, new_out: Path) -> list[str]:
    """Every difference found (empty: the stores agree); prints what was compared."""
    from layerflow.sweep import ResultStore

    problems: list[str] = []
    old_runs = pd.read_parquet(old_out / "store" / "runs.parquet")
    old_layers = pd.read_parquet(old_out / "store" / "layers.parquet")
    store = ResultStore(new_out)
    new_runs = store.runs()
    new_layers = store.layers(new_runs)
    new_coef = store.coefficients(new_runs, new_layers)
    for name, df in (("runs", new_runs), ("layers", new_layers), ("coefficients", new_coef)):
        flat = pd.read_parquet(new_out / "store" / f"{name}.parquet")
        if list(flat.columns) != list(df.columns) or len(flat) != len(df) or not all(
                same(flat[c], df[c]) for c in df.columns):
            problems.append(f"{name}.parquet differs from ResultStore.{name}()")

    # 1. runs
    old_runs = old_runs.sort_values("run_id", ignore_index=True)
    new_runs = new_runs.sort_values("run_id", ignore_index=True)
    if list(old_runs["run_id"]) != list(new_runs["run_id"]):
        problems.append("runs: the run ids differ")
        return problems
    differ = set(old_runs.loc[old_runs["status"] != new_runs["status"], "run_id"])
    if differ:
        print(f"left out: {len(differ)} runs whose status differs between the stores: "
              + "; ".join(f"{r} {o} -> {n}" for r, o, n in zip(
                  old_runs["run_id"], old_runs["status"], new_runs["status"], strict=True)
                  if r in differ))
        old_runs = old_runs[~old_runs["run_id"].isin(differ)].reset_index(drop=True)
        new_runs = new_runs[~new_runs["run_id"].isin(differ)].reset_index(drop=True)
        old_layers = old_layers[~old_layers["run_id"].isin(differ)]
        new_layers = new_layers[~new_layers["run_id"].isin(differ)]
        new_coef = new_coef[~new_coef["run_id"].isin(differ)]
    wide = [c for c in old_runs.columns if moved(str(c))]
    keep = [c for c in old_runs.columns if c not in wide and c not in TIMINGS]
    extra = sorted(set(new_runs.columns) - set(keep) - TIMINGS)
    if extra:
        problems.append(f"runs: new columns {extra}")
    missing = sorted(set(keep) - set(new_runs.columns))
    if missing:
        problems.append(f"runs: columns lost {missing}")
    bad = [c for c in keep if c in new_runs.columns and not same(*_errors(old_runs, new_runs, c))]
    if bad:
        problems.append(f"runs: values differ in {bad}")
    print(f"runs: {len(new_runs)} rows; {len(keep) - len(bad)} of {len(keep)} kept columns "
          f"identical; {len(wide)} columns moved to the coefficients table: {sorted(wide)}")

    # 2. layers
    primary = old_runs.set_index("run_id")["ricci_protocol"] if "ricci_protocol" in \
        old_runs.columns else pd.Series(dtype=object)
    metric = old_layers["metric"].astype(str)
    split = metric.str.extract(rf"^({'|'.join(RICCI_LAYER)})_({_P})$")
    want = old_layers.copy()
    is_other = split[0].notna()
    want.loc[is_other, "metric"] = split.loc[is_other, 0]
    want["protocol"] = ""
    want.loc[is_other, "protocol"] = split.loc[is_other, 1]
    is_primary = metric.isin(RICCI_LAYER)
    want.loc[is_primary, "protocol"] = want.loc[is_primary, "run_id"].map(primary).fillna(
        "layerflow")
    cols = ["run_id", "layer", "layer_name", "metric", "k", "protocol", "value"]
    order = ["run_id", "metric", "protocol", "k", "layer"]
    a = want[cols].sort_values(order, ignore_index=True)
    b = new_layers[cols].sort_values(order, ignore_index=True)
    if len(a) != len(b):
        problems.append(f"layers: {len(a)} old rows, {len(b)} new")
    else:
        bad = [c for c in cols if not same(a[c], b[c])]
        if bad:
            problems.append(f"layers: values differ in {bad}")
    print(f"layers: {len(old_layers)} old rows, {len(new_layers)} new; "
          f"{int(is_other.sum())} rows of a further protocol, {int(is_primary.sum())} of the "
          "primary; compared bit for bit")

    # 3. coefficients against the old wide columns
    ok = old_runs[old_runs["status"] == "ok"].set_index("run_id")
    coef = new_coef.set_index(["run_id", "protocol", "k"])
    if coef.index.duplicated().any():
        problems.append("coefficients: a (run, protocol, k) appears twice")
    expected: set[tuple[str, str, int]] = set()
    n_vals = 0
    infinite = old_layers[old_layers["metric"].astype(str).str.startswith("geodesic_mass")
                          & ~np.isfinite(old_layers["value"].to_numpy(np.float64))]
    inf_keys = {(r, (m[len("geodesic_mass_"):] or None) if m != "geodesic_mass" else None,
                 int(k)) for r, m, k in zip(infinite["run_id"], infinite["metric"],
                                           infinite["k"], strict=True)}
    for col in wide:
        m = WIDE_RHO.fullmatch(str(col))
        if not m:
            continue
        k = int(m.group(2))
        for rid, row in ok.iterrows():
            proto = m.group(1) or str(row.get("ricci_protocol") or "layerflow")
            key = (rid, proto, k)
            expected.add(key)
            if key not in coef.index:
                problems.append(f"coefficients: no row for {key}")
                continue
            got = coef.loc[key]
            n_vals += 1
            if not same(pd.Series([row[col]], dtype=np.float64),
                        pd.Series([got["rho"]], dtype=np.float64)):
                problems.append(f"coefficients: {key} rho {got['rho']!r} != {row[col]!r}")
            defined = np.isfinite(got["rho"])
            skipped = f"k={k} " in str(row.get("ricci_skipped_ks") or "") + " "
            at_primary = proto == row.get("ricci_protocol") and k == int(row["k"])
            disc = ((at_primary and not bool(row["ricci_connected"]))
                    or (rid, m.group(1), k) in inf_keys)
            want_reason = ("" if defined else "k >= N" if skipped else
                           "disconnected" if disc else None)
            if want_reason is not None and got["reason"] != want_reason:
                problems.append(f"coefficients: {key} reason {got['reason']!r}, expected "
                                f"{want_reason!r}")
            if want_reason is None and got["reason"] in ("", "k >= N", "disconnected"):
                problems.append(f"coefficients: {key} reason {got['reason']!r} for an "
                                "undefined ρ on a connected graph")
    for col in wide:
        m = OTHER_AT_PRIMARY.fullmatch(str(col)) or FIRST_PAIR.fullmatch(str(col))
        if not m:
            continue
        for rid, row in ok.iterrows():
            proto = m.group(1) or str(row.get("ricci_protocol") or "layerflow")
            key = (rid, proto, int(row["k"]))
            field = "first_pair" if col.startswith("ricci_first_pair") else "rho"
            if key not in coef.index or not same(
                    pd.Series([float(row[col])]), pd.Series([float(coef.loc[key][field])])):
                problems.append(f"coefficients: {col} of {rid} differs from the row {key}")
            n_vals += 1
    prim = [(rid, str(row["ricci_protocol"]), int(row["k"])) for rid, row in ok.iterrows()
            if pd.notna(row.get("ricci_rho"))]
    for key in prim:
        if key not in coef.index or coef.loc[key]["rho"] != ok.loc[key[0], "ricci_rho"]:
            problems.append(f"coefficients: the primary {key} differs from ricci_rho")
    extra_rows = set(coef.index) - expected
    if extra_rows:
        problems.append(f"coefficients: {len(extra_rows)} rows the old store has no column "
                        f"for, e.g. {sorted(extra_rows)[:3]}")
    reasons = new_coef["reason"].value_counts().to_dict()
    print(f"coefficients: {len(new_coef)} rows ({len(expected)} expected from the old "
          f"columns); {n_vals} old values compared bit for bit; reasons {reasons}")

    # 4. the old store through the reader
    old = ResultStore(old_out)
    o_runs = old.runs()
    o_layers = old.layers(o_runs)
    o_coef = old.coefficients(o_runs, o_layers)
    o_runs = o_runs[~o_runs["run_id"].isin(differ)]
    o_layers = o_layers[~o_layers["run_id"].isin(differ)]
    o_coef = o_coef[~o_coef["run_id"].isin(differ)]
    cols_r = [c for c in new_runs.columns if c not in TIMINGS]
    if sorted(set(o_runs.columns) - TIMINGS) != sorted(cols_r):
        problems.append("migration: the old store's runs columns differ from the new store's")
    else:
        x = o_runs.sort_values("run_id", ignore_index=True)
        bad = [c for c in cols_r if not same(*_errors(x, new_runs, c))]
        if bad:
            problems.append(f"migration: runs values differ in {bad}")
    x = o_layers[cols].sort_values(order, ignore_index=True)
    if len(x) != len(b) or [c for c in cols if not same(x[c], b[c])]:
        problems.append("migration: the old store's layers differ from the new store's")
    cc = ["run_id", "protocol", "k", "rho", "first_pair", "reason"]
    x = o_coef[cc].sort_values(cc[:3], ignore_index=True)
    y = new_coef[cc].sort_values(cc[:3], ignore_index=True)
    if len(x) != len(y) or [c for c in cc if not same(x[c], y[c])]:
        problems.append("migration: the old store's coefficients differ from the new store's")
    print(f"old store through ResultStore: {len(o_runs)} runs, {len(o_layers)} layer rows, "
          f"{len(o_coef)} coefficient rows; compared with the new store")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    problems = compare(Path(argv[0]), Path(argv[1]))
    for p in problems:
        print("DIFFERENCE:", p)
    print("identical" if not problems else f"{len(problems)} differences")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
