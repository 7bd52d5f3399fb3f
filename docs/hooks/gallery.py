"""mkdocs hook: the gallery — every ``examples/*.py`` run at build time, its figures and output kept.

Each example is a script in jupytext's percent format (``# %%`` starts a code cell,
``# %% [markdown]`` a cell of ``#``-commented Markdown); a script without cells is one code
cell, its module docstring the description. Cells run in order in one namespace with the working
directory set to a temporary folder; after each code cell its printed output, the value of its
last expression (``_repr_html_`` when it has one, as Jupyter shows it; nothing for matplotlib
objects) and every pyplot figure it left open (saved as PNG, then closed) go on the page, under
the cell's code. Pages are generated files (``gallery/<name>.md`` and its PNGs); nothing is
written into the source tree.

A failing example fails the build (``PluginError``), and a warning it raises becomes a mkdocs
warning, so ``mkdocs build --strict`` fails on a stale example too. Torch runs single-threaded
here: the example networks are tiny and a thread pool only adds contention. A script whose first
lines contain ``# gallery: skip`` is listed but not run (for examples too slow for a build).
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import html
import io
import logging
import os
import re
import tempfile
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("mkdocs.hooks.gallery")

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SKIP_MARK = "# gallery: skip"
_MARKER = re.compile(r"^# %%(.*)$")
_DPI = 90
_CACHE: dict[str, list[Block]] = {}


@dataclass
class Cell:
    kind: str  # "markdown" or "code"
    source: str
    line: int  # first line of the cell's source in the file (1-based)


@dataclass
class Block:
    kind: str
    source: str
    stdout: str = ""
    display: str | None = None  # HTML or text of the last expression
    display_is_html: bool = False
    figures: list[bytes] = field(default_factory=list)


def _uncomment(lines: list[str]) -> str:
    out = []
    for ln in lines:
        out.append(ln[2:] if ln.startswith("# ") else ln[1:] if ln.startswith("#") else ln)
    return "\n".join(out).strip("\n")


def split_cells(text: str) -> list[Cell]:
    """The cells of a percent-format script (a script without markers is one code cell, with its
    module docstring as a Markdown cell in front)."""
    lines = text.splitlines()
    if not any(_MARKER.match(ln) for ln in lines):
        tree = ast.parse(text)
        doc = ast.get_docstring(tree)
        cells = [Cell("markdown", doc, 1)] if doc else []
        return [*cells, Cell("code", text.strip("\n"), 1)]
    cells: list[Cell] = []
    kind, start, buf = "code", 1, []
    for i, ln in enumerate([*lines, "# %%"], start=1):
        m = _MARKER.match(ln)
        if m is None:
            buf.append(ln)
            continue
        body = _uncomment(buf) if kind == "markdown" else "\n".join(buf).strip("\n")
        if body.strip():
            lead = next((j for j, b in enumerate(buf) if b.strip()), 0)
            cells.append(Cell(kind, body, start + lead))
        kind = "markdown" if "[markdown]" in m.group(1) else "code"
        start, buf = i + 1, []
    return cells


def _is_matplotlib(value: Any) -> bool:
    items = value if isinstance(value, list | tuple) else [value]
    return bool(items) and all(type(v).__module__.startswith("matplotlib") for v in items)


def _display(value: Any) -> tuple[str | None, bool]:
    if value is None or _is_matplotlib(value):
        return None, False
    to_html = getattr(value, "_repr_html_", None)
    if callable(to_html):
        text = to_html()
        if isinstance(text, str):
            return text, True
    return repr(value), False


def run_cells(cells: list[Cell], path: Path) -> list[Block]:
    """Run the cells of ``path`` in one namespace; what each showed, as :class:`Block` s."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    namespace: dict[str, Any] = {"__name__": "__main__", "__file__": str(path)}
    blocks: list[Block] = []
    plt.close("all")
    for cell in cells:
        if cell.kind == "markdown":
            blocks.append(Block("markdown", cell.source))
            continue
        tree = ast.parse(cell.source, filename=str(path))
        ast.increment_lineno(tree, cell.line - 1)
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(tree, str(path), "exec"), namespace)
            value = None
            if last is not None:
                expr = ast.Expression(last.value)
                value = eval(compile(expr, str(path), "eval"), namespace)
        block = Block("code", cell.source, stdout=out.getvalue())
        block.display, block.display_is_html = _display(value)
        for num in plt.get_fignums():
            buf = io.BytesIO()
            plt.figure(num).savefig(buf, format="png", dpi=_DPI)
            block.figures.append(buf.getvalue())
        plt.close("all")
        blocks.append(block)
    return blocks


def run_example(path: Path) -> list[Block]:
    """Run one example in a temporary working directory, warnings recorded and re-logged."""
    cells = split_cells(path.read_text(encoding="utf-8"))
    cwd = Path.cwd()
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        os.chdir(tmp)
        try:
            return run_cells(cells, path)
        finally:
            os.chdir(cwd)
            for w in caught:
                log.warning("examples/%s: %s: %s (line %s of %s)", path.name,
                            w.category.__name__, w.message, w.lineno, w.filename)


