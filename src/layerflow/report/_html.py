"""One self-contained HTML file: figures as ``data:`` URIs, every number in tables, no URLs.

Nothing here computes a result: it lays out what :mod:`layerflow.report.figures` and
:mod:`layerflow.report._findings` produced. No external script, stylesheet, font or image.
"""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from layerflow.report._findings import Finding, as_records
from layerflow.report._format import format_number
from layerflow.stats.claims import Claim

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;
max-width:1150px;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;
margin-top:2em}h3{margin-bottom:.3em}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:.9em;color:#555}
table{border-collapse:collapse;font-size:.8em;margin:.5em 0}
td,th{border:1px solid #ddd;padding:2px 6px;text-align:right}th{background:#f4f4f4}
td.s{text-align:left}div.long{width:28em;white-space:normal}
.tw{overflow-x:auto;max-width:100%}.tw table{width:max-content}
.finding{background:#f6f9ff;border-left:4px solid #4a78c2;padding:.4em .8em;margin:.4em 0}
.skips{color:#666;font-size:.9em}
pre{background:#f6f6f6;padding:.8em;overflow-x:auto;font-size:.8em}
details{margin:.4em 0}summary{cursor:pointer;color:#345}
.meta{color:#666;font-size:.9em}
td.supported{background:#e8f5e9}td.contradicted{background:#fdecea}
td.inconclusive{background:#f4f4f4}td.no-effect{background:#eef3fb}td.too-few{background:#fff7e6}
table.claims{table-layout:fixed;width:100%}table.claims td{overflow-wrap:anywhere}
table.claims th:nth-child(1){width:9%}table.claims th:nth-child(2){width:33%}
table.claims th:nth-child(3){width:20%}table.claims th:nth-child(4){width:22%}
table.claims th:nth-child(5){width:7%}table.claims th:nth-child(6){width:9%}
"""


@dataclass(frozen=True)
class FigureBlock:
    """A figure as laid out: its PNG bytes (or ``None`` when skipped) and the table behind it."""

    name: str
    title: str
    caption: str
    png: bytes | None
    table: pd.DataFrame
    skip_reason: str = ""
    hidden_columns: tuple[str, ...] = ()
    table_only: bool = False
    shown: pd.DataFrame | None = None  # what is printed under the figure (default: ``table``)


@dataclass(frozen=True)
class Section:
    """A view of the report: heading, its figures and findings."""

    key: str
    title: str
    intro: str
    figures: Sequence[FigureBlock] = field(default_factory=tuple)
    findings: Sequence[Finding] = field(default_factory=tuple)


#: a cell longer than this many characters wraps (the table scrolls sideways when wide)
LONG_TEXT = 60


def table_html(df: pd.DataFrame, table_id: str = "", max_rows: int | None = None,
               hidden: Sequence[str] = ()) -> str:
    """An HTML table of ``df`` (every row unless ``max_rows``; a note says how many are omitted)."""
    cols = [c for c in df.columns if c not in set(hidden)]
    shown = df if max_rows is None or len(df) <= max_rows else df.iloc[:max_rows]
    attr = f' id="{html.escape(table_id)}"' if table_id else ""
    parts = [f"<div class=tw><table{attr}><thead><tr>"]
    parts += [f"<th>{html.escape(str(c))}</th>" for c in cols]
    parts.append("</tr></thead><tbody>")
    for row in shown[cols].itertuples(index=False, name=None):
        parts.append("<tr>")
        for v in row:
            cls = ' class="s"' if isinstance(v, str) else ""
            text = html.escape(format_number(v))
            if len(text) > LONG_TEXT:  # a sentence wraps in its own column width
                text = f"<div class=long>{text}</div>"
            parts.append(f"<td{cls}>{text}</td>")
        parts.append("</tr>")
    parts.append("</tbody></table></div>")
    if len(shown) < len(df):
        parts.append(
            f"<p class=meta>{len(df) - len(shown)} more rows are in the Parquet store.</p>"
        )
    return "".join(parts)


def _finding_html(f: Finding) -> str:
    nums = pd.DataFrame({"number": list(f.numbers), "value": list(f.numbers.values())})
    return (
        f'<div class="finding" data-key="{html.escape(f.key)}"><p>{html.escape(f.text)}</p>'
        f"<details><summary>numbers behind this sentence</summary>{table_html(nums)}"
        "</details></div>"
    )


def _is_detail(f: Finding) -> bool:
    """A finding about one data set (its numbers name the ``dataset``): folded under the
    section's headline findings."""
    return "dataset" in f.numbers


def findings_html(findings: Sequence[Finding]) -> str:
    """A section's findings: the headline sentences, then the per-data-set ones folded."""
    head = [f for f in findings if not _is_detail(f)]
    detail = [f for f in findings if _is_detail(f)]
    out = [_finding_html(f) for f in head]
    if detail:
        sets = len({str(f.numbers["dataset"]) for f in detail})
        out.append(f"<details class=detail><summary>Per data set: {len(detail)} more findings "
                   f"on {sets} data set{'s' if sets != 1 else ''}</summary>"
                   + "".join(_finding_html(f) for f in detail) + "</details>")
    return "".join(out)


#: a table longer than this is folded (its title stays visible)
FOLD_ROWS = 12


def estimate_text(c: Claim) -> str:
    """``"0.123 [0.0456, 0.201]"``, or ``"—"`` with the reason when undefined."""
    est, (lo, hi) = c.estimate, c.interval
    if not math.isfinite(est):
        return "— (" + (c.reason or "no estimate") + ")"
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return f"{format_number(est)} [—] (" + (c.reason or "no interval") + ")"
    return f"{format_number(est)} [{format_number(lo)}, {format_number(hi)}]"


def p_text(p: float) -> str:
    """A Holm-adjusted p-value (three significant figures; "—" when none)."""
    if not math.isfinite(p):
        return "—"
    return "< 0.001" if p < 0.001 else format_number(p)


def claims_html(claims: Sequence[Claim], table_id: str = "table-claims") -> str:
    """The claims table: per row the claim and its definition, the estimate with its 95 %
    interval, the units and networks it rests on (and why the rest were left out), the
    Holm-adjusted p-value and the verdict."""
    head = ("<tr><th>paper</th><th>claim</th><th>estimate [95 % interval, unadjusted]</th>"
            "<th>units · networks used of eligible</th><th>p (Holm)</th><th>verdict</th></tr>")
    rows = []
    for c in claims:
        notes = f"<br><span class=meta>{html.escape(c.notes)}</span>" if c.notes else ""
        # why an estimated row gives no verdict (an undefined estimate says why in its cell)
        why = (f"<br><span class=meta>{html.escape(c.reason)}</span>"
               if c.reason and c.verdict in ("inconclusive", "too few")
               and math.isfinite(c.estimate) and math.isfinite(c.interval[0]) else "")
        het = ""
        if c.heterogeneity:
            h = c.heterogeneity
            het = (f"<br><span class=meta>τ² = {format_number(h['tau2'])}, "
                   f"I² = {format_number(100 * h['I2'])} %, "
                   f"Q = {format_number(h['Q'])} (p = {p_text(h['Q_p'])})</span>")
        rows.append(
            f'<tr data-key="{html.escape(c.key)}"><td class=s>{html.escape(c.paper)}</td>'
            f"<td class=s>{html.escape(c.claim)}<details><summary>definition and protocol"
            f"</summary><span class=meta>{html.escape(c.definition)}<br>family "
            f"{html.escape(c.family)}; runs: {html.escape(c.protocol)}</span></details></td>"
            f"<td>{html.escape(estimate_text(c))}{het}{notes}{why}</td>"
            f"<td class=s>{html.escape(c.counts)}</td><td>{html.escape(p_text(c.p_adjusted))}</td>"
            f'<td class="s {html.escape(c.verdict.replace(" ", "-"))}">'
            f"{html.escape(c.verdict)}</td></tr>")
    return (f'<table id="{table_id}" class=claims>{head}{"".join(rows)}</table>')


def _figure_html(b: FigureBlock) -> str:
    """A drawn figure with its numbers folded under it, or a table (folded when long); a
    figure that is not drawn gives no block (:func:`_not_drawn_html` says why, in one line)."""
    shown = b.table if b.shown is None else b.shown
    if b.table_only:
        table = table_html(shown, table_id=f"table-{b.name}", hidden=b.hidden_columns)
        if len(shown) > FOLD_ROWS:
            return (f'<details id="tbl-{html.escape(b.name)}"><summary>{html.escape(b.title)} '
                    f"({len(shown)} rows)</summary>{table}</details>")
        head = f'<h3 id="tbl-{html.escape(b.name)}">{html.escape(b.title)}</h3>' if b.title else ""
        return head + table
    if b.png is None:
        return ""
    head = f'<h3 id="fig-{html.escape(b.name)}">{html.escape(b.title)}</h3>'
    data = base64.b64encode(b.png).decode("ascii")
    return (
        head + f'<figure><img alt="{html.escape(b.title)}" data-figure="{html.escape(b.name)}" '
        f'src="data:image/png;base64,{data}"><figcaption>{html.escape(b.caption)} '
        f"(also saved as fig-{html.escape(b.name)}.png)</figcaption></figure>"
        f"<details><summary>numbers behind this figure ({len(shown)} rows)</summary>"
        f"{table_html(shown, table_id=f'table-{b.name}', hidden=b.hidden_columns)}</details>"
    )


def _not_drawn_html(blocks: Sequence[FigureBlock]) -> str:
    """One line naming the figures this store has no data for, each with its reason."""
    skipped = [b for b in blocks if b.png is None and not b.table_only]
    if not skipped:
        return ""
    parts = [f'<span class="skip" data-figure="{html.escape(b.name)}">{html.escape(b.title)} '
             f"(not drawn: {html.escape(b.skip_reason)})</span>" for b in skipped]
    return f"<p class=skips>Not drawn for this store: {'; '.join(parts)}.</p>"


def _has_content(s: Section) -> bool:
    return bool(s.findings) or any(b.png is not None or b.table_only for b in s.figures)


def render_html(
    *,
    title: str,
    source: str,
    sections: Sequence[Section],
    findings: Sequence[Finding],
    claims: Sequence[Claim],
    runs: pd.DataFrame,
    config_text: str,
    versions: Mapping[str, Any],
    summary: Mapping[str, Any],
    max_run_rows: int = 2000,
    forests: Sequence[FigureBlock] = (),
) -> str:
    """The whole report as one HTML string (UTF-8, self-contained)."""
    out: list[str] = [
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>",
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p class=meta>results store: {html.escape(source)}</p>",
        table_html(pd.DataFrame({"": list(summary), "value": list(summary.values())})),
        "<h2 id=claims>Claims</h2>",
    ]
    main = [c for c in claims if c.kind == "claim"]
    checks = [c for c in claims if c.kind != "claim"]
    if main:
        out.append(
            "<p class=meta>One row per claim of the papers this store can speak to, each "
            "declared before the data were read (open a claim for its definition). The interval "
            "(95 %, not adjusted for multiplicity) is over independent units — data draws (their "
            "(data set, shape) cells nested) or networks, as the row says — never over networks "
            "that share one. The verdict is read from the "
            "Holm-adjusted p-value within the claim's family (for a claim over cells or draws, "
            "the larger of the t-test's and the exact sign-flip test's): <i>supported</i> when "
            "it is below "
            "0.05 and the estimate lies on the side the paper predicts, <i>contradicted</i> on "
            "the other side; <i>no effect</i> when the equivalence test puts the effect within "
            "the declared smallest effect of interest; <i>inconclusive</i> otherwise; <i>too "
            "few</i> when fewer units than the claim needs.</p>")
        out.append(claims_html(main))
    else:
        out.append("<p>The store holds no data any claim can be estimated from.</p>")
    if checks:
        out.append("<h3 id=checks>Manipulation and sanity checks</h3>")
        out.append("<p class=meta>Rows that test whether a manipulation did what it must (the "
                   "transport penalty lowers the kinetic energy it penalises) or that cannot "
                   "fail by construction. They are estimated like the claims but never count as "
                   "support for a paper.</p>")
        out.append(claims_html(checks, "table-checks"))
    if forests:
        out.append("<h3 id=forest>Forest plots</h3><p class=meta>Per claim row: each unit's "
                   "estimate (with its own interval where it has one) and the combined estimate "
                   "with the row's 95 % interval.</p>")
        out += [_figure_html(b) for b in forests]
    out.append(f"<p class=meta>{len(findings)} findings follow, by paper (those about one data "
               "set folded); each sentence was computed from the store (open one for the numbers "
               "behind it).</p>")
    for s in sections:
        if not _has_content(s):
            continue
        out.append(f'<h2 id="{html.escape(s.key)}">{html.escape(s.title)}</h2>')
        if s.intro:
            out.append(f"<p>{html.escape(s.intro)}</p>")
        out.append(findings_html(s.findings))
        out += [_figure_html(b) for b in s.figures]
    out.append(_not_drawn_html([b for s in sections for b in s.figures]))
    out.append("<h2 id=runs>All runs</h2>")
    out.append(f"<details><summary>{len(runs)} runs</summary>")
    out.append(table_html(runs, table_id="table-runs", max_rows=max_run_rows))
    out.append("</details>")
    out.append("<h2 id=config>Config</h2>")
    out.append(
        f"<pre>{html.escape(config_text) if config_text else '(no config.yaml in the store)'}</pre>"
    )
    out.append("<h2 id=versions>Versions</h2>")
    flat = {k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in versions.items()}
    if flat:
        out.append(table_html(pd.DataFrame({"package": list(flat), "version": list(flat.values())}),
                              table_id="table-versions"))
    else:
        out.append("<p>(no versions.json in the store)</p>")
    payload = json.dumps({"claims": [c.record() for c in claims],
                          "findings": as_records(list(findings))},
                         default=format_number, allow_nan=True)
    payload = payload.replace("</", "<\\/")
    out.append(f'<script type="application/json" id="layerflow-findings">{payload}</script>')
    out.append("</body></html>")
    return "\n".join(out)
