"""Named kill points for the fault-injection tests (the kill soak).

Production code marks the moments where a crash is most dangerous (between
writing a checkpoint's files and renaming its directory, between the rename
and ``latest.json``, inside a batch, ...) with ``faults.point("name")``. When
the environment variable ``ZSPACE_KILL_AT`` is ``NAME:N``, the process sends
itself SIGKILL the N-th time it reaches point NAME: the same death as an
out-of-memory kill or a pulled plug, at a chosen place. Unset (always, outside
the tests) a point costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

ENV = "ZSPACE_KILL_AT"

_hits: dict[str, int] = {}


def point(name: str) -> None:
    """Kill this process with SIGKILL if ``ZSPACE_KILL_AT`` names this point and hit count."""
    spec = os.environ.get(ENV)
    if not spec:
        return
    target, _, count = spec.rpartition(":")
    if target != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] == int(count):
        os.kill(os.getpid(), signal.SIGKILL)
