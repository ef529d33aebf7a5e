"""Named kill points for the fault-injection tests (the kill soak, the cluster tests).

Production code marks the moments where a crash is most dangerous (between
writing a checkpoint's files and renaming its directory, between the rename
and ``latest.json``, inside a batch, ...) with ``faults.point("name")``. When
the environment variable ``ZSPACE_KILL_AT`` is ``NAME:N``, the process sends
itself SIGKILL the N-th time it reaches point NAME: the same death as an
out-of-memory kill or a pulled plug, at a chosen place. Unset (always, outside
the tests) a point costs one dictionary lookup.

Three refinements, for jobs of several processes and for preemption:

* ``NAME:N@R`` kills only the process of rank R (``RANK``; 0 when unset);
* ``ZSPACE_KILL_SIGNAL=TERM`` (or ``USR1``, ...) sends that signal instead of
  SIGKILL: what SLURM sends before a time limit or a preemption;
* ``ZSPACE_KILL_ONCE=FILE``: the first process to reach the point creates FILE
  (``O_EXCL``) and is killed; every process that finds FILE there already goes
  on. A job that torchrun restarts with the same environment dies only once.
"""

from __future__ import annotations

import os
import signal

ENV = "ZSPACE_KILL_AT"
SIGNAL_ENV = "ZSPACE_KILL_SIGNAL"
ONCE_ENV = "ZSPACE_KILL_ONCE"

_hits: dict[str, int] = {}


def _first_to_claim(marker: str) -> bool:
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    except FileExistsError:
        return False
    return True


def point(name: str) -> None:
    """Signal this process (SIGKILL unless ``ZSPACE_KILL_SIGNAL``) if ``ZSPACE_KILL_AT`` names this point and hit."""
    spec = os.environ.get(ENV)
    if not spec:
        return
    spec, _, rank = spec.partition("@")
    target, _, count = spec.rpartition(":")
    if target != name or (rank and int(rank) != int(os.environ.get("RANK", "0"))):
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] != int(count):
        return
    marker = os.environ.get(ONCE_ENV)
    if marker and not _first_to_claim(marker):
        return
    os.kill(os.getpid(), getattr(signal, "SIG" + os.environ.get(SIGNAL_ENV, "KILL").upper()))
