"""One inference session: a run's model loaded once on a device, in a precision, to encode, decode and reconstruct.

The one home of "select the device, load the checkpoint, choose the inference
precision" (:func:`open_session`). Every command, the notebook and the report
use a model through an :class:`InferenceSession`; a long-lived caller (a
server that decodes on request) opens one and calls :meth:`InferenceSession.decode`
as often as it likes without loading the checkpoint again::

    session = open_session("runs/vae", precision="fp32")
    images = session.decode(z)            # (N, z_dim) -> float32 (N, H, W, C) in [0, 1]

The methods wrap the primitives of :mod:`zspace.pipeline.forward`
(``encode_images``, ``decode_points``, ``reconstruct_images``) with the
session's model, device and precision, so their numbers are exactly those
of the primitives.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from zspace.core.device import select_device
from zspace.models import Autoencoder
from zspace.pipeline.forward import decode_points, encode_images, reconstruct_images
from zspace.pipeline.precision import Precision
from zspace.pipeline.processes import process_device
from zspace.pipeline.run import Run, open_run
from zspace.pipeline.zstore import Allocate


@dataclass
class InferenceSession:
    """A run's model of one checkpoint, on one device, computing in one precision.

    Attributes
    ----------
    run : Run
        The run the model comes from.
    epoch : int
        The checkpoint's epoch (resolved: the latest one when none was asked for).
    device : torch.device
        Where the model's weights live and the forward passes run.
    precision : Precision
        The autocast of every forward pass (:meth:`Run.inference_precision`); outputs are float32.
    model : Autoencoder
        The model, in eval mode.

    Thread safety: every method runs under ``torch.no_grad`` (and its autocast),
    both thread-local, with the model in eval mode (no state of the model
    changes), and holds the session's lock, so several threads of a server may
    share one session; their calls run one at a time (one device computes one
    batch at a time anyway). An async server calls the methods in a worker
    thread (they block while the device computes).
    """

    run: Run
    epoch: int
    device: torch.device
    precision: Precision
    model: Autoencoder
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    @property
    def z_dim(self) -> int:
        """Width d of the latent points."""
        return int(self.model.config.z_dim)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(H, W, C) of the images the model reads and writes."""
        return tuple(self.model.config.input_shape)

    @property
    def kind(self) -> str:
        """The model kind (``ae`` or ``vae``)."""
        return self.model.config.kind

    def encode(self, images: np.ndarray, batch_size: int = 512, seed: int = 0, *, desc: str = "encoding",
               first_row: int = 0, allocate: Allocate | None = None) -> dict[str, np.ndarray]:
        """z (and mu, logvar for a VAE), float32 (N, d), of uint8 images (N, H, W, C).

        See :func:`~zspace.pipeline.forward.encode_images`: a VAE's noise of
        ``images[i]`` is row ``first_row + i`` of the seeded stream of ``seed``.
        """
        with self._lock:
            return encode_images(self.model, images, batch_size, self.device, seed, desc=desc,
                                 precision=self.precision, first_row=first_row, allocate=allocate)

    def decode(self, z: np.ndarray, batch_size: int = 512, *, desc: str = "decoding") -> np.ndarray:
        """Float32 images (N, H, W, C) in [0, 1] of latent points ``z`` (N, z_dim)."""
        with self._lock:
            return decode_points(self.model, z, batch_size, desc, precision=self.precision)

    def reconstruct(self, images: np.ndarray, batch_size: int = 512, *, desc: str = "reconstructing") -> np.ndarray:
        """Float32 images (N, H, W, C) in [0, 1]: uint8 ``images`` (N, H, W, C) decoded from their
        deterministic code (a VAE's mu); the global RNG is left untouched."""
        with self._lock:
            return reconstruct_images(self.model, images, batch_size, desc, precision=self.precision)


def open_session(run: Run | str | Path, epoch: int | None = None, device: str | torch.device = "auto",
                 precision: str | None = None, *, for_processes: bool = False) -> InferenceSession:
    """Load ``run``'s checkpoint ``epoch`` (default: the latest) once, on ``device``, for inference.

    ``device``: a name of :func:`~zspace.core.device.select_device` (``auto``,
    ``cpu``, ``cuda``, ``cuda:N``, ``mps``) or a torch device.
    ``for_processes``: under torchrun, each process takes its own GPU
    (:func:`~zspace.pipeline.processes.process_device`), as sharded encoding needs.
    ``precision``: fp32, bf16, fp16 or auto; default the run's training
    precision, or float32 where that cannot run on the device
    (:meth:`~zspace.pipeline.run.Run.inference_precision`). Errors (no
    checkpoint, a damaged one, a precision the device cannot run) are ZspaceErrors.
    """
    run = run if isinstance(run, Run) else open_run(run)
    dev = device if isinstance(device, torch.device) else select_device(device)
    if for_processes:
        dev = process_device(dev)
    epoch = run.latest_epoch() if epoch is None else epoch
    model = run.load_model(epoch, device=dev)  # None: the error "run ... has no checkpoint yet"
    chosen = run.inference_precision(dev, precision)
    return InferenceSession(run=run, epoch=int(epoch), device=dev, precision=chosen, model=model)


__all__ = ["InferenceSession", "open_session"]
