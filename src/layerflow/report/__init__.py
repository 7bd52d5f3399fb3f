"""The HTML report of a results store.

``build_report(out_dir)`` reads the store a sweep wrote (runs, layers, trajectories, config,
versions), draws every figure its data allow, computes the findings from the numbers, and writes
``OUT/report.html`` (self-contained) with the figures also saved as ``OUT/fig-<name>.png``.

matplotlib is imported only when a report is built.
"""

from __future__ import annotations

from layerflow._moved import answer_moved
from layerflow.report._build import Report, build_report, render_report
from layerflow.report._data import ReportInput, load_input
from layerflow.report._findings import Finding, compute_findings

__all__ = [
    "Finding",
    "Report",
    "ReportInput",
    "build_report",
    "compute_findings",
    "load_input",
    "render_report",
]

answer_moved(__name__)
