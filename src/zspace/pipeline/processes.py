"""The process strategy: how many processes train one run, and who does what.

The trainer asks its strategy seven things, so that the loop reads the same for
one process and for N:

* ``wrap(model)`` -- the module the forward/backward pass runs through
  (:class:`~torch.nn.parallel.DistributedDataParallel` for N processes);
* ``split(batch)`` -- this process's part of one global batch of indices;
* ``reduce_sum(tensor)`` -- the sum of a tensor over all processes;
* ``is_writer`` -- whether this process writes files (config, metrics, checkpoints);
* ``barrier()`` -- wait until every process got here;
* ``gather(array)`` -- rank 0 gets every rank's rows in rank order (encoding);
* ``close()`` -- wait for all, then leave the process group (end of a command).

:class:`SingleProcess` is the default. :class:`Distributed` is chosen when
torchrun started the process (``WORLD_SIZE`` > 1): gloo on CPU, nccl on CUDA,
one GPU per process (``LOCAL_RANK``).

How a global batch of B images is split over N processes: in N contiguous
parts whose sizes differ by at most one (``numpy.array_split``). Each process
scales its mean loss by ``N * part / B`` before backward, and DDP averages the
gradients over processes, so the gradient is that of the mean over the global
batch, whether or not N divides B. A part may be empty (the epoch's last,
short batch with fewer than N images): that process runs an empty forward
pass and contributes zero gradient.
"""

from __future__ import annotations

import datetime
import os
from typing import Protocol

import numpy as np
import torch

from zspace.core import dist
from zspace.core.errors import ZspaceError


class ProcessStrategy(Protocol):
    """What the trainer needs to know about the processes of a run."""

    rank: int
    world_size: int

    @property
    def is_writer(self) -> bool: ...

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module: ...

    def split(self, batch: np.ndarray) -> np.ndarray: ...

    def reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor: ...

    def barrier(self) -> None: ...

    def gather(self, array: np.ndarray) -> list[np.ndarray] | None: ...

    def close(self) -> None: ...


class SingleProcess:
    """One process does everything (the default)."""

    rank = 0
    world_size = 1

    @property
    def is_writer(self) -> bool:
        return True

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        return model

    def split(self, batch: np.ndarray) -> np.ndarray:
        return batch

    def reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor

    def barrier(self) -> None:
        return None

    def gather(self, array: np.ndarray) -> list[np.ndarray] | None:
        return [array]

    def close(self) -> None:
        return None


#: process groups left by :meth:`Distributed.close`, kept until the interpreter exits (see there)
_RETIRED_GROUPS: list = []


class Distributed:
    """This process is one of ``WORLD_SIZE`` started by torchrun; the process group is joined on construction."""

    def __init__(self, device: torch.device) -> None:
        import torch.distributed as td

        self._td = td
        if not td.is_initialized():
            backend = "nccl" if device.type == "cuda" else "gloo"
            timeout = datetime.timedelta(minutes=30)
            store = _restart_store(timeout)
            if store is None:
                td.init_process_group(backend=backend, timeout=timeout)
            else:
                td.init_process_group(backend=backend, store=store, rank=dist.rank(), world_size=dist.world_size(),
                                      timeout=timeout)
        self.rank = td.get_rank()
        self.world_size = td.get_world_size()
        self.device = device

    @property
    def is_writer(self) -> bool:
        return self.rank == 0

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        from torch.nn.parallel import DistributedDataParallel

        if self.device.type == "cuda":
            model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)  # BatchNorm over the global batch
            return DistributedDataParallel(model, device_ids=[self.device.index])
        return DistributedDataParallel(model)  # on CPU each process normalises its own part (plain BatchNorm)

    def split(self, batch: np.ndarray) -> np.ndarray:
        return np.array_split(batch, self.world_size)[self.rank]

    def reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        home = tensor.device
        summed = tensor.detach().to(self.device).clone()
        self._td.all_reduce(summed)
        return summed.to(home)

    def barrier(self) -> None:
        if self.device.type == "cuda":
            self._td.barrier(device_ids=[self.device.index])
        else:
            self._td.barrier()

    def gather(self, array: np.ndarray) -> list[np.ndarray] | None:
        parts: list | None = [None] * self.world_size if self.rank == 0 else None
        self._td.gather_object(array, parts, dst=0)
        return parts

    def close(self) -> None:
        """Wait for every process, then leave the process group (a process exiting first would abort the others).

        The group object itself is kept (:data:`_RETIRED_GROUPS`) so that the
        last owner of the gloo group is never a DistributedDataParallel's
        Reducer: freed from there, the group's destructor joins its worker
        threads while holding the GIL, and a worker still freeing a finished
        all-reduce (whose tensors need the GIL) then waits forever. Released
        through its Python object instead, the destructor lets the GIL go
        (seen as a rare hang at the end of `zspace train` under torchrun).
        """
        if self._td.is_initialized():
            self.barrier()
            _RETIRED_GROUPS.append(self._td.group.WORLD)
            self._td.destroy_process_group()


