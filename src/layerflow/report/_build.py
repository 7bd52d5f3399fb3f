"""Assemble the report: figures (PNG) + findings + tables -> ``OUT/report.html``."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from layerflow._atomic import atomic_write_bytes
from layerflow.data._provenance import data_sources_text
from layerflow.report._data import ReportInput, load_input, select_k
from layerflow.report._findings import (
    Finding,
    as_records,
    compute_findings,
    protocol_findings,
)
from layerflow.report._view_tables import view_tables
from layerflow.stats._tables import finished, prepare_runs
from layerflow.stats.claims import Claim, compute_claims

# view -> (title, introduction); figures and findings are placed by their ``view``
SECTIONS: dict[str, tuple[str, str]] = {
    "geometry": (
        "Data through the layers",
        "What the networks do to the data: each sample's track x^(0), …, x^(L) (Dong et al.).",
    ),
    "transport": (
        "Transport view (Gai & Zhang)",
        "Is the layer-by-layer map a Wasserstein geodesic? Line-shape score (LSS ≥ 1, 1 = "
        "straight tracks), optimal transport score (OTS in [0, 1], 1 = the network's pairing is "
        "the optimal transport map), and the W2 path between consecutive layers.",
    ),
    "ricci": (
        "Ricci view (Baptista et al.)",
        "kNN graphs of each layer: Forman curvature, geodesic mass, and the global Ricci "
        "coefficient ρ (< 0: positively curved regions contract, as under Ricci flow).",
    ),
    "maps": (
        "Curves of maps (Dong et al.)",
        "Jacobian diagnostics of equal-width layers: is each layer a local "
        "orientation-preserving diffeomorphism?",
    ),
    "least_action": (
        "Least action (Karkar et al.)",
        "Residual networks trained with a transport-cost penalty (fixed or adaptive Uzawa "
        "weight) against plain training and weight decay, at several fractions of the "
        "training data.",
    ),
}


@dataclass(frozen=True)
class Report:
    """What :func:`render_report` wrote: the HTML path, the PNGs, the skipped figures, findings."""

    path: Path
    figures: dict[str, Path]
    skipped: dict[str, str]
    findings: tuple[Finding, ...]
    claims: tuple[Claim, ...] = ()


def _png(fig: object) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)  # type: ignore[attr-defined]
    return buf.getvalue()


def render_report(inp: ReportInput, out_dir: str | Path, title: str = "layerflow report") -> Report:
    """Write ``report.html``, ``fig-<name>.png`` and ``findings.json`` into ``out_dir``.

    A figure whose data the store lacks is not drawn; one line of the report says why.
    """
    from layerflow._version import __version__
    from layerflow.report import figures as F
    from layerflow.report._html import FigureBlock, Section, render_html

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    from layerflow.stats._ricci import protocol_table

    # the runs prepared once, here where the store is read: every run (the summary, the data
    # sources, the claims, which count the networks left out) and the finished ones (the rest)
    runs = prepare_runs(inp.runs)
    done = finished(runs)
    all_layers = inp.layers if inp.layers is not None else pd.DataFrame()
    layers = select_k(all_layers, inp.runs)
    # computed once (2,000-resample bootstraps): the sentences and the table print the same rows
    coef = inp.coefficients
    shared = {"ricci_protocols": protocol_table(done, all_layers, coef)}
    findings = compute_findings(done, all_layers, overrides={
        "rho_by_protocol_and_k": lambda r, lay: protocol_findings(shared["ricci_protocols"], r,
                                                                  coef)}, coefficients=coef)
    claims = compute_claims(runs, all_layers, coef)

    blocks: dict[str, list[FigureBlock]] = {k: [] for k in SECTIONS}
    written: dict[str, Path] = {}
    skipped: dict[str, str] = {}
    for spec in F.FIGURES:
        png_path = out / f"fig-{spec.name}.png"
        try:
            table = spec.table(done, layers, inp.trajectories, coef)
        except ValueError as exc:  # a malformed file or table: say so instead of failing
            table, reason = pd.DataFrame(), f"its data could not be read ({exc})"
        else:
            reason = f"the store holds no {spec.needs}"
        if table.empty:
            skipped[spec.name] = reason
            if png_path.exists():
                png_path.unlink()  # never leave a stale picture from an earlier build
            blocks[spec.view].append(
                FigureBlock(spec.name, spec.title, spec.caption, None, table, reason)
            )
            continue
        fig = spec.plot(table)
        png = _png(fig)
        atomic_write_bytes(png_path, png)
        written[spec.name] = png_path
        blocks[spec.view].append(
            FigureBlock(spec.name, spec.title, spec.caption, png, table,
                        hidden_columns=spec.hidden_columns,
                        shown=None if spec.shown is None else spec.shown(table))
        )

    for tspec in F.TABLES:
        extra = (shared[tspec.name] if tspec.name in shared
                 else tspec.table(runs if tspec.every_run else done, all_layers, coef))
        if not extra.empty:
            blocks[tspec.view].append(FigureBlock(tspec.name, tspec.title, "", None, extra,
                                                  table_only=True))
    sections = [
        Section(key, t, intro, blocks[key], [f for f in findings if f.view == key])
        for key, (t, intro) in SECTIONS.items()
    ]
    every = [FigureBlock(f"view-{name}", vtitle, "", None, vtable, table_only=True)
             for name, (vtitle, vtable) in view_tables(done).items()]
    if every:
        sections.append(Section(
            "every-metric", "Every metric, per view", "The mean of every metric each view "
            "declares, with its 95 % interval over networks (percentile bootstrap), per data set "
            "and variant; one table per view, sorted by metric, data set and variant.", every, []))
    summary = {
        "networks in the store": len(runs),
        "finished (status ok)": len(done),
        "trained / untrained": f"{int(done['trained'].sum())} / {int((~done['trained']).sum())}",
        "data sets": data_sources_text(runs),
        "figures drawn / skipped": f"{len(written)} / {len(skipped)}",
        "layerflow": __version__,
    }
    forests = _forest_blocks(claims, out, written)
    text = render_html(
        title=title, source=inp.source or str(out), sections=sections, findings=findings,
        claims=claims, forests=forests,
        runs=inp.runs, config_text=inp.config_text, versions=inp.versions, summary=summary,
    )
    path = out / "report.html"
    atomic_write_bytes(path, text.encode("utf-8"))
    atomic_write_bytes(
        out / "findings.json",
        json.dumps({"claims": [c.record() for c in claims], "findings": as_records(findings)},
                   indent=2, default=str, allow_nan=True).encode("utf-8"),
    )
    return Report(path, written, skipped, tuple(findings), tuple(claims))


def _forest_blocks(claims: list[Claim], out: Path, written: dict[str, Path]) -> list[Any]:
    """One forest plot per claim row with per-unit estimates (``fig-forest-<key>.png``)."""
    from layerflow.report._html import FigureBlock
    from layerflow.report.figures._claims import figure_forest, forest_table

    for old in out.glob("fig-forest-*.png"):
        old.unlink()  # never leave a stale picture from an earlier build
    blocks = []
    for c in claims:
        table = forest_table(c)
        if table.empty:
            continue
        name = f"forest-{c.key}"
        png = _png(figure_forest(table, f"{c.key}: {c.verdict}", c.null))
        path = out / f"fig-{name}.png"
        atomic_write_bytes(path, png)
        written[name] = path
        blocks.append(FigureBlock(name, f"{c.key} ({c.verdict})", c.quantity, png, table))
    return blocks


def build_report(out_dir: str | Path) -> Path:
    """(Re)build ``OUT/report.html`` and its PNG figures from the results store in ``out_dir``.

    Raises :class:`~layerflow._errors.DataError` if the folder holds no store.
    """
    inp = load_input(out_dir)
    return render_report(inp, out_dir).path
