"""Where the time went: wall-clock seconds per named stage, counted once even when stages nest.

A caller that wants the times opens a :class:`StageTimes` with :func:`collect`;
code anywhere below it marks its work with ``with stage("encode"):``. Each
stage gets its *own* time: while a nested stage runs, the outer one's clock
is paused, so the stages of one collection add up to the collection's wall
time (what is not inside any stage is counted as ``other``). Without an open
collection :func:`stage` costs one context-variable lookup and records nothing,
so library code can mark its stages unconditionally.

    with timing.collect() as times:
        with timing.stage("train"):
            ...
    times.seconds  # {"train": 41.2, "other": 0.3}

The collection is a context variable: threads and asyncio tasks started
inside it do not report into it (their time is part of the stage that waits
for them).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, TypeVar

F = TypeVar("F", bound=Callable[..., Any])
_CURRENT: contextvars.ContextVar["StageTimes | None"] = contextvars.ContextVar("zspace_stage_times", default=None)


@dataclass
class StageTimes:
    """Own wall-clock seconds per stage name, and the collection's total (both in seconds)."""

    seconds: dict[str, float] = field(default_factory=dict)
    total: float = 0.0
    _stack: list[list] = field(default_factory=list, repr=False)

    def add(self, name: str, seconds: float) -> None:
        """Add ``seconds`` of own time to stage ``name``."""
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds

    def rounded(self, digits: int = 1) -> dict[str, float]:
        """The stages (and ``other``, the time outside every stage) rounded for JSON, in first-seen order."""
        out = {name: round(s, digits) for name, s in self.seconds.items()}
        out["other"] = round(max(self.total - sum(self.seconds.values()), 0.0), digits)
        return out


@contextlib.contextmanager
def collect() -> Iterator[StageTimes]:
    """Record the stages run inside this block into a new :class:`StageTimes` (nested collections each get
    their own; an inner collection's time counts as the outer stage that contains it)."""
    times = StageTimes()
    token = _CURRENT.set(times)
    start = time.perf_counter()
    try:
        yield times
    finally:
        times.total = time.perf_counter() - start
        _CURRENT.reset(token)


@contextlib.contextmanager
def stage(name: str) -> Iterator[None]:
    """Count the wall time of this block as stage ``name`` of the open collection (no-op without one).

    Time spent in stages nested inside counts for them, not for ``name``.
    """
    times = _CURRENT.get()
    if times is None:
        yield
        return
    frame = [name, time.perf_counter(), 0.0]  # name, start, time of nested stages
    times._stack.append(frame)
    try:
        yield
    finally:
        times._stack.pop()
        elapsed = time.perf_counter() - frame[1]
        times.add(name, elapsed - frame[2])
        if times._stack:
            times._stack[-1][2] += elapsed


def timed(name: str) -> Callable[[F], F]:
    """Decorator: every call of the function counts as stage ``name`` (see :func:`stage`)."""
    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with stage(name):
                return fn(*args, **kwargs)
        return wrapper  # type: ignore[return-value]
    return decorate


__all__ = ["StageTimes", "collect", "stage", "timed"]
