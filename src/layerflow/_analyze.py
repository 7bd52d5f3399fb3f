"""Every metric of one trajectory, as one flat table per view (what ``layerflow analyze`` prints).

The views and their options come from :data:`layerflow.views.VIEWS`; options are checked against
the chosen views' declarations (a misspelt option is an error naming the known ones, never
dropped). Each view reports on its own: a view that cannot measure this trajectory (e.g. no
equal-width run for the transport view, k too large for the Ricci view) reports
``{"error": message}`` so the others still report; inside the transport view, a W2 path or an OT
score that cannot be computed is NaN with its reason in ``transport_note`` while LSS, kinetic
energy and the others are reported.
"""

from __future__ import annotations

from typing import Any

from layerflow._errors import ConfigError, LayerflowError
from layerflow._trajectory import Trajectory
from layerflow.views import VIEWS, get_view, resolve_options


def analyze(
    traj: Trajectory, sections: list[str] | None = None, *, model: Any = None,
    inputs: Any = None, subsample: int | None = None, subsample_seed: int = 0,
    per_layer: bool = False, **options: Any
) -> dict[str, dict[str, Any]]:
    """Measure ``traj`` with each view in ``sections`` (default: every view that needs no model).

    Returns ``{view: {column: value}}``, and for a view that measures coefficients at several
    protocols or ks (the Ricci view's ``ks``, ``protocols``) a section ``"<view> coefficients"``:
    ``{"<protocol> k=<k>": ρ, or why it is undefined}``. ``options`` are the views' declared
    options (e.g.
    ``k=30`` for the Ricci view, ``m=1000`` for the transport view); each goes to every chosen
    view that declares it. ``model``/``inputs`` feed views that need a model (``jacobian``).
    ``subsample=M`` first draws M rows of every state with ``subsample_seed`` (recorded under
    ``"subsample"``: ``{"m", "of", "seed"}``). ``per_layer=True`` adds each view's per-layer
    values under its key ``"layers"`` (a list of ``{layer, layer_name, metric, k, value}``).
    """
    chosen = list(sections) if sections is not None else [
        n for n in VIEWS if model is not None or not get_view(n).needs_model]
    unknown = [s for s in chosen if s not in VIEWS]
    if unknown:
        raise ConfigError("", f"unknown analysis sections {unknown}; available: {sorted(VIEWS)}")
    resolved = resolve_options(chosen, options)
    out: dict[str, dict[str, Any]] = {}
    if subsample is not None:
        if isinstance(subsample, bool) or not isinstance(subsample, int) or subsample < 1:
            raise ConfigError("subsample", f"{subsample!r}: expected an int >= 1")
        n = traj.n_samples
        if subsample < n:
            traj = traj.subsample(subsample, subsample_seed)
        out["subsample"] = {"m": min(subsample, n), "of": n, "seed": subsample_seed}
    for name in chosen:
        view = get_view(name)
        if view.needs_model and model is None:
            out[name] = {"error": f"the {name} view needs the model and its inputs"}
            continue
        try:
            res = view.measure(traj, model=model, inputs=inputs, **resolved[name])
        except (LayerflowError, ValueError, MemoryError) as exc:
            out[name] = {"error": str(exc) or type(exc).__name__}
            continue
        out[name] = dict(res.scalars)
        if per_layer:
            out[name]["layers"] = [dict(row) for row in res.layers]
        if len(res.coefficients) > 1:
            out[f"{name} coefficients"] = {
                f"{c['protocol']} k={c['k']}": c["rho"] if not c["reason"] else c["reason"]
                for c in res.coefficients}
    return out
