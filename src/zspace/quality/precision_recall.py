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

from zspace.errors import require

#: rows of the query set per distance block (block of 2048 x 10000 float32 is 80 MB)
_BLOCK = 2048


def _distances(a: np.ndarray, b: np.ndarray) -> torch.Tensor:
    return torch.cdist(torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)),
                       torch.from_numpy(np.ascontiguousarray(b, dtype=np.float32)))


def knn_radii(x: np.ndarray, k: int = 3) -> np.ndarray:
    """(N,) distance of every row of ``x`` to its k-th nearest other row."""
    require(len(x) > k, f"precision/recall: need more than k={k} points, got {len(x)}")
    radii = np.empty(len(x), dtype=np.float32)
    for start in range(0, len(x), _BLOCK):
        d = _distances(x[start:start + _BLOCK], x)
        # the k+1 smallest include the point itself at distance 0
        radii[start:start + _BLOCK] = torch.topk(d, k + 1, dim=1, largest=False).values[:, k].numpy()
    return radii


def inside_manifold(query: np.ndarray, support: np.ndarray, support_radii: np.ndarray) -> np.ndarray:
    """(M,) bool: whether each query row lies in some ball (support row, its radius)."""
    out = np.empty(len(query), dtype=bool)
    radii = torch.from_numpy(np.asarray(support_radii, dtype=np.float32))[None, :]
    for start in range(0, len(query), _BLOCK):
        out[start:start + _BLOCK] = (_distances(query[start:start + _BLOCK], support) <= radii).any(dim=1).numpy()
    return out


def realism(query: np.ndarray, real: np.ndarray, real_radii: np.ndarray) -> np.ndarray:
    """(M,) realism score of each query row: max_r radius_k(r) / |query - r| (>= 1 inside the real manifold)."""
    out = np.empty(len(query), dtype=np.float32)
    radii = torch.from_numpy(np.asarray(real_radii, dtype=np.float32))[None, :]
    for start in range(0, len(query), _BLOCK):
        d = _distances(query[start:start + _BLOCK], real).clamp_min(1e-12)
        out[start:start + _BLOCK] = (radii / d).max(dim=1).values.numpy()
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
