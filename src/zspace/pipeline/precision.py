"""The precision policy: in which dtype a device computes a training or inference step.

A :class:`Precision` says which autocast dtype the forward pass uses (None =
plain float32) and whether the loss needs a gradient scaler (float16 only).
Weights, optimizer state and checkpoints always stay float32; losses are
summed in float32 or float64 (:mod:`zspace.pipeline.losses`).

:func:`resolve_precision` turns a requested name into the precision of a device:

==========  ====================================================================
``fp32``    float32 everywhere (the reference)
``bf16``    bfloat16 autocast; CUDA GPUs with native bf16 (compute capability
            >= 8.0), MPS, and CPUs with native bf16 instructions (AVX512-BF16
            or AMX); refused elsewhere, where it would be emulated and slower
``fp16``    float16 autocast with a gradient scaler; CUDA and MPS only
``auto``    CUDA: bf16 on compute capability >= 8.0, else fp16 with a gradient
            scaler (whose state checkpoints save and restore); CPU: bf16 on native-bf16 CPUs
            for models of at least :data:`CPU_BF16_MIN_FORWARD_GFLOP` per image,
            else fp32; MPS: fp32
==========  ====================================================================

``auto`` on CPU follows the measurements in benchmarks/RESULTS.md (bench_precision.py):
on an AVX512-BF16 CPU, bf16 trained the seeds' 96x96x3 model (0.145 GFLOP per
image forward) 1.6x faster than fp32 with the validation loss within 0.1%, but
the 28x28 models (0.009-0.013 GFLOP) no faster (0.7x-1.3x): their layers are too
small for bf16 kernels to pay for the casts. The threshold sits between the two.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import ContextManager

import torch

from zspace.core.errors import ZspaceError
from zspace.core.registry import Registry
from zspace.models import ModelConfig, forward_flops

#: precision name -> autocast dtype (None: float32 without autocast)
PRECISIONS: Registry[torch.dtype | None] = Registry("precision", {"fp32": None, "bf16": torch.bfloat16,
                                                                  "fp16": torch.float16})
#: what --precision accepts: the precisions, then "auto" (a live view of :data:`PRECISIONS`)
PRECISION_CHOICES = PRECISIONS.choices("auto")
#: ``auto`` picks bf16 on native-bf16 CPUs for models with at least this forward cost per image
CPU_BF16_MIN_FORWARD_GFLOP = 0.1


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


def autocast(precision: Precision | None) -> ContextManager:
    """``precision.autocast()``, or no autocast for None (float32)."""
    return precision.autocast() if precision is not None else contextlib.nullcontext()


@functools.lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 in hardware (x86 AVX512-BF16 or AMX-BF16; read from /proc/cpuinfo)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


#: the first CUDA compute capability with bf16 tensor cores (Ampere, 8.0)
CUDA_NATIVE_BF16_CAPABILITY = (8, 0)


def cuda_has_native_bf16(device: torch.device) -> bool:
    """Whether the CUDA ``device`` computes bf16 in hardware: compute capability >= 8.0 (A100, RTX 30xx, H100).

    ``torch.cuda.is_bf16_supported()`` is True on older GPUs too (V100 7.0,
    T4 7.5) since torch 2.3, where bf16 is emulated and slower than float16.
    """
    return torch.cuda.get_device_capability(device) >= CUDA_NATIVE_BF16_CAPABILITY


def bf16_available(device: torch.device) -> bool:
    """Whether bf16 autocast runs natively on ``device``."""
    if device.type == "cuda":
        return cuda_has_native_bf16(device)
    if device.type == "cpu":
        return cpu_has_native_bf16()
    return device.type == "mps"


def auto_precision(device: torch.device, model_config: ModelConfig | None = None) -> str:
    """The name ``auto`` stands for on ``device`` for a model of ``model_config`` (see the module docstring)."""
    if device.type == "cuda":
        return "bf16" if bf16_available(device) else "fp16"
    if device.type == "cpu" and cpu_has_native_bf16() and model_config is not None \
            and forward_flops(model_config) >= CPU_BF16_MIN_FORWARD_GFLOP * 1e9:
        return "bf16"
    return "fp32"


def resolve_precision(device: torch.device, name: str = "fp32", model_config: ModelConfig | None = None) -> Precision:
    """The precision ``name`` (fp32, bf16, fp16 or auto) on ``device``; a clear error where it cannot run.

    ``auto`` needs ``model_config`` to decide on a CPU (without it, auto is fp32 there).
    """
    if name not in PRECISION_CHOICES:
        raise ZspaceError(f"--precision {name!r} is unknown; use one of {', '.join(PRECISION_CHOICES)}")
    if name == "auto":
        name = auto_precision(device, model_config)
    if name == "bf16" and not bf16_available(device):
        what = ("this CPU has no native bf16 instructions (AVX512-BF16/AMX)" if device.type == "cpu"
                else f"this {device.type} device has no native bf16 (CUDA needs compute capability >= 8.0)")
        raise ZspaceError(f"--precision bf16: {what}; use --precision fp32 (or auto)")
    if name == "fp16" and device.type not in ("cuda", "mps"):
        raise ZspaceError(f"--precision fp16 needs a CUDA or MPS GPU, not {device.type}; use --precision bf16 "
                          "on CPUs with native bf16, or fp32")
    return Precision(name, device.type)


__all__ = ["PRECISIONS", "PRECISION_CHOICES", "CPU_BF16_MIN_FORWARD_GFLOP", "Precision", "autocast", "resolve_precision",
           "auto_precision", "bf16_available", "cpu_has_native_bf16", "cuda_has_native_bf16"]
