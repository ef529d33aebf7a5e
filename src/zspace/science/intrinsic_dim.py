"""Intrinsic dimension of a point cloud: TwoNN (Facco et al. 2017) and MLE (Levina and Bickel 2004).

Both estimators only need each point's few nearest neighbours, computed here
with scikit-learn on a seeded subsample. They are written out (about 20 lines
each) rather than taken from scikit-dimension, whose install pulls in numba
and pandas for the same two formulas.

* TwoNN: for every point, mu = r2 / r1 (second over first neighbour
  distance) follows a Pareto law P(mu) = d mu^(-d-1) on a d-dimensional
  manifold. d is the slope of -log(1 - F(mu)) against log(mu) through the
  origin, with the largest ``discard_fraction`` of the mu left out (they are
  most affected by curvature and density changes).
* MLE: per point, m_k = [1/(k-1) sum_{j<k} log(T_k / T_j)]^-1 with T_j the
  j-th neighbour distance; the points are combined by averaging the inverses
  (MacKay and Ghahramani's correction) and the result is averaged over
  k = k_min..k_max.

Both under-estimate on clouds whose density varies a lot within a
neighbourhood, and more so the higher the dimension: on 5000 points of a
20-d standard Gaussian TwoNN gives ~17 and the MLE ~16.5 (tests/science).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zspace.core.errors import require
from zspace.core.neighbours import knn
from zspace.core.results import Result
from zspace.core.rows import seeded_subsample


@dataclass
class IntrinsicDimResult(Result):
    """Estimates of the intrinsic dimension of one cloud.

    Attributes
    ----------
    twonn : float
        TwoNN estimate.
    mle : float
        Levina-Bickel MLE estimate (averaged over k_min..k_max).
    n_points : int
        Points used (the seeded subsample).
    ambient_dim : int
        Number of coordinates of the cloud.
    """

    twonn: float
    mle: float
    n_points: int
    ambient_dim: int
    k_min: int
    k_max: int
    discard_fraction: float
    seed: int


def _neighbour_distances(x: np.ndarray, k: int) -> np.ndarray:
    """(N, k) distances to the k nearest other points, duplicates of a point dropped."""
    dist, _ = knn(np.unique(x, axis=0), k)
    return dist


def twonn(x: np.ndarray, discard_fraction: float = 0.1) -> float:
    """TwoNN estimate of the intrinsic dimension of points ``x`` (N, D)."""
    dist = _neighbour_distances(np.asarray(x, dtype=np.float64), 2)
    keep = dist[:, 0] > 0
    mu = np.sort(dist[keep, 1] / dist[keep, 0])
    n = len(mu)
    f = np.arange(1, n + 1) / n
    m = min(int(np.floor(n * (1 - discard_fraction))), n - 1)  # F = 1 would give log(0)
    log_mu, y = np.log(mu[:m]), -np.log(1 - f[:m])
    return float((log_mu @ y) / (log_mu @ log_mu))


def mle(x: np.ndarray, k_min: int = 5, k_max: int = 10) -> float:
    """Levina-Bickel MLE of the intrinsic dimension of ``x`` (N, D), averaged over k_min..k_max."""
    dist = _neighbour_distances(np.asarray(x, dtype=np.float64), k_max)
    log_dist = np.log(np.maximum(dist, 1e-300))
    estimates = []
    for k in range(k_min, k_max + 1):
        # inverse of the per-point estimate: mean over j < k of log(T_k / T_j)
        inverse = (log_dist[:, k - 1:k] - log_dist[:, :k - 1]).sum(axis=1) / (k - 1)
        estimates.append(1.0 / np.mean(inverse))
    return float(np.mean(estimates))


def intrinsic_dimension(x: np.ndarray, n_points: int | None = 5000, seed: int = 0, k_min: int = 5,
                        k_max: int = 10, discard_fraction: float = 0.1) -> IntrinsicDimResult:
    """TwoNN and MLE on a seeded subsample of ``n_points`` rows of ``x`` (N, D).

    Parameters
    ----------
    x : ndarray, shape (N, D)
        The cloud, e.g. encoded training points.
    n_points : int or None, default 5000
        Rows used (all when None or N is smaller).
    seed : int, default 0
    k_min, k_max : int, default 5, 10
        Neighbour range of the MLE (small k: less bias from density changes and curvature).
    discard_fraction : float, default 0.1
        Share of the largest ratios TwoNN leaves out of its fit.
    """
    x = np.asarray(x)
    require(x.ndim == 2, f"intrinsic dimension: expected points of shape (N, D), got {x.shape}")
    require(1 <= k_min < k_max, f"intrinsic dimension: need 1 <= k_min < k_max, got {k_min}, {k_max}")
    require(0 <= discard_fraction < 1, f"intrinsic dimension: discard_fraction {discard_fraction} must be in [0, 1)")
    require(len(x) > k_max + 1, f"intrinsic dimension: need more than {k_max + 1} points, got {len(x)}")
    rows = seeded_subsample(len(x), n_points, seed)
    sub = x[rows].astype(np.float64)
    return IntrinsicDimResult(twonn=twonn(sub, discard_fraction), mle=mle(sub, k_min, k_max), n_points=len(sub),
                              ambient_dim=x.shape[1], k_min=k_min, k_max=k_max,
                              discard_fraction=discard_fraction, seed=seed)


__all__ = ["IntrinsicDimResult", "intrinsic_dimension", "twonn", "mle"]
