"""A run directory: where one training run keeps its config, metrics and checkpoints.

Its layout -- every file and folder name of a run (``config.json``,
``metrics.jsonl``, ``checkpoints/``, ``samplers/``, ``question.json``, the
report assets, ...) -- is documented and owned by :mod:`zspace.core.layout`;
:attr:`Run.layout` gives their paths.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from zspace.core import io
from zspace.core.errors import ZspaceError
from zspace.core.layout import RunLayout
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
    def layout(self) -> RunLayout:
        """The paths of the run's files and folders (:mod:`zspace.core.layout`)."""
        return RunLayout(self.root)

    @property
    def checkpoints_dir(self) -> Path:
        return self.layout.checkpoints

    @property
    def metrics_path(self) -> Path:
        return self.layout.metrics

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


#: version of the run-directory layout written into config.json as "format"; runs without one are format 1
RUN_FORMAT = 2
#: the top-level keys of config.json
RUN_CONFIG_KEYS = ("format", "model", "train", "data")


def config_path(root: str | Path) -> Path:
    """``RUN_DIR/config.json`` (:attr:`zspace.core.layout.RunLayout.config`)."""
    return RunLayout(Path(root)).config


def open_run(root: str | Path) -> Run:
    """Open an existing run directory; a clear error if it is not one."""
    root = Path(root)
    path = config_path(root)
    if not root.is_dir():
        raise ZspaceError(f"run directory {root} does not exist; train one with: zspace train --out {root}")
    if not path.exists():
        raise ZspaceError(f"{root} is not a zspace run (no config.json); pass the --out directory of zspace train")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ZspaceError(f"{path} is not valid JSON ({exc}); was it edited by hand?") from None
    if not isinstance(config, dict):
        raise ZspaceError(f"{path} must hold a JSON object with keys {', '.join(RUN_CONFIG_KEYS)}; was it edited by hand?")
    version = config.get("format", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ZspaceError(f"{path}: 'format' must be a positive integer, not {version!r}; was it edited by hand?")
    if version > RUN_FORMAT:
        raise ZspaceError(f"{path}: run format {version} was written by a newer zspace (this one reads up to "
                          f"{RUN_FORMAT}); upgrade zspace (pip install -U zspace)")
    unknown = sorted(set(config) - set(RUN_CONFIG_KEYS))
    if unknown:
        raise ZspaceError(f"{path}: unknown key {unknown[0]!r} (known: {', '.join(RUN_CONFIG_KEYS)}); "
                          f"remove it from the file")
    for key in ("model", "train"):
        if not isinstance(config.get(key), dict):
            raise ZspaceError(f"{path}: key {key!r} must be a JSON object; was it edited by hand?")
    if not isinstance(config.get("data", {}), dict):
        raise ZspaceError(f"{path}: key 'data' must be a JSON object; was it edited by hand?")
    run = Run(root=root, config=config)
    _checked_at_the_door = (run.model_config, run.train_config)
    return run
