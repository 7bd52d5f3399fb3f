"""Read by mypy (tests/test_typing.py), never run: the public face as a type checker sees it.
Each line holds only if mypy knows the attribute's real type (an ``Any`` would pass the good
lines but not fail the bad ones, which tests/typing/public_face_errors.py holds)."""

from __future__ import annotations

import pandas as pd

import layerflow as lf


def public_face(runs: pd.DataFrame) -> None:
    claims: list[lf.stats.Claim] = lf.stats.compute_claims(runs)
    first: str = claims[0].verdict
    view: lf.views.View = lf.views.get_view("ricci")
    options: tuple[lf.views.Option, ...] = lf.views.view_options("ricci").options
    config: lf.training.TrainConfig = lf.training.TrainConfig()
    rho: lf.ricci.RicciCoefficient | None = None
    lss: type[lf.transport.LineShapeResult] = lf.transport.LineShapeResult
    print(first, view, options, config, rho, lss)
