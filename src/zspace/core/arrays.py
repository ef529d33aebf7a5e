"""A latent matrix larger than memory: memory-mapped parts read as one (N, d) float32 array, row block by row block.

:class:`RowStore` is what the analyses receive for a file input. It answers
the few questions they ask of an array -- ``shape``, ``len``, a block of rows
``store[a:b]`` and a set of rows ``store[index]`` -- and copies only the rows
asked for, converted to float32. Behind it lie one or more read-only memory
maps (a .npy, an uncompressed .npz member, the shards of a directory, in
order) and, when some rows were dropped at the door (NaN/inf), the sorted
numbers of the rows kept. A 10M x 256 float32 file (10 GB) is thus analysed
with the memory of a few row blocks: the operating system pages the file in
and out as the passes go.

numpy arrays (in memory or mapped) answer the same questions with the same
syntax, so every analysis takes either.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


class RowStore:
    """Read-only (N, d) float32 view of row-concatenated 2-D parts, optionally restricted to kept rows.

    Parameters
    ----------
    parts : sequence of numpy.ndarray (usually ``np.memmap``), each (n_i, d), any real dtype
        Read in this order as one matrix of sum(n_i) rows.
    keep : int array, shape (N,), optional
        Sorted row numbers of the concatenation that are part of the store
        (default: all rows).

    Indexing
    --------
    ``store[a:b]`` (step 1) -> float32 ndarray (b - a, d), a fresh copy;
    ``store[index]`` (int array or list) -> float32 ndarray (len(index), d), in the order given;
    ``store[i]`` -> float32 ndarray (d,). ``np.asarray(store)`` copies every row (for small N only).
    """

    def __init__(self, parts: Sequence[np.ndarray], keep: np.ndarray | None = None) -> None:
        if not parts:
            raise ValueError("a RowStore needs at least one part")
        dims = {p.shape[1] if p.ndim == 2 else None for p in parts}
        if len(dims) != 1 or None in dims:
            raise ValueError(f"parts must be 2-D with one column count, got shapes {[p.shape for p in parts]}")
        self.parts = list(parts)
        self.offsets = np.concatenate([[0], np.cumsum([len(p) for p in self.parts])]).astype(np.int64)
        self.keep = None if keep is None else np.asarray(keep, dtype=np.int64)
        n = int(self.offsets[-1]) if self.keep is None else len(self.keep)
        self.shape = (n, int(dims.pop()))

    dtype = np.dtype(np.float32)
    ndim = 2

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def size(self) -> int:
        """Number of values, N * d (as ``ndarray.size``)."""
        return self.shape[0] * self.shape[1]

    @property
    def nbytes(self) -> int:
        """Bytes of the whole matrix in float32 (what ``np.asarray`` would allocate)."""
        return self.shape[0] * self.shape[1] * 4

    def select(self, rows: np.ndarray) -> "RowStore":
        """The store restricted to ``rows`` (sorted int array of its own row numbers)."""
        rows = np.asarray(rows, dtype=np.int64)
        return RowStore(self.parts, rows if self.keep is None else self.keep[rows])

    def __getitem__(self, key) -> np.ndarray:
        if isinstance(key, slice):
            start, stop, step = key.indices(self.shape[0])
            if step != 1:
                return self._rows(np.arange(start, stop, step, dtype=np.int64))
            if self.keep is None:
                return self._base_range(start, max(start, stop))
            return self._kept_range(start, max(start, stop))
        if isinstance(key, (int, np.integer)):
            i = int(key) + (self.shape[0] if key < 0 else 0)
            if not 0 <= i < self.shape[0]:
                raise IndexError(f"row {key} out of range for {self.shape[0]} rows")
            return self[i:i + 1][0]
        if isinstance(key, tuple):
            raise TypeError("a RowStore is read by rows: take store[rows] first, then the columns of that block")
        index = np.asarray(key)
        if index.dtype == bool:
            return self._rows(np.flatnonzero(index))
        return self._rows(index.astype(np.int64, copy=False))

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        if copy is False:
            raise ValueError("a RowStore is read from its files: np.asarray(store) always copies every row")
        out = self[0:self.shape[0]]
        return out if dtype is None else out.astype(dtype, copy=False)

    def __repr__(self) -> str:
        dropped = "" if self.keep is None else f", {int(self.offsets[-1]) - len(self.keep)} rows dropped"
        return f"RowStore(shape={self.shape}, parts={len(self.parts)}{dropped})"

    # -- reading ---------------------------------------------------------------------------------

    def _base_range(self, start: int, stop: int) -> np.ndarray:
        """Rows [start, stop) of the concatenated parts as float32."""
        out = np.empty((stop - start, self.shape[1]), dtype=np.float32)
        first = int(np.searchsorted(self.offsets, start, side="right")) - 1
        at = start
        with np.errstate(over="ignore"):  # beyond float32: infinite, as the in-memory conversion does
            for p in range(max(first, 0), len(self.parts)):
                if at >= stop:
                    break
                lo, hi = at - self.offsets[p], min(stop, self.offsets[p + 1]) - self.offsets[p]
                if hi > lo:
                    out[at - start:at - start + hi - lo] = self.parts[p][lo:hi]
                    at += hi - lo
        return out

    def _kept_range(self, start: int, stop: int) -> np.ndarray:
        """Kept rows [start, stop): one read of the base rows they span, then the kept ones picked."""
        if stop == start:
            return np.empty((0, self.shape[1]), dtype=np.float32)
        base = self.keep[start:stop]
        first, last = int(base[0]), int(base[-1]) + 1
        block = self._base_range(first, last)
        return block if last - first == len(base) else block[base - first]

    def _rows(self, index: np.ndarray) -> np.ndarray:
        """Rows ``index`` (any order, repeats allowed) as float32."""
        n = self.shape[0]
        if index.size and (index.min() < -n or index.max() >= n):
            raise IndexError(f"row index out of range for {n} rows")
        index = np.where(index < 0, index + n, index)
        base = index if self.keep is None else self.keep[index]
        out = np.empty((len(base), self.shape[1]), dtype=np.float32)
        order = np.argsort(base, kind="stable")  # read each part forwards
        sorted_base = base[order]
        part_of = np.searchsorted(self.offsets, sorted_base, side="right") - 1
        with np.errstate(over="ignore"):
            for p in np.unique(part_of):
                mask = part_of == p
                out[order[mask]] = self.parts[p][sorted_base[mask] - self.offsets[p]]
        return out


__all__ = ["RowStore"]
