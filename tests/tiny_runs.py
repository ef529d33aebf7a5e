"""Tiny runs shared by the test directories: models that train in seconds on 2 CPU cores.

Importable from any test module (pytest puts tests/ on the path, see pyproject.toml)."""

from __future__ import annotations

import os

from zspace.models import ModelConfig
from zspace.pipeline.train import TrainConfig, train

os.environ.setdefault("ZSPACE_PROGRESS", "0")


def tiny_configs(kind: str = "vae", **train_overrides):
    """A (TrainConfig, ModelConfig) pair for a 28x28 shapes model with a few thousand weights."""
    options = dict(data="shapes", epochs=2, batch_size=64, n_train=256, n_val=64, seed=3, keep_every=1,
                   device="cpu")
    options.update(train_overrides)
    return TrainConfig(**options), ModelConfig(kind=kind, z_dim=4, filters=(8, 16))


def train_tiny(tmp_path_factory, kind: str, **train_overrides):
    """Train a tiny run of ``kind`` into a fresh temporary directory; return the run directory."""
    out = tmp_path_factory.mktemp("runs") / kind
    train(*tiny_configs(kind, **train_overrides), out)
    return out
