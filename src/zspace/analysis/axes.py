"""Analysis 1: number density along each coordinate axis.

Every component z[:, j] is histogrammed with one common bin grid, and each
axis gets a robust centre (median) and width (sigma estimated from the
inter-quartile range, IQR / 1.349, which equals the standard deviation for a
Gaussian). An axis is listed as *off-centre* when ``|centre| >
centre_threshold * typical_width`` and as *broad* when ``width >
width_threshold * typical_width``, where ``typical_width`` is the median width
over all axes.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from zspace.core.config import Config
from zspace.core.results import Result

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
    axes_per_pass : int, default 16
        Columns handled per pass (bounds the temporary memory).
    """

    bin_width: float = 0.25
    centre_threshold: float = 1.0
    width_threshold: float = 2.0
    max_bins: int = 4000
    axes_per_pass: int = 16


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
    z : numpy.ndarray, float32, shape (N, d)
    config : AxisDensityConfig, optional

    Returns
    -------
    AxisDensityResult
    """
    cfg = config or AxisDensityConfig()
    n, d = z.shape
    edges = _bin_edges(z, cfg)
    n_bins = len(edges) - 1
    counts = np.zeros((d, n_bins), dtype=np.int64)
    under = np.zeros(d, dtype=np.int64)
    over = np.zeros(d, dtype=np.int64)
    quart = np.zeros((3, d))
    mean = np.zeros(d)
    std = np.zeros(d)
    lo = edges[0]
    for start in range(0, d, cfg.axes_per_pass):
        cols = slice(start, min(start + cfg.axes_per_pass, d))
        block = np.array(z[:, cols], dtype=np.float32)  # (N, c) contiguous copy, small
        c = block.shape[1]
        bins = np.floor((block - lo) / cfg.bin_width).astype(np.int64)
        under[cols] = (bins < 0).sum(axis=0)
        over[cols] = (bins >= n_bins).sum(axis=0)
        np.clip(bins, -1, n_bins, out=bins)
        # one bincount for c axes: shift axis k by k * (n_bins + 2), bins -1 and n_bins are discarded
        flat = (bins + 1 + np.arange(c) * (n_bins + 2)).ravel()
        hist = np.bincount(flat, minlength=c * (n_bins + 2)).reshape(c, n_bins + 2)
        counts[cols] = hist[:, 1:-1]
        quart[:, cols] = np.percentile(block, [25, 50, 75], axis=0)
        mean[cols] = block.mean(axis=0, dtype=np.float64)
        std[cols] = block.std(axis=0, dtype=np.float64)
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


def _bin_edges(z: np.ndarray, cfg: AxisDensityConfig) -> np.ndarray:
    """Common bin edges on multiples of ``bin_width`` spanning the data (or its robust range)."""
    bw = cfg.bin_width
    lo, hi = float(z.min()), float(z.max())
    if (hi - lo) / bw > cfg.max_bins:
        sample = z[:: max(1, z.shape[0] // 20000)]
        lo, hi = (float(v) for v in np.quantile(sample, [1e-4, 1 - 1e-4]))
    lo_edge = np.floor(lo / bw) * bw
    n_bins = int(min(cfg.max_bins, max(1, np.ceil((hi - lo_edge) / bw + 1e-9))))
    if lo_edge + n_bins * bw <= hi:  # hi on an edge belongs to the last bin
        n_bins = min(cfg.max_bins, n_bins + 1)
    return lo_edge + bw * np.arange(n_bins + 1)
