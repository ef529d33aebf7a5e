"""Reconstruct unseen test images through a run's model.

Drawing points from a sampler and decoding them is :func:`zspace.science.generation.generate`;
the batch-wise forward passes are :mod:`zspace.pipeline.forward` (``decode_points`` and
``reconstruct_images`` are re-exported here).
"""

from __future__ import annotations

import numpy as np

from zspace.core.errors import require
from zspace.core.rows import seeded_subsample
from zspace.pipeline.forward import decode_points, reconstruct_images
from zspace.pipeline.run import Run
from zspace.pipeline.session import open_session


def reconstruct(run: Run, data: str | None = None, n: int = 16, seed: int = 0, *, epoch: int | None = None,
                device: str = "auto", precision: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Reconstruct ``n`` unseen test images (a seeded choice); a VAE decodes its mu.

    Returns (originals, reconstructions), both float32 (n, H, W, C) in [0, 1].
    """
    require(n >= 1, f"--n {n} must be >= 1")
    test = run.data_split("test", data=data)
    session = open_session(run, epoch, device, precision)
    originals = test.images[seeded_subsample(len(test), n, seed)]
    return originals.astype(np.float32) / 255.0, session.reconstruct(originals)


__all__ = ["reconstruct", "decode_points", "reconstruct_images"]


