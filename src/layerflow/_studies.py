"""The built-in studies: ``src/layerflow/configs/*.yaml``, each describing itself in the comment
block that opens it. Light on purpose (no import beyond the standard library), so ``layerflow run
--help`` can list the studies at once."""

from __future__ import annotations

import importlib.resources
import re
from pathlib import Path


def builtin_configs() -> dict[str, Path]:
    """Built-in config names -> their YAML files (``src/layerflow/configs/*.yaml``), by name."""
    root = importlib.resources.files("layerflow") / "configs"
    out: dict[str, Path] = {}
    try:
        entries = list(root.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return out
    for entry in entries:
        if entry.name.endswith(".yaml"):
            out[entry.name[: -len(".yaml")]] = Path(str(entry))
    return dict(sorted(out.items()))


def study_description(path: Path) -> str:
    """A study's one line: the opening comment's first clause after ``NAME:`` (up to the first
    full stop that ends a sentence, or the first parenthesis), e.g. ``"the low-data study of Karkar et al. 2020"``."""
    words: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        words.append(line.lstrip("#").strip())
    text = " ".join(w for w in words if w)
    text = re.sub(rf"^{re.escape(path.stem)}\s*:\s*", "", text)
    clause = re.split(r"\.(?=\s+[A-Z]|$)|\s\(", text, maxsplit=1)[0].strip()
    return clause or "(no description)"
