"""Read a configuration file (TOML, YAML or JSON) into a plain mapping.

The format follows the file's suffix: ``.toml``, ``.yaml``/``.yml`` or
``.json``. Every error is one line that names the file (and the line where the
parser knows it) and the fix. YAML is read with ``safe_load`` (no Python
objects), with one change to YAML 1.1's number rules: ``1e-5`` is a float, as
every researcher writing a KL weight expects, not the string ``"1e-5"``.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from zspace.core.errors import ZspaceError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

#: suffix -> format name
CONFIG_FORMATS = {".toml": "toml", ".yaml": "yaml", ".yml": "yaml", ".json": "json"}


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The top-level mapping of the TOML, YAML or JSON file at ``path``."""
    path = Path(path)
    kind = CONFIG_FORMATS.get(path.suffix.lower())
    if kind is None:
        raise ZspaceError(f"config file {path}: unknown suffix {path.suffix or '(none)'!r}; "
                          f"name it {', '.join(sorted(CONFIG_FORMATS))}")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ZspaceError(f"config file {path} does not exist; check the path given to --config") from None
    except IsADirectoryError:
        raise ZspaceError(f"config file {path} is a directory; give a .toml, .yaml or .json file "
                          f"(a run's own is RUN_DIR/config.json)") from None
    except UnicodeDecodeError:
        raise ZspaceError(f"config file {path} is not UTF-8 text; save it as UTF-8") from None
    data = _PARSERS[kind](text, path)
    if not isinstance(data, dict):
        shown = "empty" if data is None else f"a {type(data).__name__}"
        raise ZspaceError(f"config file {path}: the top level is {shown}; it must be a mapping of sections "
                          f"such as model and train")
    return data


def _parse_toml(text: str, path: Path) -> Any:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ZspaceError(f"config file {path} is not valid TOML ({exc}); fix the file") from None


def _parse_json(text: str, path: Path) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ZspaceError(f"config file {path} is not valid JSON ({exc}); fix the file") from None


def _parse_yaml(text: str, path: Path) -> Any:
    import yaml

    try:
        return yaml.load(text, Loader=_yaml_loader())  # a SafeLoader: plain data only
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ZspaceError(f"config file {path} is not valid YAML{where} ({problem}); fix the file") from None


_PARSERS = {"toml": _parse_toml, "json": _parse_json, "yaml": _parse_yaml}

#: YAML 1.2's float syntax (exponent without a dot allowed), plus .inf and .nan
_YAML_FLOAT = re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""", re.X)


def _yaml_loader():
    import yaml

    class Loader(yaml.SafeLoader):
        """SafeLoader that reads ``1e-5`` as a float."""

    Loader.yaml_implicit_resolvers = {k: list(v) for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    Loader.add_implicit_resolver("tag:yaml.org,2002:float", _YAML_FLOAT, list("-+0123456789."))
    return Loader


__all__ = ["CONFIG_FORMATS", "read_config_file"]
