"""zspace: a latent-space laboratory for autoencoders.

The API mirrors the command line; every step is a function a notebook can call::

    import zspace

    zspace.train(zspace.TrainConfig(data="shapes"), zspace.ModelConfig(kind="vae", z_dim=16), "runs/vae")
    store = zspace.encode("runs/vae", split="test")        # a ZStore: z, mu, logvar, labels, factors
    z, images = zspace.generate(zspace.open_run("runs/vae"), "normal", n=16)

The notebook API (docs/api.md) puts the same steps on objects that show
themselves in Jupyter::

    run = zspace.open_run("runs/vae")                      # a LabRun: a Run with the commands as methods
    analysis = zspace.analyze(run.encode())                # analysis.radius, analysis.plot("radius")
    run.question(samplers=["normal", "gmm:10"], n=1000)    # the answer table

The package is layered (docs/architecture.md): ``core`` < ``data``, ``models``
< ``pipeline``, ``analysis`` < ``science``, ``exports`` < ``plots``, ``factors`` < ``report``
< ``demo``, ``notebook``, ``commands``, ``cli``. The names below are imported lazily, so ``import
zspace`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

from zspace.core.version import __version__ as __version__

#: public name -> module that defines it
_API = {
    "ZspaceError": "zspace.core.errors",
    "load_images": "zspace.data",
    "ModelConfig": "zspace.models", "build_model": "zspace.models", "summarize": "zspace.models",
    "TrainConfig": "zspace.pipeline.config", "train": "zspace.pipeline.train", "resume": "zspace.pipeline.train",
    "open_run": "zspace.notebook", "analyze": "zspace.notebook", "LabRun": "zspace.notebook",
    "Analysis": "zspace.notebook", "encode": "zspace.pipeline.encode", "reconstruct": "zspace.pipeline.generate",
    "load_zstore": "zspace.pipeline.zstore",
    "open_session": "zspace.pipeline.session", "InferenceSession": "zspace.pipeline.session",
    "BatteryConfig": "zspace.analysis", "load_latents": "zspace.analysis", "run_battery": "zspace.analysis",
    "make_sampler": "zspace.science.samplers", "fit_sampler": "zspace.science.latents",
    "generate": "zspace.science.generation", "score": "zspace.science.quality.score",
    "FeatureNetConfig": "zspace.science.quality.features",
    "question": "zspace.science.question", "holes": "zspace.science.hole_study",
    "compare": "zspace.science.compare", "CompareConfig": "zspace.analysis.compare",
    "ReportConfig": "zspace.report", "prepare_run": "zspace.report", "build_report": "zspace.report",
}


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'zspace' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
