"""Renamed and folded public names answer with where they are now."""

from __future__ import annotations

import importlib
import re

import pytest

from layerflow._moved import MOVED


def _resolve(dotted: str) -> object:
    module, _, attr = dotted.rpartition(".")
    return getattr(importlib.import_module(module), attr)


@pytest.mark.parametrize("package,name", [(p, n) for p, names in MOVED.items() for n in names])
def test_a_moved_name_says_where_it_is_now(package: str, name: str) -> None:
    mod = importlib.import_module(package)
    assert not hasattr(mod, name)  # feature detection keeps working: hasattr is False
    with pytest.raises(AttributeError) as info:
        getattr(mod, name)
    text = str(info.value)
    assert text.startswith(f"module {package!r} has no attribute {name!r}; it is now ")
    targets = re.findall(r"layerflow(?:\.\w+)+", text.split("; it is now ", 1)[1])
    assert targets
    for target in targets:  # every place the message names exists
        assert _resolve(target) is not None, target
    if name.endswith("Error"):
        assert "every layerflow error is a layerflow.LayerflowError" in text
        for target in targets:
            obj = _resolve(target)
            assert isinstance(obj, type) and issubclass(obj, ValueError), target


def test_a_name_that_never_existed_reads_as_python_says() -> None:
    import layerflow as lf

    for mod in (lf, lf.ricci, lf.stats, lf.views):
        with pytest.raises(AttributeError, match=r"has no attribute 'nope'$"):
            mod.nope  # noqa: B018
