"""Analysis 1: number density along each coordinate axis.

Every component z[:, j] is histogrammed with one common bin grid, and each
axis gets a robust centre (median) and width (sigma estimated from the
inter-quartile range, IQR / 1.349, which equals the standard deviation for a
Gaussian). Every statistic streams over row blocks (:mod:`zspace.analysis.columns`:
exact quantiles without holding a column in memory), so the input may be a
memory-mapped file larger than memory. An axis is listed as *off-centre* when ``|centre| >
centre_threshold * typical_width`` and as *broad* when ``width >
width_threshold * typical_width``, where ``typical_width`` is the median width
over all axes.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from zspace.analysis.columns import column_moments, column_quantiles, strided_sample
from zspace.core.config import Config
from zspace.core.results import Result
from zspace.core.rows import float32_block, row_chunks

#: IQR of a unit Gaussian; IQR / this = sigma for Gaussian data
GAUSSIAN_IQR = 1.3489795003921634


@dataclasses.dataclass
class AxisDensityConfig(Config):
    """Settings of :func:`axis_density`.

    Parameters
    ----------
    bin_width : float, default 0.25
        Histogram bin width, in z units (SPEC 4.1).
    centre_threshold : float, default 1.0
        An axis is off-centre when |median| > this many typical widths.
    width_threshold : float, default 2.0
        An axis is broad when its width > this many typical widths.
    max_bins : int, default 4000
        Cap on the number of bins; beyond it the range is clipped to the
        0.01 %..99.99 % quantiles and the rest is counted as under/overflow.
    """

    bin_width: float = 0.25
    centre_threshold: float = 1.0
    width_threshold: float = 2.0
    max_bins: int = 4000


@dataclasses.dataclass
class FlaggedAxis:
    """One row of the table of unusual axes (axis index is 0-based)."""

    axis: int
    centre: float
    width: float
    off_centre: bool
    broad: bool


@dataclasses.dataclass
class AxisDensityResult(Result):
    """Per-axis histograms, centres, widths and the table of unusual axes.

    Attributes
    ----------
    bin_edges : list of float, length B + 1 (z units)
    counts : int array, shape (d, B)
        Points of axis j in bin b. Density per unit z = counts / (N * bin_width).
    underflow, overflow : int array, shape (d,)
        Points below the first or above the last edge.
    centre : float array, shape (d,)
        Median of each axis (z units).
    width : float array, shape (d,)
        IQR / 1.349 of each axis (z units).
    mean, std : float array, shape (d,)
    typical_width : float
        Median of ``width`` over axes.
    rule : str
        The flagging rule in words, with the thresholds.
    flagged : list of FlaggedAxis
    """

    n_points: int
    bin_width: float
    bin_edges: np.ndarray
    counts: np.ndarray
    underflow: np.ndarray
    overflow: np.ndarray
    centre: np.ndarray
    width: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    typical_width: float
    centre_threshold: float
    width_threshold: float
    rule: str
    flagged: list[FlaggedAxis]


def axis_density(z: np.ndarray, config: AxisDensityConfig | None = None) -> AxisDensityResult:
    """Histogram every axis of ``z`` and list the off-centre or broad ones.

    Parameters
    ----------
    z : numpy array or RowStore, float32, shape (N, d)
    config : AxisDensityConfig, optional

    Returns
    -------
    AxisDensityResult
    """
    cfg = config or AxisDensityConfig()
    n, d = z.shape
    moments = column_moments(z)
    edges = _bin_edges(z, float(moments.min.min()), float(moments.max.max()), cfg)
    n_bins = len(edges) - 1
    counts = np.zeros(d * (n_bins + 2), dtype=np.int64)
    shift = np.arange(d, dtype=np.int64) * (n_bins + 2)
    for rows in row_chunks(n):
        bins = np.floor((float32_block(z, rows) - edges[0]) / cfg.bin_width).astype(np.int64)
        np.clip(bins, -1, n_bins, out=bins)
        # one bincount for all axes: axis j is shifted by j * (n_bins + 2); bin -1 is underflow, n_bins overflow
        counts += np.bincount((bins + 1 + shift).ravel(), minlength=d * (n_bins + 2))
    hist = counts.reshape(d, n_bins + 2)
    under, over, counts = hist[:, 0].copy(), hist[:, -1].copy(), hist[:, 1:-1].copy()
    quart = column_quantiles(z, (25, 50, 75), moments)
    mean, std = moments.mean, moments.std
    centre = quart[1]
    width = (quart[2] - quart[0]) / GAUSSIAN_IQR
    typical = float(np.median(width))
    off = np.abs(centre) > cfg.centre_threshold * typical
    broad = width > cfg.width_threshold * typical
    flagged = [FlaggedAxis(int(j), float(centre[j]), float(width[j]), bool(off[j]), bool(broad[j]))
               for j in np.flatnonzero(off | broad)]
    rule = (f"off-centre: |median| > {cfg.centre_threshold:g} x typical width; "
            f"broad: IQR/1.349 > {cfg.width_threshold:g} x typical width; "
            f"typical width = median over axes of IQR/1.349 = {typical:.4g}")
    return AxisDensityResult(
        n_points=n, bin_width=cfg.bin_width, bin_edges=edges, counts=counts, underflow=under, overflow=over,
        centre=centre, width=width, mean=mean, std=std, typical_width=typical,
        centre_threshold=cfg.centre_threshold, width_threshold=cfg.width_threshold, rule=rule, flagged=flagged)


def _bin_edges(z, lo: float, hi: float, cfg: AxisDensityConfig) -> np.ndarray:
    """Common bin edges on multiples of ``bin_width`` spanning [lo, hi] (or, for too many bins, a robust range)."""
    bw = cfg.bin_width
    if (hi - lo) / bw > cfg.max_bins:
        lo, hi = (float(v) for v in np.quantile(strided_sample(z), [1e-4, 1 - 1e-4]))
    lo_edge = np.floor(lo / bw) * bw
    n_bins = int(min(cfg.max_bins, max(1, np.ceil((hi - lo_edge) / bw + 1e-9))))
    if lo_edge + n_bins * bw <= hi:  # hi on an edge belongs to the last bin
        n_bins = min(cfg.max_bins, n_bins + 1)
    return lo_edge + bw * np.arange(n_bins + 1)