def _restart_store(timeout: datetime.timedelta):
    """torchrun's agent store with keys of this restart's own (``zspace/attempt_<TORCHELASTIC_RESTART_COUNT>/``),
    or None where torchrun does not share its store with the workers.

    torchrun keeps one store for every restart of its workers, and the process
    group's keys carry no attempt number: a worker restarted by
    ``--max-restarts`` could read the address a dead worker of the previous
    attempt published, and fail with "Gloo connectFullMesh failed ...
    Connection refused" (seen in the restart test, about one run in two).
    """
    import torch.distributed as td

    if os.environ.get("TORCHELASTIC_USE_AGENT_STORE") != "True":
        return None
    agent = td.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), dist.world_size(),
                        is_master=False, timeout=timeout)
    return td.PrefixStore(f"zspace/attempt_{os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')}", agent)


def process_device(device: torch.device) -> torch.device:
    """The device of this process: under torchrun (or srun) on CUDA, GPU ``LOCAL_RANK``; else ``device`` itself.

    A process that sees a single GPU uses it whatever its LOCAL_RANK (``srun
    --gpus-per-task=1`` gives each task its own GPU as device 0).
    """
    dist.adopt_slurm_environment()
    if dist.world_size() > 1 and device.type == "cuda":
        local = int(os.environ.get("LOCAL_RANK", "0"))
        visible = torch.cuda.device_count()
        if visible == 1:
            local = 0
        elif local >= visible:
            raise ZspaceError(f"LOCAL_RANK={local} but only {visible} GPUs are visible; start at most that many "
                              f"processes per machine (--nproc-per-node), or one GPU per task (srun --gpus-per-task=1)")
        torch.cuda.set_device(local)
        return torch.device("cuda", local)
    return device


def process_strategy(device: torch.device) -> ProcessStrategy:
    """:class:`Distributed` when torchrun (or srun) started this process with WORLD_SIZE > 1, else
    :class:`SingleProcess`."""
    dist.adopt_slurm_environment()
    if dist.world_size() == 1:
        return SingleProcess()
    if device.type == "mps":
        raise ZspaceError("several processes on MPS are not supported by PyTorch; train with one process")
    return Distributed(device)


def shard_rows(n: int, strategy: ProcessStrategy) -> slice:
    """This process's contiguous share of rows 0..n-1: the rule of :meth:`Distributed.split` (``numpy.array_split``,
    the first ``n % world_size`` shares one row longer)."""
    size, extra = divmod(n, strategy.world_size)
    start = strategy.rank * size + min(strategy.rank, extra)
    return slice(start, start + size + (strategy.rank < extra))


__all__ = ["ProcessStrategy", "SingleProcess", "Distributed", "process_device", "process_strategy", "shard_rows"]
