"""The documentation: the tutorial runs, the build hooks do what they say, and the whole site
builds with ``mkdocs build --strict`` with no network (skipped where mkdocs is not installed)."""

from __future__ import annotations

import importlib.util
import logging
import os
import subprocess
import sys
import traceback
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_docs_{name}", ROOT / "docs" / "hooks"
                                                  / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _env() -> dict[str, str]:
    # tiny networks train fastest on one thread (a pool only adds contention on a busy machine)
    return {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg",
            "PYTHONPATH": str(ROOT / "src")}


def test_tutorial_runs_offline_with_warnings_as_errors(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-W", "error", str(EXAMPLES / "tutorial.py")],
                         cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "kinetic energy" in out.stdout and "path length" in out.stdout


def test_every_example_is_a_percent_script_with_a_title() -> None:
    gallery = _load("gallery")
    paths = gallery.examples()
    assert {p.stem for p in paths} >= {"tutorial", "residual_vs_plain", "ricci_flow",
                                       "least_action", "quickstart"}
    for path in paths:
        cells = gallery.split_cells(path.read_text(encoding="utf-8"))
        assert cells[0].kind == "markdown", path.name
        assert cells[0].source.startswith("# "), path.name
        assert gallery.title_of(path) == cells[0].source.splitlines()[0][2:], path.name


_SCRIPT = '''\
# %% [markdown]
# # A title
#
# Some *text*.

# %%
import matplotlib.pyplot as plt
import numpy as np
print("hello")
x = np.arange(4.0)

# %%
plt.plot(x, x ** 2)
x.sum()

# %%
class Shown:
    def _repr_html_(self):
        return "<b>html</b>"


Shown()
'''


def test_gallery_cells_run_in_one_namespace_and_keep_what_they_show(tmp_path: Path) -> None:
    gallery = _load("gallery")
    path = tmp_path / "demo.py"
    path.write_text(_SCRIPT)
    cells = gallery.split_cells(_SCRIPT)
    assert [c.kind for c in cells] == ["markdown", "code", "code", "code"]
    assert cells[0].source == "# A title\n\nSome *text*."
    assert [c.line for c in cells[1:]] == [7, 13, 17]
    blocks = gallery.run_example(path)
    assert blocks[1].stdout == "hello\n" and blocks[1].figures == []
    assert blocks[2].display == "np.float64(6.0)" and not blocks[2].display_is_html
    assert len(blocks[2].figures) == 1 and blocks[2].figures[0][:8] == b"\x89PNG\r\n\x1a\n"
    assert blocks[3].display == "<b>html</b>" and blocks[3].display_is_html
    md, images = gallery.render("demo", blocks)
    assert [name for name, _ in images] == ["demo_1.png"]
    assert "![demo, figure 1](demo_1.png)" in md
    assert '<div class="lf-output"><b>html</b></div>' in md
    assert md.startswith("# A title")


def test_gallery_script_without_cells_is_one_cell_after_its_docstring() -> None:
    gallery = _load("gallery")
    cells = gallery.split_cells('"""Title line.\n\nMore."""\nprint(1)\n')
    assert [(c.kind, c.source) for c in cells] == [
        ("markdown", "Title line.\n\nMore."),
        ("code", '"""Title line.\n\nMore."""\nprint(1)'),
    ]


def test_gallery_reports_the_example_that_fails(tmp_path: Path) -> None:
    gallery = _load("gallery")
    path = tmp_path / "bad.py"
    path.write_text("# %%\nx = 1\n\n# %%\nraise ValueError('stale example')\n")
    with pytest.raises(ValueError, match="stale example") as info:
        gallery.run_example(path)
    frames = traceback.extract_tb(info.value.__traceback__)
    assert (frames[-1].filename, frames[-1].lineno) == (str(path), 5)  # the line in the file


def test_studies_page_is_read_from_the_configs() -> None:
    studies = _load("studies")
    configs = sorted((ROOT / "src" / "layerflow" / "configs").glob("*.yaml"))
    md = studies.studies_markdown()
    for path in configs:
        assert f"## `{path.stem}`" in md
        first_comment = path.read_text().splitlines()[0][2:]
        assert first_comment in md
    assert "layerflow run --out results/default" in md
    assert "layerflow run paper-ricci --out results/paper-ricci" in md
    page = studies.on_page_markdown("intro\n\n<!-- studies -->\n", None, None, None)
    assert page.startswith("intro") and "<!-- studies -->" not in page


def test_rst_roles_become_links_code_or_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    griffe = pytest.importorskip("griffe")
    roles = _load("rst_roles")
    pkg = griffe.load("layerflow", search_paths=[str(ROOT / "src")])
    rendered = roles.rendered_paths(pkg, ["layerflow.transport", "layerflow.Trajectory"])
    assert "layerflow.transport.line_shape_score" in rendered
    assert "layerflow.transport._lss.line_shape_score" in rendered  # the canonical path too
    assert "layerflow.transport.LineShapeResult.per_sample" in rendered
    assert "layerflow.transport._lss.unit_steps" not in rendered  # not exported
    ots = pkg["transport._ots.ot_score"]
    text = (":func:`line_shape_score` :class:`~layerflow.Trajectory` "
            ":func:`~layerflow.transport._ots.resolve_m` :func:`scipy.optimize.linear_sum_assignment` "
            ":func:`no_such_function`\n\n.. math::  a = b\n            + c\n\nAfter::")
    with caplog.at_level(logging.WARNING, logger="mkdocs.hooks.rst_roles"):
        out = roles.rewrite(pkg["transport._lss.line_shape_score"], pkg, text, rendered)
        roles.rewrite(ots, pkg, ":func:`resolve_m`", rendered)
    assert out.split("\n")[0] == (
        "[`line_shape_score`][layerflow.transport._lss.line_shape_score] "
        "[`Trajectory`][layerflow.Trajectory] `resolve_m` `scipy.optimize.linear_sum_assignment` "
        "`no_such_function`")
    assert "```text\na = b\n+ c\n```" in out and out.endswith("After:")
    warned = [r.getMessage() for r in caplog.records]
    assert warned == ["layerflow.transport._lss.line_shape_score: the docstring names "
                      "'no_such_function', which is nothing in scope there"]


def test_api_pages_name_every_claim_figure_and_view() -> None:
    from layerflow.report.figures import FIGURES
    from layerflow.stats.claims import CLAIMS
    from layerflow.views import VIEWS

    stats = (ROOT / "docs" / "api" / "stats.md").read_text(encoding="utf-8")
    assert all(f"| `{key}` |" in stats for key in CLAIMS), [k for k in CLAIMS
                                                            if f"`{k}`" not in stats]
    report = (ROOT / "docs" / "api" / "report.md").read_text(encoding="utf-8")
    assert all(f"| `{spec.name}` |" in report for spec in FIGURES)
    views = (ROOT / "docs" / "api" / "views.md").read_text(encoding="utf-8")
    assert all(f"`{name}`" in views for name in VIEWS)


@pytest.mark.skipif(importlib.util.find_spec("mkdocs") is None,
                    reason="mkdocs is not installed (pip install -e '.[docs]')")
def test_site_builds_strictly_and_offline(tmp_path: Path) -> None:
    # every socket refuses to connect: a plugin or hook that fetches anything fails the build
    code = (
        "import socket, sys\n"
        "def _offline(*a, **k):\n"
        "    raise OSError('network access during the docs build')\n"
        "socket.socket.connect = _offline\n"
        "socket.create_connection = _offline\n"
        "socket.getaddrinfo = _offline\n"
        "from mkdocs.__main__ import cli\n"
        "sys.argv = ['mkdocs', 'build', '--strict', '--site-dir', sys.argv[1]]\n"
        "cli()\n"
    )
    site = tmp_path / "site"
    env = {**_env(), "NO_MKDOCS_2_WARNING": "1"}
    out = subprocess.run([sys.executable, "-c", code, str(site)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-5000:]
    assert "WARNING" not in out.stderr
    tutorial = (site / "gallery" / "tutorial" / "index.html").read_text()
    n_figures = tutorial.count('src="../tutorial_')
    assert n_figures >= 10, n_figures
    assert all((site / "gallery" / f"tutorial_{i}.png").stat().st_size > 1000
               for i in range(1, n_figures + 1))
    api = (site / "api" / "transport" / "index.html").read_text()
    assert 'id="layerflow.transport.line_shape_score"' in api
    plot_api = (site / "api" / "plot" / "index.html").read_text()
    assert 'id="layerflow.plot.tracks"' in plot_api
    assert 'id="layerflow.plot.layer_curve"' in plot_api
    for page, anchor in (("views", "layerflow.views.View"), ("stats", "layerflow.stats.claims.verdict"),
                         ("stats", "layerflow.stats.mean_interval"),
                         ("report", "layerflow.report.render_report"),
                         ("report", "layerflow.report.figures.FIGURES")):
        assert f'id="{anchor}"' in (site / "api" / page / "index.html").read_text(), anchor
    studies = (site / "studies" / "index.html").read_text()
    assert "layerflow run paper-ricci" in studies
    home = (site / "index.html").read_text()
    assert "fonts.googleapis" not in home
    # the nav lists each page once, and code blocks wrap instead of being cut off
    assert home.count('href="architecture/"') == 1, home.count('href="architecture/"')
    css = (site / "stylesheets" / "extra.css").read_text()
    assert "pre-wrap" in css and 'stylesheets/extra.css' in home
    assert np.all([(site / "gallery" / f"{p.stem}.py").exists() for p in EXAMPLES.glob("*.py")])


def test_the_nav_lists_architecture_once_and_code_blocks_wrap() -> None:
    import yaml

    gallery = _load("gallery")
    text = (ROOT / "mkdocs.yml").read_text()
    nav = yaml.safe_load(text.split("\nnav:\n", 1)[1].join(["nav:\n", ""]))["nav"]
    config = gallery.on_config({"nav": nav, "docs_dir": str(ROOT / "docs")})
    pages = [v for e in config["nav"] if isinstance(e, dict) for v in e.values()]
    assert pages.count("architecture.md") == 1
    assert gallery.on_config({"nav": [{"Home": "index.md"}], "docs_dir": str(ROOT / "docs")})[
        "nav"] == [{"Home": "index.md"}, {"Architecture": "architecture.md"}]
    assert "stylesheets/extra.css" in text
    assert "white-space: pre-wrap" in (ROOT / "docs" / "stylesheets" / "extra.css").read_text()
