"""Per-column statistics of an (N, d) matrix in streaming passes over row blocks: moments and exact quantiles.

Why by hand: numpy's ``percentile`` needs each column in memory (a 10M-row
column block is 40 MB per column, read 256 times from a row-major file), and
the streaming quantile sketches of the libraries (t-digest, KLL) are
approximate. Here the quantiles are *exact* -- equal to ``np.percentile``'s
default (linear) method -- after three passes over the rows, with memory
independent of N in all but degenerate cases:

1. min/max/mean/M2 of every column (:func:`column_moments`; Chan et al.'s
   pairwise merge of block moments, float64);
2. a histogram of every column on ``FINE_BINS`` bins spanning its robust
   range (quantiles 0.05 %..99.95 % of a strided sample, plus an underflow
   and an overflow bin): the cumulative counts say in which bin each wanted
   order statistic lies and how many values lie below that bin;
3. the values inside those bins are collected, sorted, and the order
   statistics read off.

A bin that holds more than ``COLLECT_LIMIT`` values (an atom such as a
column that is 0 for half of the rows) is narrowed by further passes over
only that bin's interval until it holds few values or a single distinct one.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from zspace.core.rows import float32_block, row_chunks

#: bins of the locating histogram per column (pass 2)
FINE_BINS = 16384
#: most values collected for one wanted order statistic before its bin is narrowed further
COLLECT_LIMIT = 1 << 20
#: rows of the strided sample that sets each column's locating range
RANGE_SAMPLE_ROWS = 20000


@dataclasses.dataclass
class ColumnMoments:
    """Per-column min, max, mean and standard deviation (ddof = 0), float64 arrays of shape (d,)."""

    n: int
    min: np.ndarray
    max: np.ndarray
    mean: np.ndarray
    std: np.ndarray


def column_moments(z) -> ColumnMoments:
    """Min, max, mean and std (ddof = 0) of every column of ``z`` (N, d), in one pass over row blocks."""
    n, d = z.shape
    lo = np.full(d, np.inf)
    hi = np.full(d, -np.inf)
    mean = np.zeros(d)
    m2 = np.zeros(d)
    seen = 0
    for rows in row_chunks(n):
        block = float32_block(z, rows)
        lo = np.minimum(lo, block.min(axis=0))
        hi = np.maximum(hi, block.max(axis=0))
        m = len(block)
        block_mean = block.mean(axis=0, dtype=np.float64)
        centred = block.astype(np.float64) - block_mean
        block_m2 = np.einsum("ij,ij->j", centred, centred)
        delta = block_mean - mean
        total = seen + m
        mean += delta * (m / total)
        m2 += block_m2 + delta ** 2 * (seen * m / total)
        seen = total
    return ColumnMoments(n=n, min=lo, max=hi, mean=mean, std=np.sqrt(m2 / max(n, 1)))


def strided_sample(z, rows: int = RANGE_SAMPLE_ROWS) -> np.ndarray:
    """Every (N // rows)-th row of ``z`` (about ``rows`` rows, float32), read without touching the others."""
    step = max(1, z.shape[0] // rows)
    return float32_block(z, np.arange(0, z.shape[0], step))


def column_quantiles(z, percentiles: tuple[float, ...], moments: ColumnMoments | None = None) -> np.ndarray:
    """Exact percentiles of every column, as ``np.percentile(z, percentiles, axis=0)`` (linear method).

    Parameters
    ----------
    z : (N, d) numpy array or RowStore
    percentiles : tuple of float in [0, 100]
    moments : ColumnMoments, optional
        From :func:`column_moments` when the caller has them (saves a pass).

    Returns
    -------
    numpy.ndarray, float64, shape (len(percentiles), d)
    """
    n, d = z.shape
    moments = moments or column_moments(z)
    # order statistics needed: floor(h) and floor(h) + 1 with h = (n - 1) q / 100 (numpy's linear method)
    h = (n - 1) * np.asarray(percentiles, dtype=np.float64) / 100.0
    lower = np.floor(h).astype(np.int64)
    ranks = np.unique(np.concatenate([lower, np.minimum(lower + 1, n - 1)]))
    values = _order_statistics(z, ranks, moments)  # (len(ranks), d)
    at = {int(r): i for i, r in enumerate(ranks)}
    out = np.empty((len(h), d))
    for i, (hq, lo) in enumerate(zip(h, lower)):
        a, b = values[at[int(lo)]], values[at[int(min(lo + 1, n - 1))]]
        t = hq - lo
        out[i] = a + (b - a) * t if t < 0.5 else b - (b - a) * (1 - t)
    return out


class _Grid:
    """The locating bins of pass 2: per column, bin 0 below ``lo``, 1..FINE_BINS inside, FINE_BINS + 1 above ``hi``.

    Exactness needs only that the binning be monotone in the value and computed the same way in every
    pass, so it runs in float32 (14 bits of bin number against float32's 24-bit mantissa).
    """

    def __init__(self, lo: np.ndarray, hi: np.ndarray) -> None:
        self.lo = lo.astype(np.float32)
        self.scale = (FINE_BINS / np.where(hi > lo, hi - lo, 1.0)).astype(np.float32)

    def bins(self, block: np.ndarray, cols: np.ndarray | slice = slice(None)) -> np.ndarray:
        """Bin of every value of ``block`` (m, c) whose columns are ``cols`` of the matrix; int64 (m, c).

        The arithmetic is elementwise, so a column gets the same bins whichever others come with it.
        """
        scaled = block - self.lo[cols]
        scaled *= self.scale[cols]
        np.floor(scaled, out=scaled)
        np.clip(scaled, -1, FINE_BINS, out=scaled)
        idx = scaled.astype(np.int64)
        idx += 1
        return idx


def _order_statistics(z, ranks: np.ndarray, moments: ColumnMoments) -> np.ndarray:
    """The ``ranks``-th smallest value (0-based) of every column: float64 (len(ranks), d)."""
    n, d = z.shape
    lo, hi = np.quantile(strided_sample(z), [0.0005, 0.9995], axis=0).astype(np.float64)
    grid = _Grid(np.minimum(lo, moments.max), np.maximum(hi, moments.min))
    width = FINE_BINS + 2
    counts = np.zeros(d * width, dtype=np.int64)
    shift = np.arange(d, dtype=np.int64) * width
    for rows in row_chunks(n):
        counts += np.bincount((grid.bins(float32_block(z, rows)) + shift).ravel(), minlength=d * width)
    counts = counts.reshape(d, width)
    cumulative = np.cumsum(counts, axis=1)
    columns = np.arange(d)
    # each wanted (rank, column): its bin, the values of the column in lower bins, and the values in the bin
    target_bin = np.stack([[int(np.searchsorted(cumulative[j], r, side="right")) for j in columns] for r in ranks])
    below = np.where(target_bin > 0, cumulative[columns[None, :], np.maximum(target_bin - 1, 0)], 0)
    in_bin = counts[columns[None, :], target_bin]
    out = np.empty((len(ranks), d))
    small = in_bin <= COLLECT_LIMIT
    pairs = sorted({(int(j), int(target_bin[t, j])) for t, j in zip(*np.nonzero(small))})
    collected = _collect_bins(z, pairs, grid)
    for t, j in zip(*np.nonzero(small)):
        values = collected[(int(j), int(target_bin[t, j]))]
        k = int(ranks[t] - below[t, j])
        out[t, j] = np.partition(values, k)[k]
    large = list(zip(*np.nonzero(~small)))
    if large:
        states = [_Narrowing(int(j), int(target_bin[t, j]), int(ranks[t] - below[t, j]), int(in_bin[t, j]))
                  for t, j in large]
        for (t, j), value in zip(large, _narrow(z, grid, states)):
            out[t, j] = value
    return out


def _collect_bins(z, pairs: list[tuple[int, int]], grid: _Grid) -> dict[tuple[int, int], np.ndarray]:
    """All values of column j that fall in locating bin b, for each (j, b) in ``pairs``, in one pass.

    The pairs are laid out as a (d, slots) table of wanted bins (-1 = none), so each block needs one
    comparison per slot, not one per pair.
    """
    if not pairs:
        return {}
    d = z.shape[1]
    per_column: dict[int, list[int]] = {}
    for j, b in pairs:
        per_column.setdefault(j, []).append(b)
    slots = max(len(bins) for bins in per_column.values())
    table = np.full((slots, d), -1, dtype=np.int64)
    for j, bins in per_column.items():
        table[:len(bins), j] = bins
    found: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in range(slots)]
    for rows in row_chunks(z.shape[0]):
        block = float32_block(z, rows)
        bins = grid.bins(block)
        wanted = bins == table[0]
        for slot in range(1, slots):
            wanted |= bins == table[slot]
        hit_rows, hit_cols = np.nonzero(wanted)  # few: the values of a handful of bins per column
        hit_bins, hit_values = bins[hit_rows, hit_cols], block[hit_rows, hit_cols]
        for slot in range(slots):
            mine = hit_bins == table[slot, hit_cols]
            if mine.any():
                found[slot].append((hit_cols[mine], hit_values[mine]))
    out = {}
    for slot in range(slots):
        cols = np.concatenate([c for c, _ in found[slot]]) if found[slot] else np.empty(0, np.int64)
        values = np.concatenate([v for _, v in found[slot]]) if found[slot] else np.empty(0, np.float32)
        order = np.argsort(cols, kind="stable")
        cols, values = cols[order], values[order]
        bounds = np.searchsorted(cols, np.arange(d + 1))
        for j in np.flatnonzero(table[slot] >= 0):
            out[(int(j), int(table[slot, j]))] = values[bounds[j]:bounds[j + 1]]
    return out


@dataclasses.dataclass
class _Narrowing:
    """One order statistic whose locating bin holds too many values to collect.

    ``steps`` are the sub-bins chosen so far, each (lo, scale, bin): a value is still a candidate when it is
    in locating bin ``first_bin`` of ``column`` and ``floor((v - lo) * scale)`` (clipped) equals ``bin`` at
    every step. ``rank`` counts from the smallest candidate; ``count`` is the number of candidates.
    """

    column: int
    first_bin: int
    rank: int
    count: int
    steps: list[tuple[float, float, int]] = dataclasses.field(default_factory=list)
    value: float | None = None


def _sub_bins(values: np.ndarray, lo: float, scale: float) -> np.ndarray:
    return np.clip(np.floor((values - lo) * scale).astype(np.int64), 0, FINE_BINS - 1)


def _narrow(z, grid: _Grid, states: list[_Narrowing]) -> list[float]:
    """Resolve every state by passes over the rows; each pass narrows, or collects, every unresolved one.

    A pass keeps, per state, the candidates' min and max and either the candidates themselves (when
    at most COLLECT_LIMIT) or their histogram on FINE_BINS sub-bins spanning the previous min..max.
    One distinct candidate value is the answer; otherwise the sub-bin holding the rank becomes a new step.
    """
    spans: dict[int, tuple[float, float]] = {}
    while any(s.value is None for s in states):
        active = [i for i, s in enumerate(states) if s.value is None]
        low = {i: np.inf for i in active}
        high = {i: -np.inf for i in active}
        kept: dict[int, list[np.ndarray]] = {i: [] for i in active}
        hist = {i: np.zeros(FINE_BINS, dtype=np.int64) for i in active}
        for rows in row_chunks(z.shape[0]):
            block = float32_block(z, rows)
            for i in active:
                s = states[i]
                column = block[:, [s.column]]
                values = column[grid.bins(column, np.array([s.column]))[:, 0] == s.first_bin, 0].astype(np.float64)
                for lo, scale, b in s.steps:
                    values = values[_sub_bins(values, lo, scale) == b]
                if not values.size:
                    continue
                low[i], high[i] = min(low[i], values.min()), max(high[i], values.max())
                if s.count <= COLLECT_LIMIT:
                    kept[i].append(values)
                elif i in spans:
                    lo, hi = spans[i]
                    hist[i] += np.bincount(_sub_bins(values, lo, FINE_BINS / (hi - lo)), minlength=FINE_BINS)
        for i in active:
            s = states[i]
            if low[i] == high[i]:
                s.value = float(low[i])
            elif s.count <= COLLECT_LIMIT:
                s.value = float(np.partition(np.concatenate(kept[i]), s.rank)[s.rank])
            elif i not in spans:
                spans[i] = (float(low[i]), float(high[i]))  # the next pass histograms over this span
            else:
                lo, hi = spans[i]
                cumulative = np.cumsum(hist[i])
                b = int(np.searchsorted(cumulative, s.rank, side="right"))
                s.rank -= int(cumulative[b - 1]) if b > 0 else 0
                s.count = int(hist[i][b])
                s.steps.append((lo, FINE_BINS / (hi - lo), b))
                del spans[i]
    return [float(s.value) for s in states]


__all__ = ["ColumnMoments", "column_moments", "column_quantiles", "strided_sample"]
