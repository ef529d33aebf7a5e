"""A run directory: where one training run keeps its config, metrics and checkpoints.

``RUN_DIR/config.json``      model, training and data configuration
``RUN_DIR/metrics.jsonl``    one JSON record per epoch (and per divergence event)
``RUN_DIR/checkpoints/``     see :mod:`zspace.pipeline.checkpoint`
``RUN_DIR/skipped.txt``      input files that could not be read, with the reason
``RUN_DIR/samplers/``        fitted samplers (``zspace fit-sampler``; used by ``zspace generate``)
``RUN_DIR/latents/``         cached encodings of the training split (for fitting samplers)
``RUN_DIR/scores/``          sample-quality scores (``zspace score``)
``RUN_DIR/question.json``    the open-question table (``zspace question``)
``RUN_DIR/z_test.npz``, ``analysis/``, ``*.png``, ``assets.json``   report assets (``zspace report``)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from zspace.core import io
from zspace.core.errors import ZspaceError
from zspace.data import ImageSet
from zspace.models import Autoencoder, ModelConfig, build_model
from zspace.pipeline import checkpoint
from zspace.pipeline.config import TrainConfig
from zspace.pipeline.precision import Precision, resolve_precision
from zspace.pipeline.splits import load_split


@dataclass
class Run:
    """An opened run directory (see the module docstring for its layout)."""

    root: Path
    config: dict[str, Any]

    @property
    def model_config(self) -> ModelConfig:
        """The model configuration (``config.json["model"]``)."""
        return ModelConfig.from_dict(self.config["model"], where=f"{config_path(self.root)} [model]")

    @property
    def train_config(self) -> TrainConfig:
        """The training configuration (``config.json["train"]``)."""
        return TrainConfig.from_dict(self.config["train"], where=f"{config_path(self.root)} [train]")

    def inference_precision(self, device: torch.device, name: str | None = None) -> Precision:
        """The precision of encoding and decoding with this run's model on ``device``.

        ``name`` when given (an error where it cannot run); else the run's training
        precision, or float32 where that one cannot run on ``device``.
        """
        if name is not None:
            return resolve_precision(device, name, self.model_config)
        try:
            return resolve_precision(device, self.train_config.precision, self.model_config)
        except ZspaceError:
            return Precision("fp32", device.type)

    def data_split(self, split: str, *, data: str | None = None, n: int | None = None) -> ImageSet:
        """The ``split`` of the run's data (or of ``data``), read with the run's image size and seed."""
        return load_split(self.train_config, split, data=data, n=n)

    @property
    def checkpoints_dir(self) -> Path:
        return self.root / "checkpoints"

    @property
    def metrics_path(self) -> Path:
        return self.root / "metrics.jsonl"

    def metrics(self) -> list[dict]:
        """All records of metrics.jsonl in order."""
        return io.read_jsonl(self.metrics_path)

    def latest_epoch(self) -> int | None:
        """The newest complete checkpoint's epoch, None before the first."""
        return checkpoint.latest_epoch(self.checkpoints_dir)

    def load_model(self, epoch: int | None = None, device: str | torch.device = "cpu",
                   eps_factor: float | None = None) -> Autoencoder:
        """The model with weights of ``epoch`` (default: latest), in eval mode on ``device``."""
        epoch = self.latest_epoch() if epoch is None else epoch
        if epoch is None:
            raise ZspaceError(f"run {self.root} has no checkpoint yet; train it first (zspace train ... --out {self.root})")
        config = self.model_config
        if eps_factor is not None:
            config.eps_factor = float(eps_factor)
        model = build_model(config)
        ckpt = checkpoint.load_checkpoint(self.checkpoints_dir, epoch, config)
        model.load_state_dict(ckpt.model_state)
        return model.to(device).eval()


def config_path(root: str | Path) -> Path:
    return Path(root) / "config.json"


def open_run(root: str | Path) -> Run:
    """Open an existing run directory; a clear error if it is not one."""
    root = Path(root)
    path = config_path(root)
    if not root.is_dir():
        raise ZspaceError(f"run directory {root} does not exist; train one with: zspace train --out {root}")
    if not path.exists():
        raise ZspaceError(f"{root} is not a zspace run (no config.json); pass the --out directory of zspace train")
    try:
        config = json.loads(path.read_text())
        run = Run(root=root, config=config)
        _checked_at_the_door = (run.model_config, run.train_config)
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ZspaceError(f"{path} is not a valid zspace run config ({exc}); was it edited by hand?") from None
    return run