def title_of(path: Path) -> str:
    """The first Markdown heading of the script, else its name."""
    for cell in split_cells(path.read_text(encoding="utf-8")):
        if cell.kind == "markdown":
            for ln in cell.source.splitlines():
                if ln.startswith("# "):
                    return ln[2:].strip()
    return path.stem.replace("_", " ")


def render(stem: str, blocks: list[Block]) -> tuple[str, list[tuple[str, bytes]]]:
    """The Markdown page of an example and its images ``(file name, PNG bytes)``."""
    parts: list[str] = []
    images: list[tuple[str, bytes]] = []
    for block in blocks:
        if block.kind == "markdown":
            parts.append(block.source)
            continue
        parts.append(f"```python\n{block.source}\n```")
        if block.stdout.strip():
            parts.append(f"```text\n{block.stdout.rstrip()}\n```")
        if block.display is not None:
            if block.display_is_html:
                flat = " ".join(block.display.split("\n"))
                parts.append(f'<div class="lf-output">{flat}</div>')
            else:
                parts.append(f"```text\n{block.display}\n```")
        for png in block.figures:
            name = f"{stem}_{len(images) + 1}.png"
            images.append((name, png))
            parts.append(f"![{html.escape(stem)}, figure {len(images)}]({name})")
    parts.append(f"[Download the script]({stem}.py) · it is `examples/{stem}.py` in the "
                 "repository.")
    return "\n\n".join(parts) + "\n", images


def examples() -> list[Path]:
    return sorted(p for p in EXAMPLES.glob("*.py") if not p.name.startswith("_"))


def _key(path: Path) -> str:
    h = hashlib.sha256(path.read_bytes())
    src = ROOT / "src" / "layerflow"
    h.update(str(max((p.stat().st_mtime_ns for p in src.rglob("*.py")), default=0)).encode())
    return h.hexdigest()


# ------------------------------------------------------------------------------- mkdocs hooks
def on_config(config: Any) -> Any:
    """Expand the nav's Gallery entry into the gallery's pages (so none is left out of it), and
    add ``architecture.md`` when the docs hold it and the nav does not list it yet."""
    nav = config.get("nav") or []
    pages = [{title_of(p): f"gallery/{p.stem}.md"} for p in examples() if p.stem != "tutorial"]
    for i, entry in enumerate(nav):
        if isinstance(entry, dict) and entry.get("Gallery") == "gallery/index.md":
            nav[i] = {"Gallery": ["gallery/index.md", *pages]}
    listed = any(isinstance(e, dict) and "architecture.md" in e.values() for e in nav)
    if not listed and (Path(config["docs_dir"]) / "architecture.md").exists():
        nav.append({"Architecture": "architecture.md"})
    return config


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.exceptions import PluginError
    from mkdocs.structure.files import File

    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    index = ["# Gallery", "",
             "Each page is an example script from `examples/`, run when the site was built; the "
             "figures and printed numbers are what it produced then. The tutorial is "
             "[here](tutorial.md).", ""]
    for path in examples():
        stem = path.stem
        head = path.read_text(encoding="utf-8").splitlines()[:5]
        if any(ln.strip() == SKIP_MARK for ln in head):
            blocks = [Block("markdown", f"# {title_of(path)}\n\n(not run when the site was "
                                        "built: too slow for a build)"),
                      Block("code", path.read_text(encoding="utf-8").strip("\n"))]
        else:
            key = _key(path)
            if key not in _CACHE:
                t0 = time.perf_counter()
                try:
                    _CACHE[key] = run_example(path)
                except Exception as exc:
                    detail = traceback.format_exc(limit=-3)
                    raise PluginError(f"examples/{path.name} failed: {exc!r}\n{detail}") from exc
                log.info("gallery: ran examples/%s in %.1f s", path.name,
                         time.perf_counter() - t0)
            blocks = _CACHE[key]
        md, images = render(stem, blocks)
        files.append(File.generated(config, f"gallery/{stem}.md", content=md))
        files.append(File.generated(config, f"gallery/{stem}.py",
                                    content=path.read_text(encoding="utf-8")))
        for name, png in images:
            files.append(File.generated(config, f"gallery/{name}", content=png))
        if stem != "tutorial":
            first = f"\n\n[![{stem}]({images[0][0]}){{ width=360 }}]({stem}.md)" if images else ""
            desc = next((b.source for b in blocks if b.kind == "markdown"), "")
            summary = next((p for p in desc.split("\n\n")[1:] if p.strip()), "")
            index += [f"## [{title_of(path)}]({stem}.md)", "", summary + first, ""]
    files.append(File.generated(config, "gallery/index.md", content="\n".join(index)))
    return files
