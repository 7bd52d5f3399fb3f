"""Every metric of one trajectory, as one flat table per view (what ``layerflow analyze`` prints).

The views and their options come from :data:`layerflow.views.VIEWS`; options are checked against
the chosen views' declarations (a misspelt option is an error naming the known ones, never
dropped). A view that cannot measure this trajectory (e.g. no equal-width run for the transport
view, k too large for the Ricci view) reports ``{"error": message}`` so the others still report.
"""

from __future__ import annotations

from typing import Any

from layerflow.trajectory import Trajectory
from layerflow.views import VIEWS, OptionError, get_view, resolve_options

__all__ = ["analyze"]


def analyze(
    traj: Trajectory, sections: list[str] | None = None, *, model: Any = None,
    inputs: Any = None, **options: Any
) -> dict[str, dict[str, Any]]:
    """Measure ``traj`` with each view in ``sections`` (default: every view that needs no model).

    Returns ``{view: {column: value}}``, and for a view that measures coefficients at several
    protocols or ks (the Ricci view's ``ks``, ``protocols``) a section ``"<view> coefficients"``:
    ``{"<protocol> k=<k>": ρ, or why it is undefined}``. ``options`` are the views' declared
    options (e.g.
    ``k=30`` for the Ricci view, ``m=1000`` for the transport view); each goes to every chosen
    view that declares it. ``model``/``inputs`` feed views that need a model (``jacobian``).
    """
    chosen = list(sections) if sections is not None else [
        n for n in VIEWS if model is not None or not get_view(n).needs_model]
    unknown = [s for s in chosen if s not in VIEWS]
    if unknown:
        raise OptionError("", f"unknown analysis sections {unknown}; available: {sorted(VIEWS)}")
    resolved = resolve_options(chosen, options)
    out: dict[str, dict[str, Any]] = {}
    for name in chosen:
        view = get_view(name)
        if view.needs_model and model is None:
            out[name] = {"error": f"the {name} view needs the model and its inputs"}
            continue
        try:
            res = view.measure_fn(traj, model=model, inputs=inputs, **resolved[name])
        except ValueError as exc:
            out[name] = {"error": str(exc)}
            continue
        out[name] = dict(res.scalars)
        if len(res.coefficients) > 1:
            out[f"{name} coefficients"] = {
                f"{c['protocol']} k={c['k']}": c["rho"] if not c["reason"] else c["reason"]
                for c in res.coefficients}
    return out
