"""The record every finding is, and how findings print numbers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from layerflow.report._format import format_number

Number = float | int | str | bool


@dataclass(frozen=True)
class Finding:
    """One stated finding: ``text`` and the ``numbers`` it was computed from.

    ``key`` names the finding kind (e.g. ``"lss_residual_vs_plain"``), ``view`` the report section.
    """

    key: str
    view: str
    text: str
    numbers: Mapping[str, Number] = field(default_factory=dict)


def fmt_percent(share: float) -> str:
    """A share as a percentage that never rounds a proper part to 0 % or 100 % (0.998 -> 99.8 %)."""
    pct = 100.0 * float(share)
    text = f"{pct:.0f}"
    digits = 0
    while digits < 6 and ((float(text) >= 100.0 and pct < 100.0) or
                          (float(text) <= 0.0 and pct > 0.0)):
        digits += 1
        text = f"{pct:.{digits}f}"
    return f"{text} %"


def fmt_fraction(f: float) -> str:
    """A train fraction as a percentage: 0.05 -> ``"5 %"``."""
    return f"{format_number(100.0 * float(f))} %"
