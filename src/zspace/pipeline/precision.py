"""The precision policy: in which dtype a device computes a training or inference step.

A :class:`Precision` says which autocast dtype the forward pass uses (None =
plain float32) and whether the loss needs a gradient scaler (float16 only).
Weights, optimizer state and checkpoints always stay float32; losses are
summed in float32 or float64 (:mod:`zspace.pipeline.losses`).

:func:`resolve_precision` holds the rule that picks one for a device. Today's
rule is the ``--amp`` flag: bfloat16 autocast on CUDA GPUs that support it,
float16 with a scaler on other CUDA GPUs, and float32 elsewhere. A new mode
(e.g. bf16 on CPUs with native bf16) is a new entry of :data:`PRECISIONS`
and a branch of that one function.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import ContextManager

import torch

from zspace.core.log import get_logger

log = get_logger(__name__)

#: precision name -> autocast dtype (None: float32 without autocast)
PRECISIONS: dict[str, torch.dtype | None] = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class Precision:
    """How one device computes.

    Attributes
    ----------
    name : str
        A key of :data:`PRECISIONS`.
    device_type : str
        ``cpu``, ``cuda`` or ``mps``.
    """

    name: str
    device_type: str

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        """The dtype of autocast regions, None for plain float32."""
        return PRECISIONS[self.name]

    def autocast(self) -> ContextManager:
        """The context in which forward passes run."""
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device_type, dtype=self.autocast_dtype)

    def grad_scaler(self) -> torch.amp.GradScaler:
        """A gradient scaler, enabled only for float16 (whose small exponent underflows gradients)."""
        return torch.amp.GradScaler(self.device_type, enabled=self.autocast_dtype == torch.float16)


def cuda_amp_dtype() -> torch.dtype:
    """bfloat16 where the CUDA GPU supports it, else float16."""
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def resolve_precision(device: torch.device, amp: bool = False) -> Precision:
    """The precision of ``device``: mixed (``amp``) on CUDA, float32 everywhere else."""
    if not amp:
        return Precision("fp32", device.type)
    if device.type != "cuda":
        log.warning(f"--amp has no effect on {device.type}; training in float32")
        return Precision("fp32", device.type)
    return Precision("bf16" if cuda_amp_dtype() == torch.bfloat16 else "fp16", device.type)


__all__ = ["PRECISIONS", "Precision", "resolve_precision", "cuda_amp_dtype"]
