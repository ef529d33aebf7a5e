"""Rank awareness for multi-process (torchrun / DDP) runs.

zspace runs single-process today; these helpers read the environment that
torchrun sets so that logging, progress bars and file writes already happen on
rank 0 only, and a DDP trainer can be added without touching the callers.
"""

from __future__ import annotations

import os


def rank() -> int:
    """Global rank of this process (0 when not launched by torchrun)."""
    return int(os.environ.get("RANK", "0"))


def world_size() -> int:
    """Number of processes in the job (1 when not launched by torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    """True on the process that logs, draws progress bars and writes files."""
    return rank() == 0
