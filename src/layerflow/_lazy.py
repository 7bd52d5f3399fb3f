"""Package faces that import their names on first use.

A package ``__init__`` lists its public names in ``__all__`` and imports them under
``if TYPE_CHECKING:``, which type checkers and readers see; at run time it calls
:func:`lazy_face`, which reads those import statements from the ``__init__``'s source and gives
the package a ``__getattr__`` and a ``__dir__`` (:func:`attach`) that type checkers do not see:
each name is imported from its module the first time it is read
(``layerflow.ricci.ricci_coefficient`` imports the Ricci kernels; ``layerflow.ricci._options``
does not). The names are written once, in the imports; nothing is kept but the package's own
attributes.

::

    from typing import TYPE_CHECKING

    from layerflow._lazy import lazy_face

    if TYPE_CHECKING:
        from layerflow.ricci._coefficients import ricci_coefficient

    __all__ = ["ricci_coefficient"]

    lazy_face(__name__, __file__)
"""

from __future__ import annotations

import ast
import importlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from layerflow._moved import moved_error


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def lazy_names(package: str, source: str) -> dict[str, tuple[str, str]]:
    """``public name -> (module, attribute)`` of the ``from … import …`` statements under
    ``if TYPE_CHECKING:`` at the top level of ``source`` (the ``__init__`` of ``package``;
    relative imports are resolved against it)."""
    out: dict[str, tuple[str, str]] = {}
    for node in ast.parse(source).body:
        if not (isinstance(node, ast.If) and _is_type_checking(node.test)):
            continue
        for stmt in node.body:
            if not isinstance(stmt, ast.ImportFrom):
                continue
            if stmt.level:
                parts = package.split(".")
                base = parts[: len(parts) - stmt.level + 1]
                module = ".".join([*base, stmt.module] if stmt.module else base)
            else:
                module = stmt.module or ""
            for alias in stmt.names:
                out[alias.asname or alias.name] = (module, alias.name)
    return out


def attach(package: str, file: str, public: Sequence[str]) -> tuple[
        Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``, whose ``__init__`` is ``file``: a name
    imported under ``if TYPE_CHECKING:`` is imported from its module when first read (and kept
    as an attribute of the package); another name is looked for as a submodule. A name of
    ``public`` (the package's ``__all__``) that no such import provides and the package does not
    define is a ``ValueError`` when the package is imported."""
    table = lazy_names(package, Path(file).read_text(encoding="utf-8"))
    namespace = vars(sys.modules[package])
    missing = [n for n in public if n not in table and n not in namespace]
    if missing:
        raise ValueError(f"{package}: {', '.join(missing)} in __all__ but neither imported "
                         "under TYPE_CHECKING nor defined")

    def __getattr__(name: str) -> Any:
        if name in table:
            module, attr = table[name]
            if module == package:  # a submodule of the package itself
                value = importlib.import_module(f"{package}.{attr}")
            else:
                owner = importlib.import_module(module)
                try:
                    value = getattr(owner, attr)
                except AttributeError:  # a submodule not imported yet
                    value = importlib.import_module(f"{module}.{attr}")
        elif not name.startswith("__"):
            try:
                value = importlib.import_module(f"{package}.{name}")
            except ModuleNotFoundError as exc:
                if exc.name != f"{package}.{name}":
                    raise
                raise moved_error(package, name) from None
        else:
            raise moved_error(package, name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(public))

    return __getattr__, __dir__


def lazy_face(package: str, file: str) -> None:
    """Give ``package`` (``__name__`` of its ``__init__``, whose file is ``file``) the
    ``__getattr__`` and ``__dir__`` of :func:`attach` for the names of its ``__all__``."""
    namespace = vars(sys.modules[package])
    namespace["__getattr__"], namespace["__dir__"] = attach(package, file, namespace["__all__"])
