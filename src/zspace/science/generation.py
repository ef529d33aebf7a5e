"""Generation from random points: draw from a sampler of a run, decode with its model (SPEC 4.8)."""

from __future__ import annotations

import numpy as np

from zspace.core.errors import require
from zspace.data.imageset import require_images_fit
from zspace.pipeline.run import Run
from zspace.pipeline.session import open_session
from zspace.science.samplers import resolve_sampler


def generate(run: Run, sampler: str = "normal", n: int = 64, seed: int = 0, *, epoch: int | None = None,
             device: str = "auto", precision: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` points from ``sampler`` and decode them.

    ``sampler`` is a spec (``normal``, ``uniform:2``) or the name of a sampler
    fitted and saved in the run (``zspace fit-sampler RUN_DIR gmm:10``). Decoding
    runs in ``precision`` (default: the run's training precision). Refused before the
    model loads when ``n`` images do not fit in memory.

    Returns (z (n, z_dim) float32, images (n, H, W, C) float32 in [0, 1]).
    """
    require(n >= 1, f"--n {n} must be >= 1")
    require_images_fit(n, run.model_config.input_shape, "n")
    session = open_session(run, epoch, device, precision)
    z = resolve_sampler(run.root, sampler, session.z_dim).sample(n, np.random.default_rng(seed))
    return z, session.decode(z)


__all__ = ["generate"]
