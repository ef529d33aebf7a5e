"""k-NN precision and recall of generated samples (Kynkaanniemi et al. 2019).

Each real feature vector gets a ball whose radius is the distance to its k-th
nearest real neighbour; the union of the balls estimates the real manifold.
Likewise for the generated set.

* precision: share of generated samples inside the real manifold;
* recall: share of real samples inside the generated manifold;
* realism of one sample: max over real points r of radius_k(r) / |x - r|,
  >= 1 inside the real manifold (the paper's per-image score, computed over
  all real balls).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from zspace.core.errors import require
from zspace.core.neighbours import distance_blocks, kth_neighbour_distances


def knn_radii(x: np.ndarray, k: int = 3) -> np.ndarray:
    """(N,) distance of every row of ``x`` to its k-th nearest other row."""
    require(len(x) > k, f"precision/recall: need more than k={k} points, got {len(x)}")
    return kth_neighbour_distances(x, k)


def inside_manifold(query: np.ndarray, support: np.ndarray, support_radii: np.ndarray) -> np.ndarray:
    """(M,) bool: whether each query row lies in some ball (support row, its radius)."""
    out = np.empty(len(query), dtype=bool)
    radii = torch.from_numpy(np.asarray(support_radii, dtype=np.float32))[None, :]
    for rows, d in distance_blocks(query, support):
        out[rows] = (d <= radii).any(dim=1).numpy()
    return out


def realism(query: np.ndarray, real: np.ndarray, real_radii: np.ndarray) -> np.ndarray:
    """(M,) realism score of each query row: max_r radius_k(r) / |query - r| (>= 1 inside the real manifold)."""
    out = np.empty(len(query), dtype=np.float32)
    radii = torch.from_numpy(np.asarray(real_radii, dtype=np.float32))[None, :]
    for rows, d in distance_blocks(query, real):
        out[rows] = (radii / d.clamp_min(1e-12)).max(dim=1).values.numpy()
    return out


@dataclass
class PrecisionRecall:
    precision: float
    recall: float
    k: int


def precision_recall(real: np.ndarray, generated: np.ndarray, k: int = 3) -> PrecisionRecall:
    """k-NN precision and recall of ``generated`` (M, D) against ``real`` (N, D) features."""
    real = np.asarray(real, dtype=np.float32)
    generated = np.asarray(generated, dtype=np.float32)
    require(real.ndim == 2 and generated.ndim == 2 and real.shape[1] == generated.shape[1],
            f"precision/recall: feature sets must be (N, D) with the same D, got {real.shape} and {generated.shape}")
    precision = inside_manifold(generated, real, knn_radii(real, k)).mean()
    recall = inside_manifold(real, generated, knn_radii(generated, k)).mean()
    return PrecisionRecall(precision=float(precision), recall=float(recall), k=k)


__all__ = ["PrecisionRecall", "precision_recall", "knn_radii", "inside_manifold", "realism"]
