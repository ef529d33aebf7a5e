"""SPEC 4.9 (2-D part): for a 2-D latent space, the points themselves, coloured by label."""

from __future__ import annotations

import dataclasses

import numpy as np

from zspace.core.config import Config
from zspace.core.results import Result, Scatter, array_field


@dataclasses.dataclass
class Scatter2dConfig(Config):
    """Settings of :func:`scatter_2d` (none needed yet; kept for a uniform API)."""


@dataclasses.dataclass
class Scatter2dResult(Result):
    """Points of a 2-D latent space.

    Attributes
    ----------
    label_counts : dict str -> int
        Points per label (-1 = unknown); empty when there are no labels.
    bounds : list of float, [xmin, xmax, ymin, ymax] in z units
    points : float32 array, shape (N, 2) (not in JSON)
    labels : int64 array, shape (N,), or None (not in JSON)
    """

    n_points: int
    label_counts: dict[str, int]
    bounds: list[float]
    points: np.ndarray = array_field()
    labels: np.ndarray | None = array_field()

    def scatters(self) -> dict[str, Scatter]:
        """The latent plane itself as ``latent_2d``, all input rows."""
        return {"latent_2d": Scatter(self.points, np.arange(len(self.points), dtype=np.int64))}


def scatter_2d(z: np.ndarray, labels: np.ndarray | None = None,
               config: Scatter2dConfig | None = None) -> Scatter2dResult:
    """Collect the points of a 2-D latent space for a labelled scatter.

    Parameters
    ----------
    z : numpy.ndarray, shape (N, 2)
    labels : numpy.ndarray of int, shape (N,), optional

    Returns
    -------
    Scatter2dResult

    Raises
    ------
    ValueError
        When ``z`` is not 2-D in its second axis (the battery only calls this for d = 2).
    """
    if z.ndim != 2 or z.shape[1] != 2:
        raise ValueError(f"scatter_2d needs z of shape (N, 2), got {z.shape}")
    z = np.asarray(z, dtype=np.float32)  # (N, 2): small even for a memory-mapped input
    counts = {}
    if labels is not None:
        values, numbers = np.unique(labels, return_counts=True)
        counts = {str(int(v)): int(c) for v, c in zip(values, numbers)}
    bounds = [float(z[:, 0].min()), float(z[:, 0].max()), float(z[:, 1].min()), float(z[:, 1].max())]
    return Scatter2dResult(n_points=z.shape[0], label_counts=counts, bounds=bounds,
                           points=z, labels=labels)
