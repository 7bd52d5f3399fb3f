""""Did you mean …?": the closest registered names to a misspelt one (``difflib``).

Every lookup of a name in a registry (studies, data sets, views, curvature kinds, option values)
adds this hint to its error, so a typo is answered with the name that was meant.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any


def did_you_mean(name: Any, choices: Iterable[Any], n: int = 2) -> str:
    """``" (did you mean 'x'?)"``, or ``" (did you mean 'x' or 'y'?)"``, for the registered
    names closest to ``name`` (difflib's ratio ≥ 0.6); ``""`` when none is close or ``name`` is
    not text. Meant to be appended to an error message."""
    if not isinstance(name, str) or not name:
        return ""
    options = [str(c) for c in choices]
    lowered = {c.lower(): c for c in options}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.6)
    if not close:
        return ""
    quoted = [repr(lowered[c]) for c in close]
    return f" (did you mean {' or '.join(quoted)}?)"
