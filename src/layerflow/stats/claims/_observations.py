"""What each declared claim is estimated from: the observations, tagged by independent unit.

One builder per claim key (:data:`BUILDERS`) reads the prepared runs table (and the layers table
where it needs per-layer values) and returns one :class:`Observations` per row the claim makes
(one per (protocol, k) for the Ricci claims). A builder also counts what it used: networks used
of those eligible and why the rest were left out, so every row states one count.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from layerflow.stats._accuracy import WELL_TRAINED, well_trained
from layerflow.stats._correlation import pearson
from layerflow.stats._least_action import study_runs, tuned_on_reported_seeds
from layerflow.stats._ricci import coefficient_table, pooled_from_layers, protocols_in_store
from layerflow.stats._tables import finished
from layerflow.stats._transformer import transformer_runs
from layerflow.stats.claims._registry import SMALLEST_FRACTION

#: the fewest networks a cell needs for its own correlation (Fisher z's variance is 1/(n − 3))
MIN_CORRELATION_N = 4
#: the ks of the authors' R code: the pooled claims are made at these when the study declared them
AUTHORS_KS: tuple[int, ...] = (30, 120, 300)
AUTHORS_PROTOCOL = "baptista"


@dataclass(frozen=True)
class Observations:
    """The data of one claims row.

    ``obs``: the estimator's input (columns ``unit`` and ``value``, or ``x``/``y``, or
    ``group``); ``suffix``/``label``: the row's key suffix and what it adds to the claim's name
    (e.g. ``"protocol baptista, k = 30"``); ``unit_word``: what a unit is ("cells", "data
    draws", "networks"); ``n_networks`` used of ``n_eligible``; ``left_out``: why the rest were
    left out; ``protocol``: the runs behind the row; ``notes``: anything the row must say beside
    its estimate (the between-cell association, the accuracy used to call a network
    well-trained); ``no_verdict``: why the row may give no verdict whatever its estimate
    (e.g. settings tuned on the reported seeds); ``sensitivity``: a row at another protocol or k
    than the confirmatory one (:func:`primary_k`), Holm-adjusted in a family of its own.
    """

    obs: pd.DataFrame
    unit_word: str
    n_networks: int
    n_eligible: int
    left_out: str = ""
    protocol: str = ""
    suffix: str = ""
    label: str = ""
    notes: str = ""
    no_verdict: str = ""
    sensitivity: bool = False


# ----------------------------------------------------------------------------- helpers
def _num(df: pd.DataFrame, col: str) -> pd.Series:
    if col not in df.columns:
        return pd.Series(np.nan, index=df.index, dtype=np.float64)
    return pd.to_numeric(df[col], errors="coerce").astype(np.float64)


def dataset_spec(df: pd.DataFrame) -> pd.Series:
    """The full data-set spec of each run: ``dataset_spec`` when the store records it, else the
    name with its arguments (``dataset_args``), so one name with two argument sets is two data
    sets."""
    if "dataset_spec" in df.columns and df["dataset_spec"].notna().all():
        return df["dataset_spec"].astype(str)
    name = df["dataset"].astype(str) if "dataset" in df.columns else pd.Series("data", df.index)
    if "dataset_args" in df.columns:
        args = df["dataset_args"].map(lambda a: "" if a is None or (isinstance(a, float)
                                                                   and math.isnan(a)) else str(a))
        return name + args.map(lambda a: "" if a in ("", "{}", "None") else f" {a}")
    return name


def cell_of(df: pd.DataFrame, kind: bool = True) -> pd.Series:
    """The (data set, shape) cell of each run as a label: ``"moons · resnet 16×6"`` (without
    the model kind when ``kind`` is False: a cell holding both kinds). Where a data set was
    drawn several times (``data_seed`` varies within its spec), a cell is (data draw, shape),
    ``"moons · draw 3 · resnet 16×6"``, so that every cell is nested in one draw and the draws
    are the units."""
    shape = pd.Series("", index=df.index)
    if kind and "model_kind" in df.columns:
        shape = df["model_kind"].astype(str) + " "
    if "width" in df.columns:
        shape = shape + df["width"].map(_intish).astype(str)
    if "depth" in df.columns:
        shape = shape + "×" + df["depth"].map(_intish).astype(str)
    base = dataset_spec(df).astype(str)
    if "data_seed" in df.columns and df["data_seed"].notna().all() and len(df) and \
            bool((df.groupby(base)["data_seed"].nunique() > 1).any()):
        base = draw_of(df).astype(str)
    return base + " · " + shape.astype(str).str.strip()


def draw_of(df: pd.DataFrame) -> pd.Series:
    """The data draw of each run: its data set spec, with ``" · draw <data_seed>"`` when the
    store records ``data_seed`` (without it every run of a data set shares one draw)."""
    spec = dataset_spec(df)
    if "data_seed" in df.columns and df["data_seed"].notna().all():
        return spec + " · draw " + df["data_seed"].map(_intish)
    return spec


def _cell_draws(df: pd.DataFrame, cells: pd.Series) -> pd.Series:
    """cell label -> the data draw it is nested in. A data set any of whose cells mixes draws
    is one unit as a whole (its cells are not nested in single draws)."""
    tab = pd.DataFrame({"cell": cells.to_numpy(), "draw": draw_of(df).to_numpy(),
                        "spec": dataset_spec(df).to_numpy()})
    mixed = tab.groupby("cell")["draw"].nunique() > 1
    bad_specs = set(tab.loc[tab["cell"].isin(set(mixed[mixed].index)), "spec"])
    tab["draw"] = tab["draw"].where(~tab["spec"].isin(bad_specs), tab["spec"])
    return tab.drop_duplicates("cell").set_index("cell")["draw"]


def _with_draws(obs: pd.DataFrame, df: pd.DataFrame, cells: pd.Series) -> pd.DataFrame:
    """``obs`` (one or more rows per cell in ``unit``) with the data draw of each cell."""
    return obs.assign(draw=obs["unit"].astype(str).map(_cell_draws(df, cells)).astype(object))


def _draw_word(df: pd.DataFrame, obs: pd.DataFrame | None = None) -> str:
    """"data draws" when the units are draws within data sets, else "data sets"."""
    if "data_seed" not in df.columns or not df["data_seed"].notna().all():
        return "data sets"
    if obs is not None and "draw" in obs.columns and len(obs):
        return ("data draws" if obs["draw"].astype(str).str.contains(" · draw ").all()
                else "data sets")
    return "data draws"


def _intish(v: object) -> str:
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(v)
    return str(int(f)) if math.isfinite(f) and f == int(f) else str(v)


def well_trained_runs(df: pd.DataFrame, strict: bool = False) -> tuple[pd.Series, str]:
    """Which trained runs are well-trained, and the sentence saying on what: validation
    accuracy when the store records it, else test accuracy, labelled as such."""
    trained = df["trained"].astype(bool) if "trained" in df.columns else pd.Series(True, df.index)
    op = ">" if strict else "≥"
    if "val_acc" in df.columns and _num(df, "val_acc")[trained].notna().any():
        return trained & well_trained(_num(df, "val_acc"), strict=strict), (
            f"well-trained: validation accuracy {op} {WELL_TRAINED:g}")
    return trained & well_trained(_num(df, "test_acc"), strict=strict), (
        f"well-trained: TEST accuracy {op} {WELL_TRAINED:g} (the store has no validation "
        "accuracy, so the networks are selected on the accuracy ρ is then related to)")


def protocol_text(df: pd.DataFrame, extra: str = "") -> str:
    """Data (each data set's spec, and whether it is the authors' data or a substitute where the
    store says), N, shapes, training and seeds of the runs behind a row, read from the store."""
    if df.empty:
        return extra
    specs = dataset_spec(df)
    names = list(dict.fromkeys(specs))
    if "data_source" in df.columns:
        src = pd.Series(df["data_source"].astype(str).to_numpy(), index=specs.to_numpy())
        src = src[~src.index.duplicated()]
        said = {"authors": "authors'", "substitute": "substitute"}
        parts = [", ".join(f"{n} ({said.get(src[n], src[n])})" for n in names)]
    else:
        parts = [", ".join(names)]
    if "n_points" in df.columns and _num(df, "n_points").notna().any():
        ns = sorted({int(v) for v in _num(df, "n_points").dropna()})
        parts.append("N = " + ("/".join(map(str, ns)) if len(ns) <= 3 else f"{ns[0]}–{ns[-1]}"))
    if "depth" in df.columns and _num(df, "depth").notna().any():
        parts.append("depth " + "/".join(str(int(v)) for v in sorted(set(_num(df, "depth")
                                                                           .dropna()))))
    for col, label in (("steps", "steps"), ("epochs", "epochs")):
        v = _num(df, col)
        if (v > 0).any():
            parts.append(f"{label} " + "/".join(str(int(x)) for x in sorted(set(v[v > 0]))[:4]))
            break
    if "seed" in df.columns:
        parts.append(f"{df['seed'].nunique()} seeds")
    if extra:
        parts.append(extra)
    return "; ".join(p for p in parts if p)


def _reasons(reasons: pd.Series, k: int | None = None) -> str:
    """``"30 disconnected at k = 10; 2 k >= N"`` from a Series of reasons (empty ones skipped)."""
    at = f" at k = {k}" if k is not None else ""
    counts = reasons[reasons.astype(str) != ""].astype(str).value_counts()
    return "; ".join(f"{n} {r}{at}" for r, n in counts.items())


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


# ---------------------------------------------------------------- Gai & Zhang, Dong
def _residual_vs_plain(runs: pd.DataFrame, values: pd.Series, residual_minus_plain: bool,
                       where: pd.Series | None = None, what: str = "") -> list[Observations]:
    """Per (data set, shape) cell: mean over matched training settings of the difference of
    the seed means (residual and plain), one value per cell."""
    df = finished(runs)
    df = df[df["trained"] & ~df["penalty"] & df["kind"].isin(["residual", "plain"])]
    if where is not None:
        df = df[where.reindex(df.index).fillna(False).astype(bool)]
    if df.empty:
        return []
    df = df.assign(_v=values.reindex(df.index), _cell=cell_of(df, kind=False))
    eligible = len(df)
    no_value = int(df["_v"].isna().sum())
    df = df.dropna(subset=["_v"])
    setting = [k for k in ("weight_decay", "l2", "train_fraction", "optimizer", "lr", "epochs",
                           "activation", "arm") if k in df.columns and df[k].notna().any()]
    g = df.groupby(["_cell", *setting, "kind"], dropna=False)["_v"].mean().unstack("kind")
    if not {"residual", "plain"} <= set(g.columns):
        return []
    g = g.dropna(subset=["residual", "plain"])
    d = (g["residual"] - g["plain"]) if residual_minus_plain else (g["plain"] - g["residual"])
    per_cell = d.groupby(level="_cell").mean()
    matched = set(map(tuple, g.reset_index()[["_cell", *setting]].to_numpy().tolist()))
    used = df[[tuple(r) in matched for r in df[["_cell", *setting]].to_numpy().tolist()]]
    obs = pd.DataFrame({"unit": per_cell.index.astype(str), "value": per_cell.to_numpy()})
    obs = _with_draws(obs, df, df["_cell"])
    left = _join(f"{no_value} without a value" if no_value else "",
                 f"{len(df) - len(used)} with no matched network of the other kind"
                 if len(df) > len(used) else "")
    return [Observations(obs, _draw_word(df, obs), len(used), eligible, left,
                         protocol_text(used, f"{len(g)} matched settings in {len(per_cell)} cells"
                                   + (f"; {what}" if what else "")))]


def lss_obs(runs: pd.DataFrame, layers: pd.DataFrame,
            coefficients: pd.DataFrame | None = None) -> list[Observations]:
    return _residual_vs_plain(runs, _num(runs, "lss_mean"), False)


def ots_obs(runs: pd.DataFrame, layers: pd.DataFrame,
            coefficients: pd.DataFrame | None = None) -> list[Observations]:
    return _residual_vs_plain(runs, _num(runs, "ots"), True)


def _orientation(runs: pd.DataFrame, layers: pd.DataFrame) -> pd.Series:
    if layers is None or layers.empty or "metric" not in layers.columns:
        return pd.Series(np.nan, index=runs.index)
    lay = layers[layers["metric"].astype(str) == "orientation_fraction"]
    per_run = pd.to_numeric(lay["value"], errors="coerce").groupby(lay["run_id"]).mean()
    return runs["run_id"].map(per_run).astype(np.float64)


def _smooth(runs: pd.DataFrame) -> pd.Series:
    act = (runs["activation"].astype(str) if "activation" in runs.columns
           else pd.Series("relu", index=runs.index))
    return act != "relu"


def diffeo_smooth_obs(runs: pd.DataFrame, layers: pd.DataFrame,
                      coefficients: pd.DataFrame | None = None) -> list[Observations]:
    return _residual_vs_plain(runs, _orientation(runs, layers), True, _smooth(runs),
                              "activations other than ReLU")


def diffeo_check_obs(runs: pd.DataFrame, layers: pd.DataFrame,
                     coefficients: pd.DataFrame | None = None) -> list[Observations]:
    return _residual_vs_plain(runs, _orientation(runs, layers), True, ~_smooth(runs),
                              "ReLU activations")


def weight_decay_obs(runs: pd.DataFrame, layers: pd.DataFrame,
                     coefficients: pd.DataFrame | None = None) -> list[Observations]:
    """Per (data set, shape) cell of residual networks: Spearman ρ(γ, LSS) over its networks
    (cells with two or more weight decays and four networks)."""
    df = finished(runs)
    df = df[df["trained"] & ~df["penalty"] & (df["kind"] == "residual")]
    if df.empty or "weight_decay" not in df.columns or "lss_mean" not in df.columns:
        return []
    gamma = _num(df, "weight_decay").fillna(0.0) + _num(df, "l2").fillna(0.0)
    df = df.assign(_g=gamma, _v=_num(df, "lss_mean"), _cell=cell_of(df))
    if df["_g"].nunique() < 2:
        return []
    eligible = len(df)
    df = df.dropna(subset=["_v"])
    rows, used, few = [], 0, 0
    for cell, g in df.groupby("_cell", sort=True):
        if g["_g"].nunique() < 2 or len(g) < MIN_CORRELATION_N:
            few += len(g)
            continue
        r = pearson(g["_g"].rank().to_numpy(np.float64), g["_v"].rank().to_numpy(np.float64))
        if math.isfinite(r):
            rows.append({"unit": cell, "value": r})
            used += len(g)
        else:
            few += len(g)
    n_g = df["_g"].nunique()
    left = _join(f"{eligible - len(df)} without an LSS" if eligible > len(df) else "",
                 f"{few} in cells with fewer than {MIN_CORRELATION_N} networks or one γ"
                 if few else "")
    obs = _with_draws(pd.DataFrame(rows, columns=["unit", "value"]), df, df["_cell"])
    return [Observations(obs, _draw_word(df, obs), used, eligible,
                         left, protocol_text(df, f"{n_g} weight decays"))]


# ------------------------------------------------------------------------ Baptista
def _ricci_frame(runs: pd.DataFrame, coefficients: pd.DataFrame | None) -> pd.DataFrame:
    """The coefficient table joined with the run columns the Ricci claims need."""
    coef = coefficient_table(runs, coefficients)
    if coef.empty:
        return coef
    df = finished(runs)
    df = df[df["kind"] != "transformer"] if "kind" in df.columns else df
    if "model_kind" in df.columns:
        df = df[df["model_kind"].astype(str) != "transformer"]
    if df.empty:
        return coef.iloc[0:0]
    wt, wt_text = well_trained_runs(df)
    meta = df.assign(_well=wt, _cell=cell_of(df), _acc=_num(df, "test_acc"))
    out = coef.merge(meta, on="run_id", how="inner", suffixes=("", "_run"))
    return out.assign(_wt_text=wt_text)


def _per_protocol_k(frame: pd.DataFrame) -> list[tuple[str, int, pd.DataFrame]]:
    return [(str(p), int(k), g) for (p, k), g in frame.groupby(["protocol", "k"], sort=False)]


def primary_k(runs: pd.DataFrame) -> int | None:
    """The study's primary k: the one its config declares for every run (``analysis.k``, the
    runs table's ``k``; the most common where runs differ), or None. A Ricci row at the primary
    protocol and this k is the confirmatory one; the other (protocol, k) rows are sensitivity
    rows. Read from the configuration the runs record, never from their results."""
    k = _num(runs, "k").dropna()
    return int(k.mode().iloc[0]) if len(k) else None


def _row_label(proto: str, k: int, primary: str) -> tuple[str, str]:
    suffix = ("" if proto == primary else f"_{proto}") + f"_k{k}"
    return suffix, f"protocol {proto}, k = {k}"


@dataclass(frozen=True)
class _Slice:
    """The rows of one (protocol, k) of a store's Ricci coefficients, with the claims row's key
    suffix and label, and whether it is a sensitivity row (not the primary protocol and k)."""

    k: int
    rows: pd.DataFrame
    suffix: str
    label: str
    sensitivity: bool


def _ricci_slices(runs: pd.DataFrame, coefficients: pd.DataFrame | None) -> list[_Slice]:
    return _slices(runs, _ricci_frame(runs, coefficients))


def _slices(runs: pd.DataFrame, frame: pd.DataFrame) -> list[_Slice]:
    """``frame`` (coefficients with ``protocol`` and ``k``) cut by (protocol, k), with the
    primary protocol and k read from ``runs``."""
    if frame.empty:
        return []
    primary, main_k = protocols_in_store(runs, frame)[0], primary_k(runs)
    out = []
    for proto, k, g in _per_protocol_k(frame):
        suffix, label = _row_label(proto, k, primary)
        out.append(_Slice(k, g, suffix, label, (proto, k) != (primary, main_k)))
    return out


def _per_slice(build: Callable[[_Slice], Observations | None]) -> Callable[..., list[Observations]]:
    """A builder that calls ``build`` on each (protocol, k) slice of the store's Ricci
    coefficients and keeps the rows it returns (None: the slice holds no unit of the claim)."""

    def builder(runs: pd.DataFrame, layers: pd.DataFrame,
                coefficients: pd.DataFrame | None = None) -> list[Observations]:
        return [o for sl in _ricci_slices(runs, coefficients) if (o := build(sl)) is not None]

    return builder


def _row(sl: _Slice, obs: pd.DataFrame, n_used: int, n_eligible: int, left: str,
         runs_text: str, notes: str) -> Observations:
    """One Ricci row: the units' observations with their data draws, and the slice's key,
    label and role."""
    g = sl.rows
    obs = _with_draws(obs, g, g["_cell"])
    return Observations(obs, _draw_word(g, obs), n_used, n_eligible, left, runs_text, sl.suffix,
                        sl.label, notes, sensitivity=sl.sensitivity)


def _rho_negative(sl: _Slice) -> Observations | None:
    g = sl.rows
    well = g[g["_well"]]
    if well.empty:
        return None
    used = well[well["rho"].notna()]
    obs = pd.DataFrame({"unit": used["_cell"], "value": (used["rho"] < 0).astype(float)})
    return _row(sl, obs, len(used), len(well), _reasons(well["reason"], sl.k),
                protocol_text(well, sl.label), str(g["_wt_text"].iloc[0]))


def _rho_untrained(sl: _Slice) -> Observations | None:
    g = sl.rows
    trained = g["trained"].astype(bool)
    elig = g[g["_well"] | ~trained]
    if elig.empty or not (~trained).any() or not g["_well"].any():
        return None
    d = elig[elig["rho"].notna()].assign(_neg=lambda x: (x["rho"] < 0).astype(float))
    per = d.groupby(["_cell", d["trained"].astype(bool)])["_neg"].mean().unstack()
    if True not in per.columns or False not in per.columns:
        return None
    per = per.dropna(subset=[True, False])
    used = d[d["_cell"].isin(set(per.index))]
    obs = pd.DataFrame({"unit": per.index.astype(str), "value": (per[True] - per[False])
                        .to_numpy()})
    left = _join(_reasons(elig["reason"], sl.k),
                 f"{len(d) - len(used)} in cells without both groups"
                 if len(d) > len(used) else "")
    runs_text = protocol_text(used, sl.label + f"; {int((~used['trained']).sum())} untrained")
    return _row(sl, obs, len(used), len(elig), left, runs_text, str(g["_wt_text"].iloc[0]))


def _rho_accuracy(sl: _Slice) -> Observations | None:
    g = sl.rows
    well = g[g["_well"]]
    if well.empty:
        return None
    d = well[well["rho"].notna() & well["_acc"].notna()]
    sizes = d.groupby("_cell")["rho"].transform("size")
    few = d[sizes < MIN_CORRELATION_N]
    used = d[sizes >= MIN_CORRELATION_N]
    obs = pd.DataFrame({"unit": used["_cell"], "x": used["rho"], "y": used["_acc"]})
    means = d.groupby("_cell")[["rho", "_acc"]].mean()
    between = ""
    if len(means) >= 3:
        rb = pearson(means["rho"].to_numpy(np.float64), means["_acc"].to_numpy(np.float64))
        between = (f"between cells (not judged): r(mean ρ, mean accuracy) = {rb:+.3g} over "
                   f"{len(means)} cells" if math.isfinite(rb) else "")
    left = _join(_reasons(well["reason"], sl.k),
                 f"{len(few)} in cells with fewer than {MIN_CORRELATION_N} networks"
                 if len(few) else "")
    return _row(sl, obs, len(used), len(well), left, protocol_text(well, sl.label),
                _join(str(g["_wt_text"].iloc[0]), between))


rho_negative_obs = _per_slice(_rho_negative)
rho_untrained_obs = _per_slice(_rho_untrained)
rho_accuracy_obs = _per_slice(_rho_accuracy)


def _pooled_cells(runs: pd.DataFrame, layers: pd.DataFrame, untrained: bool,
                  coefficients: pd.DataFrame | None) -> list[Observations]:
    if layers is None or layers.empty or "trained" not in runs.columns:
        return []
    frame = _ricci_frame(runs, coefficients)
    if frame.empty:
        return []
    _, protos, ks = protocols_in_store(runs, frame)
    if AUTHORS_PROTOCOL not in protos:
        return []
    g_all = frame[frame["protocol"] == AUTHORS_PROTOCOL]
    wt_strict, wt_text = well_trained_runs(g_all, strict=True)
    g_all = g_all.assign(_well=wt_strict)
    out = []
    for k in [k for k in AUTHORS_KS if k in ks]:
        g = g_all[g_all["k"] == k]
        first = int(g["first_pair"].max()) if len(g) else 0
        well = g[g["_well"]]
        base = g[~g["trained"].astype(bool)]
        rows, used_ids, excluded = [], [], 0
        for cell, cw in well.groupby("_cell", sort=True):
            a = pooled_from_layers(layers, cw["run_id"], AUTHORS_PROTOCOL, k, first, n_boot=0)
            excluded += len(a.excluded)
            if not math.isfinite(a.interval.mean):
                continue
            if untrained:
                cb = base[base["_cell"] == cell]
                b = pooled_from_layers(layers, cb["run_id"], AUTHORS_PROTOCOL, k, first,
                                       n_boot=0)
                if not math.isfinite(b.interval.mean):
                    continue
                za = math.atanh(min(max(a.interval.mean, -0.999999), 0.999999))
                zb = math.atanh(min(max(b.interval.mean, -0.999999), 0.999999))
                rows.append({"unit": cell, "value": math.tanh(za - zb)})
                used_ids += [*set(cw["run_id"]) - set(a.excluded),
                             *set(cb["run_id"]) - set(b.excluded)]
            else:
                rows.append({"unit": cell, "value": a.interval.mean})
                used_ids += list(set(cw["run_id"]) - set(a.excluded))
        eligible = len(well) + (len(base) if untrained else 0)
        label = f"protocol {AUTHORS_PROTOCOL}, k = {k}"
        sfx = f"_k{k}"
        src = pd.concat([well, base]) if untrained else well
        obs = _with_draws(pd.DataFrame(rows, columns=["unit", "value"]), g, g["_cell"])
        out.append(Observations(
            obs, _draw_word(g, obs), len(used_ids), eligible,
            _join(f"{excluded} disconnected at k = {k}" if excluded else "",
                  f"{eligible - len(used_ids) - excluded} in cells without a pooled coefficient"
                  if eligible - len(used_ids) - excluded > 0 else ""),
            protocol_text(src, f"{label}; pairs l ≥ {first}"), sfx, label, wt_text,
            # the authors' smallest k is the confirmatory row; their larger ks are sensitivity
            sensitivity=k != AUTHORS_KS[0]))
    return out


def pooled_obs(runs: pd.DataFrame, layers: pd.DataFrame,
               coefficients: pd.DataFrame | None = None) -> list[Observations]:
    return _pooled_cells(runs, layers, False, coefficients)


def pooled_untrained_obs(runs: pd.DataFrame, layers: pd.DataFrame,
                         coefficients: pd.DataFrame | None = None) -> list[Observations]:
    return _pooled_cells(runs, layers, True, coefficients)


# ----------------------------------------------------------------------------- Karkar
def _draws(runs: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The least-action study's runs with their task and draw (the unit), whether each run's
    fraction is low data (``_low``: the store's ``low_data`` column, declared in the config;
    else every fraction below 1.0 of a task that ran the full data, NaN in a task without it)
    and whether it is the full data (``_full``), and a note when the store does not record
    draws or a task never ran the full data."""
    df = study_runs(runs)
    if df.empty or "train_fraction" not in df.columns:
        return df.iloc[0:0], ""
    task = dataset_spec(df) + " · " + df["model_kind"].astype(str)
    notes = []
    if "data_seed" in df.columns and df["data_seed"].notna().all():
        draw = task + " · draw " + df["data_seed"].map(_intish)
    else:
        draw = task
        notes.append("the store records no data_seed: every run of a data set shares one draw "
                     "of its training subset and validation split, so a task is one unit")
    frac = _num(df, "train_fraction")
    full = pd.Series(np.isclose(frac.fillna(-1.0), 1.0), index=df.index)
    if "low_data" in df.columns and df["low_data"].notna().all():
        low = df["low_data"].astype(bool).astype(float)
    else:
        has_full = full.groupby(task).transform("any")
        low = (frac < 1.0).astype(float).where(has_full, np.nan)
        if not has_full.all():
            notes.append(f"{int((~has_full).sum())} runs in tasks that never ran the full data "
                         "(fraction 1.0): no low data is declared for them")
    return df.assign(_task=task, _draw=draw, _frac=frac, _low=low, _full=full), _join(*notes)


TUNED = "tuned on the reported seeds"


def _tuned(runs: pd.DataFrame) -> str:
    """``TUNED`` when an arm ran several settings and the store declares no tuning seeds."""
    return TUNED if tuned_on_reported_seeds(runs) else ""


def _eligible(df: pd.DataFrame, a: str, b: str) -> int:
    """Networks of arms ``a`` and ``b`` in the tasks that ran both (a plain network of a task
    with no penalty arm, e.g. a plain MLP, is not eligible for a penalty comparison)."""
    both = df.groupby("_task")["arm_role"].agg(lambda r: {a, b} <= set(r))
    tasks = set(both[both].index)
    return int((df["arm_role"].isin([a, b]) & df["_task"].isin(tasks)).sum())


def _paired(df: pd.DataFrame, metric: str, a: str, b: str) -> pd.DataFrame:
    """``a − b`` arms paired by (draw, fraction, seed): columns ``_task, _draw, _frac, seed,
    a, b``."""
    if metric not in df.columns:
        return pd.DataFrame()
    d = df[df["arm_role"].isin([a, b])].assign(_v=_num(df, metric))
    d = d[d["_low"].notna()]
    keys = ["_task", "_draw", "_frac", "_low", "_full",
            *(["seed"] if "seed" in d.columns else [])]
    wide = d.pivot_table(index=keys, columns="arm_role", values="_v", aggfunc="mean")
    if not {a, b} <= set(wide.columns):
        return pd.DataFrame()
    return wide.dropna(subset=[a, b]).reset_index()


def _arm_obs(runs: pd.DataFrame, metric: str, a: str, b: str, low_only: bool,
             log_ratio: bool = False, fraction: float | None = None) -> list[Observations]:
    df, note = _draws(runs)
    if df.empty:
        return []
    pairs = _paired(df, metric, a, b)
    if pairs.empty:
        return []
    eligible = _eligible(df, a, b)
    if low_only:
        pairs = pairs[pairs["_low"] == 1.0]
    if fraction is not None:
        pairs = pairs[np.isclose(pairs["_frac"], fraction)]
    if pairs.empty:
        return []
    if log_ratio:
        ok = (pairs[a] > 0) & (pairs[b] > 0)
        pairs = pairs[ok]
        value = np.log10(pairs[a] / pairs[b])
    else:
        value = pairs[a] - pairs[b]
    obs = pd.DataFrame({"unit": pairs["_draw"], "value": value})
    fr = sorted(set(pairs["_frac"]))
    fr_text = ", ".join(f"{100 * f:.3g}" for f in fr) + " % of the data"
    n_net = 2 * len(pairs)
    label = ("low data: " if low_only else "") + fr_text if (low_only or fraction) else ""
    return [Observations(obs, "data draws", n_net, eligible,
                         f"{eligible - n_net} unpaired or outside these fractions"
                         if eligible > n_net else "",
                         protocol_text(df, f"{fr_text}; {obs['unit'].nunique()} draws of "
                                   f"{pairs['_task'].nunique()} tasks; paired by seed"),
                         label=label, notes=note, no_verdict=_tuned(runs))]


def _arm_builder(metric: str, a: str, b: str, low_only: bool, log_ratio: bool = False,
                 fraction: float | None = None) -> Callable[..., list[Observations]]:
    """The builder of a claim comparing arms ``a`` and ``b`` (see :func:`_arm_obs`)."""
    def build(runs: pd.DataFrame, layers: pd.DataFrame,
              coefficients: pd.DataFrame | None = None) -> list[Observations]:
        return _arm_obs(runs, metric, a, b, low_only, log_ratio, fraction)
    return build


penalty_low_obs = _arm_builder("test_acc", "transport penalty", "plain", low_only=True)
penalty_smallest_obs = _arm_builder("test_acc", "transport penalty", "plain", low_only=True,
                                    fraction=SMALLEST_FRACTION)
penalty_wd_obs = _arm_builder("test_acc", "transport penalty", "weight decay", low_only=True)
kinetic_obs = _arm_builder("kinetic_energy", "transport penalty", "plain", low_only=False,
                           log_ratio=True)


def penalty_most_obs(runs: pd.DataFrame, layers: pd.DataFrame,
                     coefficients: pd.DataFrame | None = None) -> list[Observations]:
    df, note = _draws(runs)
    if df.empty:
        return []
    pairs = _paired(df, "test_acc", "transport penalty", "plain")
    if pairs.empty:
        return []
    pairs = pairs[(pairs["_low"] == 1.0) | pairs["_full"].astype(bool)]
    pairs = pairs.assign(_gain=pairs["transport penalty"] - pairs["plain"],
                         _low=pairs["_low"] == 1.0)
    low_fr = sorted(set(pairs.loc[pairs["_low"], "_frac"]))
    per = pairs.groupby(["_draw", "_low"])["_gain"].mean().unstack("_low")
    if True not in per.columns or False not in per.columns:
        return []
    per = per.dropna(subset=[True, False])
    eligible = _eligible(df, "transport penalty", "plain")
    n_net = 2 * int(pairs["_draw"].isin(set(per.index)).sum())
    obs = pd.DataFrame({"unit": per.index.astype(str), "value": (per[True] - per[False])
                        .to_numpy()})
    return [Observations(obs, "data draws", n_net, eligible,
                         f"{eligible - n_net} unpaired or in draws without both regimes"
                         if eligible > n_net else "",
                         protocol_text(df, "low data " + ", ".join(f"{100 * f:.3g}" for f in
                                                                 low_fr)
                                       + " % vs 100 % of the data; paired by seed"),
                         label="low data: " + ", ".join(f"{100 * f:.3g}" for f in low_fr)
                         + " % vs the full data", notes=note, no_verdict=_tuned(runs))]


# ----------------------------------------------------------------------------- transformers
def _token_obs(runs: pd.DataFrame, values: pd.Series, suffix: str = "", label: str = "",
               reasons: pd.Series | None = None) -> list[Observations]:
    df = transformer_runs(runs)
    if df.empty or not df["trained"].astype(bool).any() or df["trained"].astype(bool).all():
        return []
    v = values.reindex(df.index)
    obs = pd.DataFrame({"unit": cell_of(df, kind=False),
                        "group": np.where(df["trained"].astype(bool), "a", "b"), "value": v})
    used = obs.dropna(subset=["value"])
    per_token = ""
    if "n_sequences" in df.columns and _num(df, "n_sequences").notna().any():
        per_token = ("per token of " + "/".join(str(int(s)) for s in sorted(set(
            _num(df, "n_sequences").dropna()))) + " sequences; ")
    n_a, n_b = int((used["group"] == "a").sum()), int((used["group"] == "b").sum())
    left = (_reasons(reasons.reindex(df.index).fillna("no value")[v.isna()]) if reasons
            is not None else (f"{int(v.isna().sum())} without a value" if v.isna().any() else ""))
    return [Observations(used, "networks", len(used), len(df), left,
                         protocol_text(df, f"{per_token}{n_a} trained vs {n_b} untrained "
                                   "transformers" + (f"; {label}" if label else "")),
                         suffix, label)]


def token_lss_obs(runs: pd.DataFrame, layers: pd.DataFrame,
                  coefficients: pd.DataFrame | None = None) -> list[Observations]:
    return _token_obs(runs, _num(runs, "lss_mean")) if "lss_mean" in runs.columns else []


def token_geodesic_obs(runs: pd.DataFrame, layers: pd.DataFrame,
                       coefficients: pd.DataFrame | None = None) -> list[Observations]:
    return (_token_obs(runs, _num(runs, "w2_geodesic_ratio"))
            if "w2_geodesic_ratio" in runs.columns else [])


def token_rho_obs(runs: pd.DataFrame, layers: pd.DataFrame,
                  coefficients: pd.DataFrame | None = None) -> list[Observations]:
    tf = transformer_runs(runs)
    if tf.empty:
        return []
    out = []
    for sl in _slices(tf, coefficient_table(tf, coefficients)):
        by_run = sl.rows.set_index("run_id")
        rho = tf["run_id"].map(by_run["rho"]).astype(np.float64)
        why = tf["run_id"].map(by_run["reason"])
        rows = _token_obs(runs, rho, sl.suffix, sl.label,
                          why.where(why != "", "no value") + f" at k = {sl.k}")
        out += [dataclasses.replace(o, sensitivity=sl.sensitivity) for o in rows]
    return out


#: claim key -> builder ``(prepared runs, layers) -> [Observations, ...]``
BUILDERS: dict[str, Callable[..., list[Observations]]] = {
    "lss_residual_vs_plain": lss_obs,
    "ots_residual_vs_plain": ots_obs,
    "lss_weight_decay": weight_decay_obs,
    "rho_negative": rho_negative_obs,
    "rho_negative_vs_untrained": rho_untrained_obs,
    "rho_vs_accuracy": rho_accuracy_obs,
    "rho_pooled": pooled_obs,
    "rho_pooled_vs_untrained": pooled_untrained_obs,
    "diffeomorphism_smooth": diffeo_smooth_obs,
    "diffeomorphism": diffeo_check_obs,
    "penalty_low_data": penalty_low_obs,
    "penalty_smallest_fraction": penalty_smallest_obs,
    "penalty_most_low_data": penalty_most_obs,
    "penalty_vs_weight_decay": penalty_wd_obs,
    "penalty_kinetic_energy": kinetic_obs,
    "token_lss_trained": token_lss_obs,
    "token_rho_trained": token_rho_obs,
    "token_geodesic_trained": token_geodesic_obs,
}
