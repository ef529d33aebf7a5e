"""One convention for every configuration dataclass.

* Checked on construction: ``__post_init__`` calls :meth:`Config.validate`, so
  a config object that exists is a valid one.
* :meth:`Config.from_dict` refuses unknown keys by name and lists the
  accepted ones (a typo in a config file is an error, never silently dropped).
* Seeds are not fields of the per-analysis configs: a seed is set once at the
  entry point (``TrainConfig.seed``, the ``seed`` argument of ``run_battery``,
  ``ReportConfig.seed``, ``DemoConfig.seed``) and passed down as an argument.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from zspace.core.errors import ZspaceError, require
from zspace.core.io import to_jsonable

C = TypeVar("C", bound="Config")


@dataclasses.dataclass
class Config:
    """Base of the configuration dataclasses (see the module docstring)."""

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`~zspace.core.errors.ZspaceError` naming the field and the fix; nothing by default."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every field (nested configs as dicts, tuples as lists)."""
        return to_jsonable(dataclasses.asdict(self))

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_dict(cls: type[C], data: dict[str, Any], where: str | None = None) -> C:
        """Build from a dict (e.g. read from JSON); unknown keys are an error naming them.

        Values of fields that hold a nested :class:`Config` may be dicts.
        """
        where = where or f"{cls.__name__}"
        require(isinstance(data, dict), f"{where}: expected a mapping of options, got {type(data).__name__}")
        names = cls.field_names()
        unknown = sorted(set(data) - set(names))
        require(not unknown, f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; "
                             f"accepted: {', '.join(names)}")
        values = dict(data)
        for f in dataclasses.fields(cls):
            nested = _nested_config_type(f)
            if nested is not None and isinstance(values.get(f.name), dict):
                values[f.name] = nested.from_dict(values[f.name], where=f"{where}.{f.name}")
        try:
            return cls(**values)
        except TypeError as exc:  # a value of the wrong type reaching a comparison in validate()
            raise ZspaceError(f"{where}: {exc}; check the types of the values") from None


def _nested_config_type(f: dataclasses.Field) -> type[Config] | None:
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        value = f.default_factory()  # type: ignore[misc]
        return type(value) if isinstance(value, Config) else None
    return type(f.default) if isinstance(f.default, Config) else None


__all__ = ["Config"]
