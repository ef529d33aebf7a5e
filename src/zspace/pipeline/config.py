"""The configuration of a training run: :class:`TrainConfig`, stored as ``config.json["train"]``."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from zspace.core.config import Config
from zspace.core.errors import require
from zspace.pipeline.interrupts import CheckpointEvery
from zspace.pipeline.losses import RECONSTRUCTION_LOSSES
from zspace.pipeline.precision import PRECISION_CHOICES


@dataclass
class TrainConfig(Config):
    """Options of a training run (defaults from SPEC section 3).

    Parameters
    ----------
    data : str, default "shapes"
        Data spec (see :func:`zspace.data.load_images`).
    epochs : int, default 24
        Total number of epochs (SPEC: 24 for CelebA, 40 for MNIST).
    batch_size : int, default 128
    lr : float, default 5e-4
        Adam learning rate.
    loss : {"bce", "mse"}, default "bce"
        Reconstruction loss, summed over the pixels of an image.
    fact : float, default 1.0
        KL weight of a VAE: total = reco + fact * KL (1e-5 "tiny KL"; ~5 works for CelebA).
    seed : int, default 0
        Seeds weight init, shuffling, VAE sampling and the data split.
    device : str, default "auto"
        auto | cpu | cuda | cuda:N | mps.
    precision : {"fp32", "bf16", "fp16", "auto"}, default "auto"
        Autocast dtype of the forward passes (see :mod:`zspace.pipeline.precision`);
        weights, optimizer state and checkpoints stay float32. Run configs written
        before this option had ``amp`` (true: ``auto``).
    channels_last : bool, default True
        NHWC memory format for images and weights (tensor cores on CUDA; oneDNN's
        preferred layout on CPU).
    keep_every : int, default 5
        Keep the checkpoint of every k-th epoch besides the latest (0: latest only).
    n_train, n_val : int or None
        Cap on the number of training / validation images (quick runs).
    image_size : int or None
        Resize target for folder/CelebA sources (their default when None).
    divergence_factor : float, default 1.5
        An epoch loss above this factor times the best so far counts as divergence.
    lr_backoff : float, default 0.5
        Learning-rate multiplier applied after a divergence.
    max_recoveries : int, default 3
        Divergences tolerated before training stops.
    tensorboard : bool, default False
        Also write TensorBoard event files (per-epoch scalars, reconstruction and
        sample grids) into ``RUN_DIR/tensorboard`` (the ``tensorboard`` extra).
    checkpoint_every : str or None, default None
        Also checkpoint inside an epoch: every N steps (``"500"``) or every
        interval of wall-clock time (``"30s"``, ``"10min"``, ``"2h"``); see
        :mod:`zspace.pipeline.interrupts`. None: at the end of each epoch only.
    """

    data: str = "shapes"
    epochs: int = 24
    batch_size: int = 128
    lr: float = 5e-4
    loss: str = "bce"
    fact: float = 1.0
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    channels_last: bool = True
    keep_every: int = 5
    n_train: int | None = None
    n_val: int | None = None
    image_size: int | None = None
    divergence_factor: float = 1.5
    lr_backoff: float = 0.5
    max_recoveries: int = 3
    tensorboard: bool = False
    checkpoint_every: str | None = None

    def validate(self) -> None:
        """Raise ZspaceError naming the option and its allowed range for any bad value."""
        require(self.epochs >= 1, f"--epochs {self.epochs} must be >= 1")
        require(self.batch_size >= 1, f"--batch-size {self.batch_size} must be >= 1")
        require(0 < self.lr < math.inf, f"--lr {self.lr} must be a finite number > 0")
        require(self.loss in RECONSTRUCTION_LOSSES, f"--loss {self.loss!r} is unknown; use one of {', '.join(RECONSTRUCTION_LOSSES)}")
        require(0 <= self.fact < math.inf, f"--fact {self.fact} must be a finite number >= 0")
        require(0 <= self.seed < 2 ** 32, f"--seed {self.seed} must be an integer from 0 to {2 ** 32 - 1}")
        require(self.keep_every >= 0, f"--keep-every {self.keep_every} must be >= 0")
        for name in ("n_train", "n_val"):
            value = getattr(self, name)
            require(value is None or value >= 1, f"--{name.replace('_', '-')} {value} must be >= 1 (or left out)")
        require(self.image_size is None or self.image_size >= 4, f"--image-size {self.image_size} must be >= 4")
        require(1 < self.divergence_factor < math.inf,
                f"--divergence-factor {self.divergence_factor} must be a finite number > 1")
        require(0 < self.lr_backoff < 1, f"lr_backoff {self.lr_backoff} must be in (0, 1)")
        require(self.max_recoveries >= 0, f"max_recoveries {self.max_recoveries} must be >= 0")
        CheckpointEvery.parse(self.checkpoint_every)  # a ZspaceError naming --checkpoint-every when malformed
        require(self.precision in PRECISION_CHOICES,
                f"--precision {self.precision!r} is unknown; use one of {', '.join(PRECISION_CHOICES)}")

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str | None = None) -> "TrainConfig":
        """As :meth:`Config.from_dict`; a legacy ``amp`` flag becomes ``precision`` (true: auto, false: fp32)."""
        if isinstance(data, dict) and "amp" in data:
            data = dict(data)
            amp = data.pop("amp")
            data.setdefault("precision", "auto" if amp else "fp32")
        return super().from_dict(data, where)


#: options a run may change when it is continued (they change how far it goes and what it logs, not its result)
CONTINUABLE_FIELDS = ("epochs", "tensorboard", "checkpoint_every")

__all__ = ["TrainConfig", "CONTINUABLE_FIELDS"]
