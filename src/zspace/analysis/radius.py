"""Analysis 2: number density against the radius R = ||z||_2.

Beside the histograms stands the expectation for N(0, I_d): R then follows
the chi distribution with d degrees of freedom (mode sqrt(d - 1), mean close
to sqrt(d - 1/2)). How far the cloud is from it is measured, *unscaled*
(the radii are compared with chi_d as they are), by

* the Wasserstein-1 distance W1 = integral |F_emp^-1(u) - F_chi^-1(u)| du,
  in z units (how far, on average, a radius must move to match chi_d), and
* the Kolmogorov-Smirnov statistic sup |F_emp(R) - F_chi(R)|, in [0, 1].

Memory: one vector of the N radii (float64, 8 bytes a point), sorted in
place; every other quantity is computed from it in row blocks (no quantile
or CDF vector of length N).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import numpy as np
from scipy import stats

from zspace.core.config import Config
from zspace.core.results import Result
from zspace.core.rows import float32_block, row_chunks


@dataclasses.dataclass
class RadiusConfig(Config):
    """Settings of :func:`radius_density`.

    Parameters
    ----------
    bin_widths : tuple of float, default (0.5, 0.05)
        One histogram per width, in z units (SPEC 4.2).
    r_max : float, default 35.0
        Upper end of the histograms; raised to the largest radius when that is
        larger (SPEC 4.2 uses 0..35 for d = 256).
    shells : tuple of (float, float), default ((12, 24), (14, 19))
        Shells lo <= R < hi whose share of points is reported (SPEC 4.2).
    max_bins : int, default 200000
        Cap on bins per histogram; radii beyond are counted as overflow.
    """

    bin_widths: tuple[float, ...] = (0.5, 0.05)
    r_max: float = 35.0
    shells: tuple[tuple[float, float], ...] = ((12.0, 24.0), (14.0, 19.0))
    max_bins: int = 200000


@dataclasses.dataclass
class RadiusHistogram:
    """One histogram of R with the chi_d expectation on the same bins.

    Attributes
    ----------
    bin_edges : float array, shape (B + 1,), z units, from 0
    counts : int array, shape (B,)
    chi_expected_counts : float array, shape (B,)
        N * P(R in bin) for R ~ chi_d.
    peak_radius : float
        Centre of the fullest bin (z units).
    overflow : int
        Points with R >= the last edge.
    """

    bin_width: float
    bin_edges: np.ndarray
    counts: np.ndarray
    chi_expected_counts: np.ndarray
    peak_radius: float
    overflow: int


@dataclasses.dataclass
class Shell:
    """Share of points with lo <= R < hi, and the share expected under chi_d."""

    lo: float
    hi: float
    count: int
    share: float
    chi_share: float


@dataclasses.dataclass
class RadiusResult(Result):
    """Radius statistics of the cloud and their chi_d counterparts (radii in z units)."""

    n_points: int
    dim: int
    min: float
    max: float
    mean: float
    median: float
    std: float
    histograms: list[RadiusHistogram]
    shells: list[Shell]
    chi_mode: float
    chi_mean: float
    chi_std: float
    wasserstein1_to_chi: float
    ks_to_chi: float
    distance_note: str

    def headline(self) -> dict[str, float]:
        """Peak of the first histogram (z units) and the distance to the chi_d curve."""
        return {"peak_radius": self.histograms[0].peak_radius, "wasserstein1_to_chi": self.wasserstein1_to_chi}

    def density(self, histogram: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The number density of R and chi_d's on the bins of histogram ``histogram`` (see :func:`density_curve`)."""
        h = self.histograms[histogram]
        return density_curve(h.bin_edges, h.counts, h.chi_expected_counts, self.n_points)

    @staticmethod
    def density_of_json(saved: Mapping[str, Any], histogram: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`density` read from the result's JSON (``analysis.json["analyses"]["radius"]``, :meth:`to_json`)."""
        h = saved["histograms"][histogram]
        return density_curve(h["bin_edges"], h["counts"], h["chi_expected_counts"], saved["n_points"])


def density_curve(bin_edges: Any, counts: Any, chi_expected_counts: Any,
                  n_points: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Histogram counts as a density: (bin centres, points per unit R / N, the same for chi_d), each shape (B,).

    Counts are divided by N (at least 1) and by the bin width (z units), so
    curves of runs with different N and bin widths can share one plot.
    """
    edges = np.asarray(bin_edges, dtype=float)
    n = max(n_points, 1)
    width = np.diff(edges)
    centres = (edges[:-1] + edges[1:]) / 2
    return centres, np.asarray(counts) / n / width, np.asarray(chi_expected_counts) / n / width


def radii(z: np.ndarray) -> np.ndarray:
    """||z_i||_2 for every row, computed in chunks.

    Parameters
    ----------
    z : numpy array or RowStore, shape (N, d)

    Returns
    -------
    numpy.ndarray, float64, shape (N,)
    """
    out = np.empty(z.shape[0], dtype=np.float64)
    for rows in row_chunks(z.shape[0]):
        out[rows] = block_radii(float32_block(z, rows))
    return out


def block_radii(block: np.ndarray) -> np.ndarray:
    """||row||_2 of each row of an in-memory block (m, d), summed in float64; (m,) float64."""
    return np.sqrt(np.einsum("ij,ij->i", block, block, dtype=np.float64))


def radius_density(z: np.ndarray, config: RadiusConfig | None = None) -> RadiusResult:
    """Histogram ||z|| and compare it with the chi distribution of the same d.

    Parameters
    ----------
    z : numpy array or RowStore, float32, shape (N, d)
    config : RadiusConfig, optional

    Returns
    -------
    RadiusResult
    """
    cfg = config or RadiusConfig()
    n, d = z.shape
    r = radii(z)
    chi = stats.chi(d)
    r_max = max(cfg.r_max, float(r.max()))
    hists = []
    for bw in cfg.bin_widths:
        n_bins = int(min(cfg.max_bins, np.ceil(r_max / bw + 1e-9) + 1))
        edges = bw * np.arange(n_bins + 1)
        counts, _ = np.histogram(r, bins=edges)
        expected = n * np.diff(chi.cdf(edges))
        peak = int(np.argmax(counts))
        hists.append(RadiusHistogram(bin_width=bw, bin_edges=edges, counts=counts, chi_expected_counts=expected,
                                     peak_radius=float(edges[peak] + bw / 2), overflow=int((r >= edges[-1]).sum())))
    shells = []
    for lo, hi in cfg.shells:
        count = int(((r >= lo) & (r < hi)).sum())
        shells.append(Shell(lo=lo, hi=hi, count=count, share=count / n, chi_share=float(chi.cdf(hi) - chi.cdf(lo))))
    r.sort()  # in place: the one vector of N numbers
    mean = float(r.mean())
    w1 = ks = squares = 0.0
    for rows in row_chunks(n):
        block = r[rows]
        squares += float(np.square(block - mean).sum())
        i = np.arange(rows.start, rows.stop, dtype=np.float64)
        w1 += float(np.abs(block - chi.ppf((i + 0.5) / n)).sum())
        cdf = chi.cdf(block)  # KS two-sided, as scipy.stats.kstest: max over i of (i+1)/n - F(r_i), F(r_i) - i/n
        ks = max(ks, float(np.max((i + 1) / n - cdf)), float(np.max(cdf - i / n)))
    median = float(r[n // 2]) if n % 2 else float((r[n // 2 - 1] + r[n // 2]) / 2)
    return RadiusResult(
        n_points=n, dim=d, min=float(r[0]), max=float(r[-1]), mean=mean,
        median=median, std=float(np.sqrt(squares / n)), histograms=hists, shells=shells,
        chi_mode=float(np.sqrt(d - 1)), chi_mean=float(chi.mean()), chi_std=float(chi.std()),
        wasserstein1_to_chi=w1 / n, ks_to_chi=ks,
        distance_note="unscaled: radii compared with chi_d as they are; W1 in z units "
                      "(mean |sorted R - chi_d quantiles|), KS = sup |F_emp - F_chi| in [0, 1]")
