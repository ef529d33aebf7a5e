"""One registry type for every "name -> entry" table of zspace.

Data sources, model kinds, losses, precisions, splits, samplers, analyses,
figures, subcommands and factor importance models are each a
:class:`Registry`: a mapping from a name (what the user types, e.g. in
``--model vae``) to its entry (a class, a function, a description), kept in
registration order (the order of ``--help`` and of the battery).

* ``REG.add(name, entry)`` or the decorator ``@REG.register(name)`` adds an
  entry; a name registered twice is an error (two modules claiming one name
  would otherwise silently shadow each other).
* ``REG.lookup(name)`` returns the entry or raises a one-line
  :class:`~zspace.core.errors.ZspaceError`: ``unknown X 'name'; choose one of
  a, b, c``.
* ``REG.names()`` lists the names; ``REG.choices(*extra)`` is a live view of
  the names (plus fixed extra words such as ``"auto"``) for argparse's
  ``choices=``: argparse tests a value with ``in`` and lists the names by
  iterating, so an entry registered later (a plugin, a test) is accepted too.
* Everything else is the ordinary mapping protocol (``in``, ``[]``,
  iteration, ``.get``, ``.items()``, ``sorted(REG)``). Assigning with
  ``REG[name] = entry`` replaces an entry on purpose (``monkeypatch.setitem``
  in tests); only ``add``/``register`` refuse a taken name.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from typing import Callable, Generic, TypeVar

from zspace.core.errors import ZspaceError

T = TypeVar("T")
E = TypeVar("E")


class Registry(MutableMapping[str, T], Generic[T]):
    """Name -> entry, in registration order.

    Parameters
    ----------
    what : str
        What one entry is, in words ("model kind", "sampler"): used in the
        error messages.
    entries : mapping, optional
        Initial entries, added in their order with :meth:`add`.
    """

    def __init__(self, what: str, entries: Mapping[str, T] | None = None) -> None:
        self.what = what
        self._entries: dict[str, T] = {}
        for name, entry in (entries or {}).items():
            self.add(name, entry)

    # -- adding ------------------------------------------------------------
    def add(self, name: str, entry: E) -> E:
        """Register ``entry`` under ``name`` and return it; a name already taken raises ZspaceError."""
        if name in self._entries:
            raise ZspaceError(f"{self.what} {name!r} is registered twice (already {self._entries[name]!r}); "
                              "give the new one another name")
        self._entries[name] = entry  # type: ignore[assignment]
        return entry

    def register(self, name: str) -> Callable[[E], E]:
        """Decorator: ``@REG.register("name")`` adds the decorated class or function under ``name``."""
        def add(entry: E) -> E:
            return self.add(name, entry)
        return add

    # -- reading -----------------------------------------------------------
    def lookup(self, name: str, context: str = "") -> T:
        """The entry of ``name``; otherwise ZspaceError ``[context: ]unknown <what> 'name'; choose one of ...``."""
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            prefix = f"{context}: " if context else ""
            raise ZspaceError(f"{prefix}unknown {self.what} {name!r}; choose one of {', '.join(self._entries)}") \
                from None

    def names(self) -> list[str]:
        """Every registered name, in registration order."""
        return list(self._entries)

    def choices(self, *extra: str) -> "Choices":
        """A live view of the names, then ``extra``: argparse's ``choices=`` (see the module docstring)."""
        return Choices(self, extra)

    # -- the mapping protocol ----------------------------------------------
    def __getitem__(self, name: str) -> T:
        return self._entries[name]

    def __setitem__(self, name: str, entry: T) -> None:
        self._entries[name] = entry

    def __delitem__(self, name: str) -> None:
        del self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.what!r}: {', '.join(self._entries)})"


class Choices:
    """The names of a :class:`Registry` followed by fixed extra words, read at each use (never copied)."""

    def __init__(self, registry: Registry, extra: tuple[str, ...] = ()) -> None:
        self.registry = registry
        self.extra = tuple(extra)

    def __iter__(self) -> Iterator[str]:
        yield from self.registry
        yield from (word for word in self.extra if word not in self.registry)

    def __contains__(self, name: object) -> bool:
        return name in self.registry or name in self.extra

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __repr__(self) -> str:
        return f"Choices({', '.join(self)})"


__all__ = ["Registry", "Choices"]
