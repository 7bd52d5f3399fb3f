"""The view contract: options checked once, columns expanded from the options, every view's
scalars declared, and the same numbers through analyze, the views and the functions."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

import layerflow as lf
from layerflow._errors import ConfigError
from layerflow.views import (
    VIEWS,
    Column,
    Option,
    get_view,
    measure_views,
    metric_names,
    resolve_options,
)


def _traj() -> lf.Trajectory:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 4))
    return lf.Trajectory([X, X + 0.1 * rng.normal(size=X.shape), 1.5 * X, X ** 3])


def test_option_kinds_and_errors() -> None:
    o = Option("ks", "ints", None, "ks", low=1, nullable=True)
    assert o.check([30, 10]) == [10, 30]
    with pytest.raises(ConfigError, match=r"^ks\[1\]: 0 is too small; expected an integer >= 1"):
        o.check([3, 0])
    with pytest.raises(ConfigError, match=r"\[3, 3\] repeats a value"):
        o.check([3, 3])
    s = Option("p", "strs", ["a"], "p", choices=("a", "b"))
    assert s.check(["b", "a"]) == ["b", "a"]
    f = Option("x", "float", 1.0, "x", low=0.0)
    assert f.check(2) == 2.0 and isinstance(f.check(2), float)
    with pytest.raises(ConfigError, match="expected a finite number, got bool True"):
        f.check(True)
    with pytest.raises(ConfigError, match="null is not allowed"):
        f.check(None)
    with pytest.raises(ValueError, match="kind 'list'"):
        Option("y", "list", None, "y")


def test_columns_expand_from_options_and_match_store_names() -> None:
    c = Column("w2_k{ks}", "W2", "W2")
    assert c.expand({"ks": [10, 30]}) == ["w2_k10", "w2_k30"]
    assert re.match(c.pattern(), "w2_k300") and not re.match(c.pattern(), "w2")
    # a coefficient at another protocol or k is a row of the coefficients table, not a column
    assert metric_names(["ricci_rho_k30", "lss_mean", "dataset", "ricci_rho_baptista_k300",
                         "ricci_rho", "transport_run"]) == ["lss_mean", "ricci_rho"]


def test_every_view_returns_exactly_its_declared_scalars() -> None:
    traj = _traj()
    res = measure_views(traj, ["transport", "ricci"], k=5, m=60)
    for name, r in res.items():
        view = get_view(name)
        opts = view.resolve({"k": 5} if name == "ricci" else {"m": 60})
        assert set(r.scalars) == {n for n, _ in view.scalar_columns(opts)}
        assert {row["metric"] for row in r.layers} <= {c.name for c in view.layer_metrics()}
    assert r.scalars["ricci_rho"] == lf.ricci.ricci_coefficient(traj, k=5).coefficient or \
        math.isnan(r.scalars["ricci_rho"])
    t = res["transport"].scalars
    assert t["lss_mean"] == lf.transport.line_shape_score(traj).mean
    assert t["ots"] == lf.transport.ot_score(traj, m=60).score


def test_jacobian_view_needs_a_model_and_matches_jacobian_diagnostics() -> None:
    ds = lf.load_dataset("moons", n=200, seed=0)
    model = lf.build_model(lf.ModelSpec("resnet", width=4, depth=3), 2, 2, seed=0)
    traj = lf.capture(model, ds.X_test)
    view = get_view("jacobian")
    with pytest.raises(lf.LayerflowError, match="needs the model"):
        view.measure(traj)
    res = view.measure(traj, model=model, inputs=ds.X_test)
    diag = lf.maps.jacobian_diagnostics(model, ds.X_test)
    fr = [lay.fraction_orientation_preserved for lay in diag.layers if lay.applicable]
    assert res.scalars["jacobian_orientation_min"] == min(fr)


def test_one_flat_options_mapping_is_split_among_views() -> None:
    per = resolve_options(["transport", "ricci"], {"k": 7, "m": 50, "seed": 3})
    assert per["transport"]["m"] == 50 and per["ricci"]["k"] == 7
    assert per["transport"]["seed"] == per["ricci"]["seed"] == 3
    with pytest.raises(ConfigError, match=r"kk: no chosen view .* has this option"):
        resolve_options(["transport"], {"kk": 1})
    with pytest.raises(ConfigError, match="unknown view 'curvy'"):
        get_view("curvy")
    assert list(VIEWS) == ["transport", "ricci", "jacobian"]


def test_the_light_option_declarations_are_the_views_own() -> None:
    """Each view's options and ``needs_model`` are those of its light declaration; the names
    written there are the keys the registries are created with, and the allowed values are
    the registries' keys."""
    from layerflow.ricci import CURVATURES, PROTOCOLS
    from layerflow.transport._assignment import SOLVERS
    from layerflow.views import VIEW_OPTIONS, view_options

    assert list(VIEW_OPTIONS) == list(VIEWS)
    for name in VIEWS:
        declared, view = view_options(name), get_view(name)
        assert declared.view == view.name == name
        assert declared.options == view.options
        assert declared.needs_model == view.needs_model
    from layerflow.ricci._options import CURVATURE_KINDS, PROTOCOL_NAMES
    from layerflow.transport._options import SOLVER_NAMES

    assert CURVATURE_KINDS == tuple(CURVATURES)
    assert PROTOCOL_NAMES == tuple(PROTOCOLS)
    assert SOLVER_NAMES == tuple(sorted(SOLVERS))
    ricci = {o.name: o for o in view_options("ricci").options}
    assert ricci["curvature"].allowed() == tuple(CURVATURES)
    assert ricci["protocols"].allowed() == tuple(PROTOCOLS)
    solver = {o.name: o for o in view_options("transport").options}["solver"]
    assert solver.allowed() == ("auto", *sorted(SOLVERS))
    with pytest.raises(ConfigError, match=r"unknown view 'ricc'.*did you mean 'ricci'"):
        view_options("ricc")


def test_registry_keys_are_the_initial_names_until_the_registry_is_loaded() -> None:
    """Before the registry's module is imported, its initial names (nothing imported); after,
    its keys as they are then, a key added at run time included."""
    import subprocess
    import sys

    code = ("import sys\n"
            "from layerflow.views import view_options\n"
            "(opt,) = [o for o in view_options('ricci').options if o.name == 'curvature']\n"
            "before = opt.allowed()\n"
            "loaded = 'layerflow.ricci._curvature' in sys.modules\n"
            "from layerflow.ricci import CURVATURES\n"
            "CURVATURES['halved'] = CURVATURES['forman']\n"
            "print(before, loaded, opt.allowed())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == ("('forman', 'augmented', 'ollivier') False "
                   "('forman', 'augmented', 'ollivier', 'halved')")
