"""Nearest-neighbour search: the one home for every "which points are close" question.

Two engines, chosen by what the caller needs:

* scikit-learn for the usual questions: :func:`knn` (the k nearest other
  points with their indices), :func:`nearest_distances` and
  :func:`kth_neighbour_distances` (``NearestNeighbors``, tree or brute force
  as scikit-learn chooses, and ``pairwise_distances_argmin_min``), distances
  chunked to ``WORKING_MEMORY_MIB``.
* :func:`distance_blocks` -- exact Euclidean distances from query rows to all
  reference rows, ``BLOCK_ROWS`` query rows at a time with ``torch.cdist``
  (BLAS matrix products; a block of 2048 x 20000 float32 is 160 MB), for the
  reductions no library call does: ball membership with a radius per
  reference point, and realism (science/quality/precision_recall.py).

Both are exact; neither holds an (M, N) distance matrix in memory.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import torch
from sklearn import config_context
from sklearn.metrics import pairwise_distances_argmin_min
from sklearn.neighbors import NearestNeighbors

#: query rows per block of :func:`distance_blocks`
BLOCK_ROWS = 2048
#: MiB per distance chunk inside scikit-learn's kneighbors (its default is 1024)
WORKING_MEMORY_MIB = 32


def _float32(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))


def distance_blocks(query: np.ndarray, reference: np.ndarray, block_rows: int = BLOCK_ROWS, *,
                    squared: bool = False) -> Iterator[tuple[slice, torch.Tensor]]:
    """Yield (rows, distances): ``distances[i, j]`` = |query[rows][i] - reference[j]| as float32 (b, N).

    ``squared``: yield |q - r|^2 instead, as |q|^2 + |r|^2 - 2 q.r (one matrix product per block, clamped at 0;
    about a third of ``cdist``'s time, for callers that need the squares, such as a Gaussian kernel). It loses
    precision when the points lie far from the origin compared with their distances: centre them first.
    """
    ref = _float32(reference)
    ref_sq = ref.square().sum(dim=1).unsqueeze(0) if squared else None
    for start in range(0, len(query), block_rows):
        rows = slice(start, min(start + block_rows, len(query)))
        block = _float32(query[rows])
        if squared:
            # ref_sq - 2 q r^T, then + |q|^2
            yield rows, torch.addmm(ref_sq, block, ref.T, alpha=-2.0).add_(
                block.square().sum(dim=1, keepdim=True)).clamp_(min=0.0)
        else:
            yield rows, torch.cdist(block, ref)


def nearest_distances(query: np.ndarray, reference: np.ndarray, exclude_self: bool = False) -> np.ndarray:
    """(M,) float32 distance from each query row to its nearest reference row.

    With ``exclude_self`` (query and reference are the same rows) row i
    ignores reference row i: the distance to the nearest *other* point (0 for
    a duplicate). scikit-learn does the search, chunked to ``WORKING_MEMORY_MIB``.
    """
    if exclude_self:
        return _sorted_neighbour_distances(reference, 2)[:, 1]
    with config_context(working_memory=WORKING_MEMORY_MIB):
        _, distances = pairwise_distances_argmin_min(np.asarray(query, dtype=np.float32),
                                                     np.asarray(reference, dtype=np.float32))
    return distances.astype(np.float32)


def kth_neighbour_distances(x: np.ndarray, k: int) -> np.ndarray:
    """(N,) float32 distance of every row of ``x`` to its k-th nearest other row."""
    return _sorted_neighbour_distances(x, k + 1)[:, k]


def _sorted_neighbour_distances(x: np.ndarray, n: int) -> np.ndarray:
    """(N, n) float32: the n smallest distances of each row of ``x`` to the rows of ``x``, itself (0) included.

    Which of several rows at the same distance comes first does not change the
    sorted distances, so column j is the distance to the j-th nearest other row.
    """
    with config_context(working_memory=WORKING_MEMORY_MIB):
        distances, _ = NearestNeighbors(n_neighbors=n).fit(x).kneighbors(x)
    return distances.astype(np.float32)


def knn(points: np.ndarray, k: int, queries: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest *other* points of some rows of ``points``.

    Parameters
    ----------
    points : ndarray, shape (N, D)
    k : int
        Neighbours per query, 1 <= k < N.
    queries : int array, shape (M,), optional
        Rows of ``points`` to query (default: all rows).

    Returns
    -------
    distances : float array, shape (M, k), ascending per row
    indices : int64 array, shape (M, k), rows of ``points``; a query row is never its own neighbour
        (a duplicate of it may be).
    """
    queries = np.arange(len(points)) if queries is None else np.asarray(queries, dtype=np.int64)
    search = NearestNeighbors(n_neighbors=k + 1).fit(points)
    with config_context(working_memory=WORKING_MEMORY_MIB):
        dist, idx = search.kneighbors(points[queries])
    is_self = idx == queries[:, None]
    is_self[~is_self.any(axis=1), -1] = True  # the row itself fell beyond k+1 (ties): drop the farthest
    keep = ~is_self
    return dist[keep].reshape(len(queries), k), idx[keep].reshape(len(queries), k).astype(np.int64)


#: query rows per pass of :func:`neighbour_resultant` (4096 x k x d float32 offsets)
RESULTANT_ROWS = 4096


def nearest_k(query: np.ndarray, reference: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest rows of ``reference`` (M, d), M >= k, to each row of ``query`` (N, d) (other points than
    the reference's): distances (N, k) float32 ascending, and their indices (N, k) int64."""
    search = NearestNeighbors(n_neighbors=k).fit(np.asarray(reference, dtype=np.float32))
    with config_context(working_memory=WORKING_MEMORY_MIB):
        distances, indices = search.kneighbors(np.asarray(query, dtype=np.float32))
    return distances.astype(np.float32), indices.astype(np.int64)


def resultant_of(points: np.ndarray, reference: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """(N,) float64 in [0, 1]: for each row of ``points`` (N, d), the length of the mean of the unit vectors from it
    to its neighbours ``reference[indices[i]]`` (``indices`` (N, k)); a neighbour at distance 0 adds a zero vector."""
    points = np.asarray(points, dtype=np.float32)
    reference = np.asarray(reference, dtype=np.float32)
    out = np.empty(len(points))
    for start in range(0, len(points), RESULTANT_ROWS):
        rows = slice(start, start + RESULTANT_ROWS)
        offsets = (reference[indices[rows]] - points[rows, None, :]).astype(np.float64)
        lengths = np.linalg.norm(offsets, axis=2, keepdims=True)
        units = np.divide(offsets, lengths, out=np.zeros_like(offsets), where=lengths > 0)
        out[rows] = np.linalg.norm(units.mean(axis=1), axis=1)
    return out


def neighbour_resultant(points: np.ndarray | None, reference: np.ndarray, k: int,
                        self_rows: np.ndarray | None = None) -> np.ndarray:
    """(N,) float64 in [0, 1]: for each row of ``points`` (N, d), the length of the mean of the unit vectors from it
    to its ``k`` nearest rows of ``reference`` (M, d), M > k (:func:`resultant_of`).

    0: the neighbours surround the point (as deep inside a cloud); 1: they all lie in one direction (the point is
    beyond the cloud's rim). With ``self_rows`` (N,) instead of ``points``, the points are those rows of
    ``reference`` and a row is not its own neighbour.
    """
    if self_rows is not None:
        self_rows = np.asarray(self_rows, dtype=np.int64)
        return resultant_of(np.asarray(reference)[self_rows], reference, knn(reference, k, self_rows)[1])
    return resultant_of(points, reference, nearest_k(points, reference, k)[1])


__all__ = ["BLOCK_ROWS", "distance_blocks", "nearest_distances", "kth_neighbour_distances", "knn", "nearest_k",
           "resultant_of", "neighbour_resultant"]
