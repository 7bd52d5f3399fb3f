"""Reading sweep configs safely: YAML with ``yaml.safe_load`` semantics (no Python tags, no
duplicate keys, ``1e-3`` read as a number) and the built-in configs shipped with the package."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from layerflow._errors import ConfigError
from layerflow._studies import builtin_configs as builtin_configs
from layerflow._suggest import did_you_mean


# ----------------------------------------------------------------------------- YAML reading
class _StrictLoader(yaml.SafeLoader):  # type: ignore[misc, unused-ignore]  # yaml: no types
    """``yaml.SafeLoader`` that refuses duplicate keys and reads ``1e-3`` as a float."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            mark = key_node.start_mark
            raise ConfigError(
                str(key), f"duplicate key at line {mark.line + 1}; each key may appear once"
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping
)
# YAML 1.1 needs a dot in floats ("1.0e-3"); accept the usual "1e-3" too.
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+][0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def parse_yaml(text: str, source: str = "<string>") -> Any:
    """Parse YAML text safely (no tags that build Python objects; no duplicate keys)."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # a yaml.SafeLoader subclass
    except yaml.constructor.ConstructorError as exc:
        raise ConfigError(
            "", f"{source}: refused YAML ({exc.problem}); configs may only hold plain mappings, "
            "lists, strings and numbers (yaml.safe_load)"
        ) from exc
    except yaml.YAMLError as exc:
        raise ConfigError("", f"{source}: not valid YAML: {exc}") from exc


# ----------------------------------------------------------------------------- built-ins
def resolve_source(source: str | Path) -> tuple[str, str]:
    """A YAML path or a built-in name -> (text, description)."""
    path = Path(source)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise ConfigError("", f"config file {str(path)!r} does not exist")
        return path.read_text(encoding="utf-8"), str(path)
    builtins = builtin_configs()
    if str(source) in builtins:
        return builtins[str(source)].read_text(encoding="utf-8"), f"built-in {source!r}"
    raise ConfigError(
        "", f"config {str(source)!r} is neither a YAML file nor a built-in config"
        f"{did_you_mean(str(source), builtins)}; built-ins: "
        f"{sorted(builtins)}"
    )
