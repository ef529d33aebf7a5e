"""zspace: a latent-space laboratory for autoencoders.

The API mirrors the command line; every step is a function a notebook can call::

    import zspace

    zspace.train(zspace.TrainConfig(data="shapes"), zspace.ModelConfig(kind="vae", z_dim=16), "runs/vae")
    store = zspace.encode("runs/vae", split="test")        # a ZStore: z, mu, logvar, labels, factors
    z, images = zspace.generate(zspace.open_run("runs/vae"), "normal", n=16)

The package is layered (docs/architecture.md): ``core`` < ``data``, ``models``
< ``pipeline``, ``analysis`` < ``science`` < ``plots`` < ``report`` < ``demo``,
``commands``, ``cli``. The names below are imported lazily, so ``import
zspace`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: public name -> module that defines it
_API = {
    "ZspaceError": "zspace.core.errors",
    "load_images": "zspace.data",
    "ModelConfig": "zspace.models", "build_model": "zspace.models", "summarize": "zspace.models",
    "TrainConfig": "zspace.pipeline.config", "train": "zspace.pipeline.train", "resume": "zspace.pipeline.train",
    "open_run": "zspace.pipeline.run", "encode": "zspace.pipeline.encode", "reconstruct": "zspace.pipeline.generate",
    "load_zstore": "zspace.pipeline.zstore",
    "BatteryConfig": "zspace.analysis", "load_latents": "zspace.analysis", "run_battery": "zspace.analysis",
    "make_sampler": "zspace.science.samplers", "fit_sampler": "zspace.science.latents",
    "generate": "zspace.science.generation", "score": "zspace.science.quality.score",
    "question": "zspace.science.question",
    "ReportConfig": "zspace.report", "prepare_run": "zspace.report", "build_report": "zspace.report",
}


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'zspace' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
