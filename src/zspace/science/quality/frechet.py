"""Frechet distance between two Gaussians fitted to feature clouds (the "FID" formula).

FD = |m1 - m2|^2 + tr(C1) + tr(C2) - 2 tr((C1^(1/2) C2 C1^(1/2))^(1/2)).

The trace of the cross term is computed from the eigenvalues of the symmetric
matrix C1^(1/2) C2 C1^(1/2), which is exact for positive semi-definite
covariances and avoids scipy's ``sqrtm`` of a non-symmetric product (and its
complex round-off).
"""

from __future__ import annotations

import numpy as np

from zspace.core.errors import require


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and covariance (D, D) of ``features`` (N, D), in float64."""
    x = np.asarray(features, dtype=np.float64)
    require(x.ndim == 2 and len(x) >= 2, f"Frechet distance: need features of shape (N >= 2, D), got {x.shape}")
    return x.mean(axis=0), np.cov(x, rowvar=False)


def frechet_distance_from_stats(mean1: np.ndarray, cov1: np.ndarray, mean2: np.ndarray, cov2: np.ndarray) -> float:
    """Frechet distance between N(mean1, cov1) and N(mean2, cov2)."""
    values, vectors = np.linalg.eigh((cov1 + cov1.T) / 2)
    sqrt1 = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    cross = np.linalg.eigvalsh(sqrt1 @ cov2 @ sqrt1)
    trace_cross = float(np.sqrt(np.clip(cross, 0, None)).sum())
    diff = mean1 - mean2
    return float(max(diff @ diff + np.trace(cov1) + np.trace(cov2) - 2 * trace_cross, 0.0))


def frechet_distance(features1: np.ndarray, features2: np.ndarray) -> float:
    """Frechet distance between the Gaussians fitted to two feature sets (N1, D) and (N2, D)."""
    return frechet_distance_from_stats(*gaussian_stats(features1), *gaussian_stats(features2))


__all__ = ["frechet_distance", "frechet_distance_from_stats", "gaussian_stats"]
