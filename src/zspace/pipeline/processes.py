"""The process strategy: how many processes train one run, and who does what.

The trainer asks its strategy five things, so that distributed training
(torchrun + DistributedDataParallel) plugs in here without touching the loop:

* ``wrap(model)`` -- the module the forward/backward pass runs through;
* ``shard(order)`` -- this process's part of the epoch's global order;
* ``reduce_sum(tensor)`` -- the sum of a tensor over all processes;
* ``is_writer`` -- whether this process writes files (config, metrics, checkpoints);
* ``barrier()`` -- wait until every process got here.

:class:`SingleProcess` is the only strategy today: everything is the identity,
and the one process writes.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch

from zspace.core import dist
from zspace.core.errors import require


class ProcessStrategy(Protocol):
    """What the trainer needs to know about the processes of a run."""

    rank: int
    world_size: int

    @property
    def is_writer(self) -> bool: ...

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module: ...

    def shard(self, order: np.ndarray) -> np.ndarray: ...

    def reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor: ...

    def barrier(self) -> None: ...


class SingleProcess:
    """One process does everything (the default)."""

    rank = 0
    world_size = 1

    @property
    def is_writer(self) -> bool:
        return True

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        return model

    def shard(self, order: np.ndarray) -> np.ndarray:
        return order

    def reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor

    def barrier(self) -> None:
        return None


def process_strategy() -> ProcessStrategy:
    """The strategy for this process; a multi-process launch is refused until DDP lands."""
    require(dist.world_size() == 1, f"WORLD_SIZE={dist.world_size()}: zspace trains in one process so far; "
                                    "run zspace train without torchrun")
    return SingleProcess()


__all__ = ["ProcessStrategy", "SingleProcess", "process_strategy"]
