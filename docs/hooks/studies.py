"""mkdocs hook: the built-in studies, read from ``src/layerflow/configs/*.yaml`` at build time.

``docs/studies.md`` holds the marker ``<!-- studies -->``; it is replaced by one section per
built-in config: its name, the comment block that opens the YAML (each config describes itself
there), the command that runs it, and the config itself (folded). A study added to the configs
folder appears on the page with no edit here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "src" / "layerflow" / "configs"
MARKER = "<!-- studies -->"


def describe(path: Path) -> str:
    """The Markdown section of one built-in config."""
    text = path.read_text(encoding="utf-8")
    comment: list[str] = []
    for ln in text.splitlines():
        if not ln.startswith("#"):
            break
        comment.append(ln[2:] if ln.startswith("# ") else ln[1:])
    name = path.stem
    command = "layerflow run" if name == "default" else f"layerflow run {name}"
    folded = ["    " + ln if ln else "" for ln in text.splitlines()]
    return "\n".join([
        f"## `{name}`", "", "\n".join(comment).strip(), "",
        "```bash", f"{command} --out results/{name}", "```", "",
        f'??? note "The config ({path.name})"', "", "    ```yaml", *folded, "    ```", "",
    ])


def studies_markdown() -> str:
    return "\n".join(describe(p) for p in sorted(CONFIGS.glob("*.yaml")))


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if MARKER in markdown:
        return markdown.replace(MARKER, studies_markdown())
    return markdown
