"""A run's data split: the one place that turns a typed :class:`TrainConfig` into images.

Training, encoding, reconstruction and the sample-quality score all read
"the run's data" the same way: the data spec (or another one given by the
user), the run's image size and its seed (which fixes the split of sources
without one), optionally capped to ``n`` images.
"""

from __future__ import annotations

from zspace.data import ImageSet, load_images
from zspace.pipeline.config import TrainConfig


def load_split(config: TrainConfig, split: str, *, data: str | None = None, n: int | None = None) -> ImageSet:
    """The ``split`` ("train", "test" or "all") of ``data`` (default: ``config.data``).

    Parameters
    ----------
    config : TrainConfig
        Supplies the data spec, ``image_size`` and ``seed``.
    split : str
    data : str, optional
        Another data spec read with the run's image size and seed.
    n : int, optional
        At most this many images (all when None).
    """
    return load_images(data or config.data, split, image_size=config.image_size, seed=config.seed, n=n)


__all__ = ["load_split"]
