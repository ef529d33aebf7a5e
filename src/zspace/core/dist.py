"""Rank awareness for multi-process (torchrun / DDP) runs.

These helpers read the environment that torchrun sets (``RANK``,
``WORLD_SIZE``, ``LOCAL_WORLD_SIZE``), so that logging, progress bars and file
writes happen on rank 0 only; the process group itself is joined by
:mod:`zspace.pipeline.processes`.
"""

from __future__ import annotations

import os


def rank() -> int:
    """Global rank of this process (0 when not launched by torchrun)."""
    return int(os.environ.get("RANK", "0"))


def world_size() -> int:
    """Number of processes in the job (1 when not launched by torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def local_world_size() -> int:
    """Number of processes of the job on this machine (1 when not launched by torchrun)."""
    return int(os.environ.get("LOCAL_WORLD_SIZE", "1"))


def is_main_process() -> bool:
    """True on the process that logs, draws progress bars and writes files."""
    return rank() == 0
