"""When training stops to write a checkpoint inside an epoch: on a schedule, or because it was asked to.

* :class:`CheckpointEvery` is ``--checkpoint-every``: a number of steps
  (``500``) or a wall-clock interval (``30s``, ``10min``, ``2h``) after which
  the trainer writes the checkpoint inside the epoch.
* :class:`StopSignals` catches SIGTERM and SIGUSR1, what SLURM sends before a
  time limit or a preemption (``#SBATCH --signal=USR1@120``) and what torchrun
  passes on to its workers when it is stopped. The handler only raises a
  flag; the trainer finishes the step it is in, writes a checkpoint and raises
  :class:`~zspace.core.errors.Preempted` (exit status 75). The first Ctrl-C
  (SIGINT) does the same and ends as an interrupt (exit status 130); a second
  one interrupts at once. (A KeyboardInterrupt raised at an arbitrary point
  can land inside ``threading``'s own locking, as it did once in the tests
  while the batch prefetch thread started, and end the process with a
  RuntimeError instead.)

With several processes the decision must be the same on every one, or one
would wait forever in an all-reduce the others never join: each step the
processes sum their flags (a signal seen by any process; the interval measured
by rank 0) and act on the sum.
"""

from __future__ import annotations

import re
import signal
import threading
from dataclasses import dataclass
from types import FrameType
from typing import Any

from zspace.core.errors import ZspaceError

#: the signals that ask training to checkpoint and stop (SIGINT: the first Ctrl-C; a second one stops at once)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1, signal.SIGINT)
#: unit -> seconds for --checkpoint-every
_UNITS = {"s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600}


@dataclass(frozen=True)
class CheckpointEvery:
    """A checkpoint every ``steps`` optimizer steps, or every ``seconds`` of wall-clock time (one of them)."""

    steps: int | None = None
    seconds: float | None = None

    @classmethod
    def parse(cls, spec: str | None) -> "CheckpointEvery | None":
        """``"500"`` -> every 500 steps; ``"30s"``, ``"10min"``, ``"2h"`` -> by time; None -> None."""
        if spec is None:
            return None
        text = str(spec).strip().lower()
        match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|steps?)?", text)
        fix = "give a number of steps (500) or a time (30s, 10min, 2h)"
        if not match:
            raise ZspaceError(f"--checkpoint-every {spec!r} is not understood; {fix}")
        value, unit = float(match.group(1)), match.group(2)
        if unit is None or unit.startswith("step"):
            if value < 1 or value != int(value):
                raise ZspaceError(f"--checkpoint-every {spec!r}: a number of steps must be a whole number >= 1; {fix}")
            return cls(steps=int(value))
        if value <= 0:
            raise ZspaceError(f"--checkpoint-every {spec!r}: the interval must be > 0; {fix}")
        return cls(seconds=value * _UNITS[unit])

    def due(self, step: int, since: float, now: float) -> bool:
        """Whether a checkpoint is due after global step ``step`` (1, 2, ...), the last one written at ``since``."""
        if self.steps is not None:
            return step % self.steps == 0
        return self.seconds is not None and now - since >= self.seconds


class StopSignals:
    """Within ``with StopSignals() as stop:``, SIGTERM and SIGUSR1 set ``stop.received`` (the signal's name)
    instead of ending the process; the previous handlers come back at the end.

    Outside the main thread (where Python cannot install handlers) it does
    nothing and the signals keep their usual effect.
    """

    def __init__(self) -> None:
        self.received: str | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.received = self.received or signal.Signals(signum).name
        if signum == signal.SIGINT:  # the next Ctrl-C interrupts at once (Python's KeyboardInterrupt)
            signal.signal(signal.SIGINT, self._previous.get(signal.SIGINT, signal.default_int_handler))

    def __enter__(self) -> "StopSignals":
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()


__all__ = ["CheckpointEvery", "StopSignals", "STOP_SIGNALS"]
