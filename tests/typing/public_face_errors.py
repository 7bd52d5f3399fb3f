"""Read by mypy (tests/test_typing.py), never run: each marked line is a type error that mypy
reports only if it knows the attribute's real type."""

from __future__ import annotations

import pandas as pd

import layerflow as lf


def misuse(runs: pd.DataFrame) -> None:
    count: int = lf.stats.compute_claims(runs)  # error: list[Claim], not int
    lf.views.get_view(3)  # error: a name is a str
    lf.training.TrainConfig(no_such_field=1)  # error: no such field
    lf.stats.no_such_function()  # error: no such attribute
    lf.ricci.ricci_coefficient("not a trajectory", k="30")  # error: k is an int
    print(count)
