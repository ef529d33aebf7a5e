"""Row bookkeeping shared by every layer: chunked passes and seeded subsamples.

One home for "which rows": analyses stream over row chunks, and every
subsample zspace draws (t-SNE points, void references, sampler fits, report
scatters) comes from :func:`seeded_subsample`, so the same seed picks the same
rows everywhere.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import numpy as np

#: rows per chunk in the streaming passes; 16384 x 256 float32 is 16 MiB
CHUNK_ROWS = 16384
_chunk_rows = CHUNK_ROWS


def chunk_rows() -> int:
    """Rows per block of the streaming passes now (:data:`CHUNK_ROWS` unless :func:`chunked_by` changed it)."""
    return _chunk_rows


@contextlib.contextmanager
def chunked_by(rows: int) -> Iterator[None]:
    """Run the streaming passes inside the block with ``rows`` rows per chunk (tests use tiny chunks)."""
    global _chunk_rows
    if rows < 1:
        raise ValueError(f"chunk rows must be >= 1, got {rows}")
    before, _chunk_rows = _chunk_rows, int(rows)
    try:
        yield
    finally:
        _chunk_rows = before


def row_chunks(n_rows: int, rows_per_chunk: int | None = None) -> Iterator[slice]:
    """Slices that cover ``range(n_rows)`` in consecutive blocks of ``rows_per_chunk`` (default :func:`chunk_rows`)."""
    step = rows_per_chunk or _chunk_rows
    for start in range(0, n_rows, step):
        yield slice(start, min(start + step, n_rows))


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


def float32_block(x, rows: slice | np.ndarray) -> np.ndarray:
    """Rows ``rows`` of an (N, d) array or :class:`~zspace.core.arrays.RowStore` as a writable C-contiguous float32 array.

    A view when ``x`` is an in-memory float32 array and ``rows`` a slice;
    otherwise a copy of those rows only.
    """
    block = x[rows]
    if block.dtype == np.float32 and block.flags.c_contiguous and block.flags.writeable:
        return block
    with np.errstate(over="ignore"):
        return np.array(block, dtype=np.float32, order="C")


__all__ = ["CHUNK_ROWS", "chunk_rows", "chunked_by", "row_chunks", "seeded_subsample", "subsample_rows",
           "float32_block"]
