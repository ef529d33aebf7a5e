"""Device choice and thread settings (torch, OpenMP); the precision of a device is :mod:`zspace.pipeline.precision`."""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch

from zspace.core.cores import available_cores, cores_per_process  # noqa: F401  (available_cores: re-exported)
from zspace.core.errors import ZspaceError

DEVICES = ("auto", "cpu", "cuda", "mps")


def select_device(name: str = "auto") -> torch.device:
    """'auto' picks cuda, then mps, then cpu; an explicit name must be available."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ZspaceError(f"--device {name}: no CUDA GPU is visible to PyTorch; use --device auto or cpu")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ZspaceError("--device mps: Apple's MPS backend is not available here; use --device auto or cpu")
    if name not in DEVICES and not name.startswith("cuda:"):
        raise ZspaceError(f"--device {name!r} is unknown; use one of {', '.join(DEVICES)} or cuda:N")
    return torch.device(name)


def use_all_cores(share_with: int = 1) -> int:
    """Let torch use every core this process may run on (CPU training), shared fairly with ``share_with``
    processes of the same machine that see the same cores; return the thread count."""
    cores = cores_per_process(share_with)
    torch.set_num_threads(cores)
    return cores


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one thread inside the block, restoring the thread count after.

    For many small operations (per-k k-means steps, small MLPs): intra-op
    threads gain nothing there, and on a busy machine their hand-offs cost more
    than the work (measured 10-15x slower on 2 shared cores).
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def one_openmp_thread() -> Iterator[None]:
    """Run OpenMP (scikit-learn's native code) on one thread in the calling thread inside the block, restoring it after.

    For native fits run side by side in worker threads, one per core (the
    boosted trees of DCI in :mod:`zspace.analysis.factors`): OpenMP thread
    counts are per calling thread, so the workers do not race. Without
    threadpoolctl (a scikit-learn dependency) it does nothing.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        yield
        return
    limits = threadpool_limits(limits=1, user_api="openmp")
    try:
        yield
    finally:
        limits.restore_original_limits()
