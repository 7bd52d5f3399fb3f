"""The claims table's cells: three significant figures, "—" with the reason when undefined."""

from __future__ import annotations

import math
from dataclasses import replace

from layerflow.report._html import claims_html, estimate_text, p_text
from layerflow.stats.claims import Claim


def _claim(est: float, lo: float, hi: float, reason: str = "", kind: str = "claim") -> Claim:
    return Claim("k", "P", "text", "def", "proto", "q", est, (lo, hi), "cells: cell", 2, 7, 10,
                 "fam", 0.01234, kind, "too few", left_out="3 disconnected at k = 10",
                 reason=reason)


def test_three_significant_figures_and_dashes() -> None:
    assert estimate_text(_claim(0.123456, 0.0456789, 0.2)) == "0.123 [0.0457, 0.2]"
    assert estimate_text(_claim(math.nan, math.nan, math.nan, "no unit")) == "— (no unit)"
    assert estimate_text(_claim(0.5, math.nan, math.nan, "1 unit")) == "0.5 [—] (1 unit)"
    assert p_text(math.nan) == "—" and p_text(0.0001) == "< 0.001" and p_text(0.01234) == "0.0123"


def test_counts_are_printed_once_per_row() -> None:
    c = _claim(0.1, 0.0, 0.2)
    assert c.counts == "2 cells, 7 of 10 networks; 3 disconnected at k = 10"
    html = claims_html([c])
    assert c.counts in html and 'class="s too-few"' in html and "definition and protocol" in html


def test_the_interval_is_labelled_unadjusted() -> None:
    c = _claim(0.1, 0.0, 0.2)
    assert "95 % interval, unadjusted" in claims_html([c])
    assert c.record()["interval_level"].startswith("95 %, unadjusted")


def test_large_and_undefined_numbers_print_as_every_report_number() -> None:
    # the one formatter: 1234.5 -> "1230" (not "1.23e+03"); an undefined value -> "—"
    assert estimate_text(_claim(1234.5, 1000.0, 1500.0)) == "1230 [1000, 1500]"
    c = replace(_claim(0.1, 0.0, 0.2),
                heterogeneity={"tau2": math.nan, "I2": 0.4567, "Q": 12345.0, "Q_p": 0.5})
    text = claims_html([c])
    assert "τ² = —, I² = 45.7 %, Q = 12300 (p = 0.5)" in text


def test_an_estimated_row_without_a_verdict_says_why_beside_its_estimate() -> None:
    why = "this design cannot reach supported or contradicted: with 6 data draws ..."
    shown = claims_html([replace(_claim(0.4, 0.2, 0.6, reason=why), verdict="inconclusive")])
    assert why in shown and shown.index(why) < shown.index(">inconclusive<")
    hidden = claims_html([replace(_claim(0.4, 0.2, 0.6, reason=why), verdict="supported")])
    assert why not in hidden


def test_the_cli_prints_confirmatory_rows_and_counts_the_sensitivity_rows(capsys) -> None:  # type: ignore[no-untyped-def]
    from types import SimpleNamespace

    from layerflow.cli import _echo_report

    main = replace(_claim(0.4, 0.2, 0.6, reason="cannot reach"), verdict="inconclusive")
    other = replace(main, key="k_k50", claim="text (protocol layerflow, k = 50)",
                    family="fam · sensitivity")
    _echo_report(SimpleNamespace(claims=[main, other, other], path="r.html", findings=[],
                                 figures=[]))
    out = capsys.readouterr().out
    assert out.count("[inconclusive]") == 1 and "cannot reach" in out
    assert "(2 sensitivity rows" in out and "k = 50" not in out
