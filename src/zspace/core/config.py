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
import types
import typing
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
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            nested = _nested_config_type(f)
            if nested is not None and isinstance(values.get(f.name), dict):
                values[f.name] = nested.from_dict(values[f.name], where=f"{where}.{f.name}")
            elif f.name in values and not _matches(values[f.name], hints.get(f.name)):
                raise ZspaceError(f"{where}: key {f.name!r} must be {_type_name(hints[f.name])}, "
                                  f"not {values[f.name]!r}; correct the value")
            elif _is_float_field(hints.get(f.name)) and type(values.get(f.name)) is int:
                values[f.name] = float(values[f.name])  # `fact = 5` in a file is the number 5.0
        try:
            return cls(**values)
        except TypeError as exc:  # a value of the wrong type reaching a comparison in validate()
            raise ZspaceError(f"{where}: {exc}; check the types of the values") from None


def _matches(value: Any, hint: Any) -> bool:
    """Whether a JSON value fits a field's annotation (int, float, str, bool, None, tuples and lists of them).

    Annotations it does not know (nested configs, dicts, Any) accept everything;
    ``validate`` checks those.
    """
    if hint is None or hint is Any:
        return True
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in args)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            return False
        item = args[0] if args else None
        return all(_matches(v, item) for v in value)
    return True


def _is_float_field(hint: Any) -> bool:
    """Whether the annotation is ``float`` or ``float | None``."""
    if hint is float:
        return True
    args = typing.get_args(hint)
    return typing.get_origin(hint) in (typing.Union, types.UnionType) and float in args and int not in args


def _type_name(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in args)
    if hint is type(None):
        return "null"
    if origin in (tuple, list):
        return f"a list of {_type_name(args[0]) if args else 'values'}"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(hint, str(hint))


def _nested_config_type(f: dataclasses.Field) -> type[Config] | None:
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        value = f.default_factory()  # type: ignore[misc]
        return type(value) if isinstance(value, Config) else None
    return type(f.default) if isinstance(f.default, Config) else None


__all__ = ["Config"]
