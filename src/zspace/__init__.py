"""zspace: a latent-space laboratory for autoencoders.

The API mirrors the command line; the common entry points are importable from
the top level (lazily, so ``import zspace`` stays fast)::

    import zspace
    zspace.train(zspace.TrainConfig(data="shapes"), zspace.ModelConfig(kind="vae", z_dim=16), "runs/vae")
    store = zspace.encode("runs/vae", split="test")
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: public name -> module that defines it
_API = {
    "ModelConfig": "zspace.models", "build_model": "zspace.models", "summarize": "zspace.models",
    "TrainConfig": "zspace.train", "train": "zspace.train", "resume": "zspace.train",
    "open_run": "zspace.run", "encode": "zspace.encode", "generate": "zspace.generate",
    "reconstruct": "zspace.generate", "load_images": "zspace.data", "load_zstore": "zspace.zstore",
    "make_sampler": "zspace.samplers", "ZspaceError": "zspace.errors",
}


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'zspace' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
