"""How many CPU cores a process may use (no torch import: the image decoders ask too)."""

from __future__ import annotations

import os

from zspace.core import dist


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity; all CPUs where that is unknown)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def cores_per_process(share_with: int | None = None) -> int:
    """This process's fair share of :func:`available_cores`, at least 1.

    The cores are shared with ``share_with`` processes of the same machine
    that see the same cores; by default the job's processes on this machine
    (``LOCAL_WORLD_SIZE``, set by torchrun, or from SLURM's variables under
    srun; 1 otherwise). A process whose affinity is narrower than the machine
    was bound to its own cores by its launcher (``srun --cpu-bind``, taskset):
    they are all its own, and are not divided again.
    """
    cores = available_cores()
    if cores < (os.cpu_count() or cores):
        return cores
    if share_with is None:
        share_with = dist.local_world_size()
    return max(1, cores // max(1, share_with))
