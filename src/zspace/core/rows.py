"""Row bookkeeping shared by every layer: chunked passes and seeded subsamples.

One home for "which rows": analyses stream over row chunks, and every
subsample zspace draws (t-SNE points, void references, sampler fits, report
scatters) comes from :func:`seeded_subsample`, so the same seed picks the same
rows everywhere.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

#: rows per chunk in the streaming passes; 16384 x 256 float32 is 16 MiB
CHUNK_ROWS = 16384


def row_chunks(n_rows: int, chunk_rows: int = CHUNK_ROWS) -> Iterator[slice]:
    """Slices that cover ``range(n_rows)`` in consecutive blocks of ``chunk_rows``."""
    for start in range(0, n_rows, chunk_rows):
        yield slice(start, min(start + chunk_rows, n_rows))


def seeded_subsample(n_rows: int, size: int | None, seed: int) -> np.ndarray:
    """Sorted row indices of a seeded sample without replacement; all rows if ``size`` >= ``n_rows``.

    Returns
    -------
    numpy.ndarray of int64, shape (min(size, n_rows),)
    """
    if size is None or size >= n_rows:
        return np.arange(n_rows, dtype=np.int64)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_rows, size=size, replace=False)).astype(np.int64)


def subsample_rows(x: np.ndarray, size: int | None, seed: int) -> np.ndarray:
    """The rows of ``x`` (N, ...) picked by :func:`seeded_subsample`; ``x`` itself when all are kept."""
    if size is None or size >= len(x):
        return x
    return x[seeded_subsample(len(x), size, seed)]


__all__ = ["CHUNK_ROWS", "row_chunks", "seeded_subsample", "subsample_rows"]
