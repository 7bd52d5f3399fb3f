"""The numbers README's studies table and findings quote, read from the stores they describe.

    python benchmarks/study_numbers.py results/default results/geodesic results/transformer

For each results folder: its networks (finished / all), the sweep's time from the store (first
network started to last finished: ``min(finished_at - seconds)`` to ``max(finished_at)``, so
training and analysis, not the report), and per variant the mean of the headline metrics (LSS,
OTS, W2 geodesic ratio, ρ, test accuracy), so a sentence such as "LSS 2.11 vs 2.50 untrained"
is copied from here and not typed from memory.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pandas as pd

from layerflow.report._format import format_number
from layerflow.stats._tables import prepare_runs
from layerflow.sweep import ResultStore

HEADLINE = ("lss_mean", "ots", "w2_geodesic_ratio", "ricci_rho", "test_acc")


def study_numbers(out: Path) -> tuple[str, pd.DataFrame]:
    """One line about the study in ``out`` and its per-variant means of :data:`HEADLINE`."""
    runs = ResultStore(out).runs()
    ok = runs[runs["status"] == "ok"]
    finished = pd.to_numeric(runs["finished_at"], errors="coerce")
    started = finished - pd.to_numeric(runs["seconds"], errors="coerce")
    span = float(finished.max() - started.min())
    line = (f"{out}: {len(ok)} of {len(runs)} networks finished; sweep time "
            f"{format_number(span) if math.isfinite(span) else '—'} s (training + analysis)")
    df = prepare_runs(ok)
    cols = [c for c in HEADLINE if c in df.columns]
    table = df.groupby(["dataset", "variant"], sort=True)[cols].mean(numeric_only=True)
    return line, table.map(format_number)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", type=Path, help="results folders (layerflow run --out)")
    for folder in parser.parse_args().folders:
        line, table = study_numbers(folder)
        print(line)
        print(table.to_string())
        print()


if __name__ == "__main__":
    main()
