"""'Did you mean': every registry lookup of a name answers a typo with the name that was meant."""

from __future__ import annotations

import pytest

from layerflow._suggest import did_you_mean


def test_closest_names_against_difflib_by_hand() -> None:
    # difflib ratio of "moosn" and "moons": 2*4/10 = 0.8 >= 0.6; of "moosn" and "circles": below
    assert did_you_mean("moosn", ["moons", "circles"]) == " (did you mean 'moons'?)"
    assert did_you_mean("MOONS", ["moons"]) == " (did you mean 'moons'?)"
    assert did_you_mean("xyz", ["moons", "circles"]) == ""
    assert did_you_mean(3, ["moons"]) == ""
    assert did_you_mean("", ["moons"]) == ""
    two = did_you_mean("paper-ricc", ["paper-ricci", "paper-riccj", "default"])
    assert two.startswith(" (did you mean '") and " or " in two  # both tie at ratio 10/10.5
    assert "'paper-ricci'" in two and "'paper-riccj'" in two and "default" not in two


def test_misspelt_study_name() -> None:
    from layerflow._errors import ConfigError
    from layerflow.sweep import load_config

    with pytest.raises(ConfigError, match=r"'geodesc' is neither .*\(did you mean 'geodesic'( or [^)]*)?\?\)"):
        load_config("geodesc")


def test_misspelt_dataset_name() -> None:
    from layerflow._errors import ConfigError
    from layerflow.data import load_dataset

    with pytest.raises(ConfigError, match=r"unknown dataset 'circels' \(did you mean 'circles'"):
        load_dataset("circels")
    with pytest.raises(ConfigError, match=r"unknown task 'sortd' \(did you mean 'sorted'\?\)"):
        load_dataset("tokens:sortd")


def test_misspelt_view_name_and_option() -> None:
    from layerflow._errors import ConfigError
    from layerflow.views import get_view, resolve_options

    with pytest.raises(ConfigError, match=r"unknown view 'transprot' \(did you mean 'transport'"):
        get_view("transprot")
    with pytest.raises(ConfigError, match=r"unknown option of the ricci view \(did you mean 'ks'"):
        get_view("ricci").resolve({"kss": [30]})
    with pytest.raises(ConfigError, match=r"has this option \(did you mean 'curvature'\?\)"):
        resolve_options(["ricci"], {"curvatur": "forman"})


def test_misspelt_curvature_kind() -> None:
    from layerflow._errors import ConfigError
    from layerflow.ricci._curvature import check_kind
    from layerflow.views import get_view

    with pytest.raises(ConfigError, match=r"'formann' \(did you mean 'forman'\?\)"):
        check_kind("formann")
    with pytest.raises(ConfigError, match=r"'olivier' is not allowed \(did you mean 'ollivier'\?\)"):
        get_view("ricci").resolve({"curvature": "olivier"})


def test_misspelt_config_key_and_backend() -> None:
    from layerflow._errors import ConfigError
    from layerflow.sweep import load_config, make_backend

    with pytest.raises(ConfigError, match=r"seeeds: unknown key \(did you mean 'seeds'\?\)"):
        load_config({"name": "t", "seeeds": 2, "datasets": ["moons"]})
    with pytest.raises(ConfigError, match=r"unknown backend 'locl' \(did you mean 'local'\?\)"):
        make_backend("locl")
