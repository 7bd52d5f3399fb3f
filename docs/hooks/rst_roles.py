"""Griffe extension: layerflow's docstrings (reST roles, ``.. math::``) as mkdocstrings Markdown.

The docstrings follow numpy's style with Sphinx roles (``:func:`ot_score```,
``:class:`~layerflow.Trajectory```). Once the package is loaded, every role is resolved in the
scope of the object whose docstring holds it (as Python would resolve the name there):

- a name that resolves to an object of layerflow becomes a cross-reference
  ``[`ot_score`][layerflow.transport.ot_score]`` when the object is rendered on an API page
  (the ``::: identifier`` lines of ``docs/api/*.md`` and their public members), else plain code
  (a private helper, a module that has no page);
- a name of another installed package (``pandas.DataFrame``, ``ot.emd``) is plain code (no
  inventories are fetched: the build is offline);
- a name that resolves to nothing is a **broken reference**: it is logged as a warning, so
  ``mkdocs build --strict`` fails (a renamed function whose docstring mentions are stale).

``.. math::`` blocks become fenced text blocks, and a paragraph ending in ``::`` (reST's
literal block) ends in ``:`` (the indented block is a Markdown code block already).
"""

from __future__ import annotations

import importlib.util
import logging
import re
from pathlib import Path
from typing import Any

from griffe import Extension

log = logging.getLogger("mkdocs.hooks.rst_roles")

_ROLE = re.compile(r":(?:class|func|meth|data|mod|attr|exc|obj):`(~?)([\w.]+)(?:\(\))?`")
_MATH = re.compile(r"^(?P<indent>[ \t]*)\.\. math::[ \t]*(?P<first>.*)$")
_TOP = "layerflow"
_API = Path(__file__).resolve().parents[1] / "api"


def _get(pkg: Any, path: str) -> Any:
    """The object at a dotted path inside the package, or None."""
    parts = path.split(".")
    if parts[0] != _TOP:
        return None
    obj = pkg
    for part in parts[1:]:
        try:
            obj = obj.members[part]
        except (KeyError, AttributeError):
            return None
    return obj


def _target_path(obj: Any) -> str:
    try:
        return str(obj.final_target.path) if obj.is_alias else str(obj.path)
    except Exception:  # an alias to something outside the package
        return str(obj.path)


def rendered_paths(pkg: Any, roots: list[str]) -> set[str]:
    """Every path an API page renders: the roots, and the public members of the packages and
    classes among them (a package's members restricted to its ``__all__``), under both the path
    they are shown at and their canonical path."""
    out: set[str] = set()

    def add(obj: Any, shown: str, top: bool) -> None:
        out.update({shown, _target_path(obj)})
        try:
            target = obj.final_target if obj.is_alias else obj
        except Exception:
            return
        if not (target.is_class or (top and target.is_module)):
            return
        exports = None
        if target.is_module and target.exports is not None:
            exports = {str(getattr(e, "name", e)) for e in target.exports}
        for name, member in target.members.items():
            if name.startswith("_") or (exports is not None and name not in exports):
                continue
            if target.is_module and not member.is_alias and member.is_module:
                continue  # submodules get no page of their own
            add(member, f"{shown}.{name}", False)

    for root in roots:
        obj = _get(pkg, root)
        if obj is not None:
            add(obj, root, True)
    return out


def api_roots() -> list[str]:
    """The identifiers the API pages render (``::: identifier`` lines)."""
    roots: list[str] = []
    for page in sorted(_API.glob("*.md")):
        roots += re.findall(r"^::: ([\w.]+)", page.read_text(encoding="utf-8"), flags=re.M)
    return roots


def _resolve(obj: Any, pkg: Any, target: str, rendered: set[str]) -> tuple[str, str]:
    """``(kind, path)``: kind ``"link"``, ``"code"`` (exists, no page) or ``"broken"``; names of
    other installed packages are ``"code"``."""
    found = _get(pkg, target)
    path = target
    if found is None:
        first, _, rest = target.partition(".")
        try:
            base = obj.resolve(first)
        except Exception:  # griffe's NameResolutionError
            base = ""
        path = f"{base}.{rest}" if base and rest else base
        if not path.startswith(_TOP + "."):
            root = (path or target).split(".")[0]
            if root and root != _TOP and importlib.util.find_spec(root) is not None:
                return "code", target
            return "broken", target
        found = _get(pkg, path)
        if found is None:
            return "broken", target
    for candidate in (path, _target_path(found)):
        if candidate in rendered:
            return "link", candidate
    return "code", path


def _math(text: str) -> str:
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        m = _MATH.match(lines[i])
        if m is None:
            out.append(lines[i])
            i += 1
            continue
        indent = m.group("indent")
        body = [m.group("first").strip()] if m.group("first").strip() else []
        i += 1
        while i < len(lines) and (not lines[i].strip() or
                                  len(lines[i]) - len(lines[i].lstrip()) > len(indent)):
            if lines[i].strip():
                body.append(lines[i].strip())
            i += 1
        out += [f"{indent}```text", *(indent + b for b in body), f"{indent}```", ""]
    return "\n".join(out)


class RstRoles(Extension):
    """Rewrite the docstrings of the whole package once it is loaded."""

    def on_package(self, *, pkg: Any, **kwargs: Any) -> None:
        if pkg.path != _TOP:
            return
        rendered = rendered_paths(pkg, api_roots())
        seen: set[int] = set()

        def visit(obj: Any) -> None:
            if id(obj) in seen or getattr(obj, "is_alias", False):
                return
            seen.add(id(obj))
            doc = obj.docstring
            if doc is not None:
                doc.value = rewrite(obj, pkg, doc.value, rendered)
            for member in obj.members.values():
                visit(member)

        visit(pkg)


def rewrite(obj: Any, pkg: Any, text: str, rendered: set[str]) -> str:
    """One docstring with its roles resolved in ``obj``'s scope (see the module docstring)."""

    def role(m: re.Match[str]) -> str:
        short, target = m.group(1) == "~", m.group(2)
        shown = target.rsplit(".", 1)[-1] if short else target
        kind, path = _resolve(obj, pkg, target, rendered)
        if kind == "broken":
            log.warning("%s: the docstring names %r, which is nothing in scope there",
                        obj.path, target)
        if kind == "link":
            return f"[`{shown}`][{path}]"
        return f"`{shown}`"

    text = _ROLE.sub(role, text)
    text = _math(text)
    return re.sub(r"(\S)::$", r"\1:", text, flags=re.M)
