"""zspace: a latent-space laboratory for autoencoders.

The API mirrors the command line, one module per step (data -> models ->
train -> encode -> analysis)::

    from zspace.train import TrainConfig, train
    from zspace.models import ModelConfig
    from zspace.encode import encode

    train(TrainConfig(data="shapes"), ModelConfig(kind="vae", z_dim=16), "runs/vae")
    store = encode("runs/vae", split="test")

Names that do not clash with a module are also importable from the top level
(lazily, so ``import zspace`` stays fast), e.g. ``zspace.ModelConfig``.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: public name -> module that defines it
_API = {
    "ModelConfig": "zspace.models", "build_model": "zspace.models", "summarize": "zspace.models",
    "TrainConfig": "zspace.train", "resume": "zspace.train", "open_run": "zspace.run",
    "reconstruct": "zspace.generate", "load_images": "zspace.data", "load_zstore": "zspace.zstore",
    "make_sampler": "zspace.samplers", "ZspaceError": "zspace.errors",
}


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'zspace' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
