"""Analysis 7: variational statistics of a VAE from z, mu and logvar.

Counts are over all N x d components. Radii are L2 norms of rows (z units).
The relative radius difference is |R_z - R_mu| / R_mu over rows with R_mu > 0.
Active units (Burda, Grosse & Salakhutdinov 2016): dimension j is active when
Cov_x(E_q[z_j | x]) = Var over the data of mu[:, j] (ddof = 0) exceeds the threshold.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from zspace.analysis.radius import block_radii
from zspace.core.config import Config
from zspace.core.results import Result
from zspace.core.rows import float32_block, row_chunks


@dataclasses.dataclass
class VaeStatsConfig(Config):
    """Settings of :func:`vae_statistics`.

    Parameters
    ----------
    logvar_edges : tuple of float, default (-20, -15, -10, -5, -2, -1, 0)
        Interval edges; counts are reported for (-inf, e0), [e0, e1), ..., [e_last, inf).
    deviation_threshold : float, default 0.05
        Count components with |z - mu| above this (z units; SPEC 4.7).
    active_unit_threshold : float, default 0.01
        Burda et al. (2016) activity threshold on Var(mu_j) (z units squared).
    """

    logvar_edges: tuple[float, ...] = (-20.0, -15.0, -10.0, -5.0, -2.0, -1.0, 0.0)
    deviation_threshold: float = 0.05
    active_unit_threshold: float = 0.01


@dataclasses.dataclass
class LogvarInterval:
    """Components with lo <= logvar < hi (lo may be -inf, hi may be inf)."""

    lo: float
    hi: float
    count: int


@dataclasses.dataclass
class Summary:
    """min, max and mean of a quantity."""

    min: float
    max: float
    mean: float


@dataclasses.dataclass
class VaeStatsResult(Result):
    """Variational statistics (see the module docstring for the definitions)."""

    n_points: int
    dim: int
    logvar: Summary
    logvar_intervals: list[LogvarInterval]
    max_abs_z_minus_mu: float
    deviation_threshold: float
    count_abs_z_minus_mu_above: int
    radius_z: Summary
    radius_mu: Summary
    radius_abs_diff_max: float
    radius_abs_diff_mean: float
    radius_rel_diff_max: float
    radius_rel_diff_mean: float
    active_unit_threshold: float
    active_units: int
    active_unit_indices: list[int]
    mu_variance: np.ndarray

    def headline(self) -> dict[str, float | int]:
        """The statistics compared side by side across runs (SPEC 4.7)."""
        return {"logvar.min": self.logvar.min, "logvar.max": self.logvar.max, "logvar.mean": self.logvar.mean,
                "max_abs_z_minus_mu": self.max_abs_z_minus_mu,
                "count_abs_z_minus_mu_above": self.count_abs_z_minus_mu_above,
                "radius_rel_diff_max": self.radius_rel_diff_max, "radius_rel_diff_mean": self.radius_rel_diff_mean,
                "active_units": self.active_units}


def vae_statistics(z: np.ndarray, mu: np.ndarray, logvar: np.ndarray,
                   config: VaeStatsConfig | None = None) -> VaeStatsResult:
    """Statistics of the posterior parameters of a VAE.

    Parameters
    ----------
    z, mu, logvar : numpy.ndarray, float32, shape (N, d)
        Sampled latent, posterior mean and log-variance, row-aligned.
    config : VaeStatsConfig, optional

    Returns
    -------
    VaeStatsResult
    """
    cfg = config or VaeStatsConfig()
    n, d = z.shape
    edges = np.concatenate([[-np.inf], np.asarray(cfg.logvar_edges, dtype=np.float64), [np.inf]])
    interval_counts = np.zeros(len(edges) - 1, dtype=np.int64)
    lv_min, lv_max, lv_sum = np.inf, -np.inf, 0.0
    dev_max, dev_count = 0.0, 0
    mu_sum = np.zeros(d)
    mu_sq_sum = np.zeros(d)
    radius = {name: _Running() for name in ("z", "mu", "abs_diff", "rel_diff")}
    for rows in row_chunks(n):
        lv = float32_block(logvar, rows)
        lv_min, lv_max = min(lv_min, float(lv.min())), max(lv_max, float(lv.max()))
        lv_sum += float(lv.sum(dtype=np.float64))
        # bin i holds edges[i] <= x < edges[i+1]
        interval_counts += np.bincount(np.searchsorted(edges, lv.ravel(), side="right") - 1,
                                       minlength=len(interval_counts))[:len(interval_counts)]
        z_rows, mu_rows = float32_block(z, rows), float32_block(mu, rows)
        dev = np.abs(z_rows - mu_rows)
        dev_max = max(dev_max, float(dev.max()))
        dev_count += int((dev > cfg.deviation_threshold).sum())
        m = mu_rows.astype(np.float64)
        mu_sum += m.sum(axis=0)
        mu_sq_sum += (m * m).sum(axis=0)
        r_z, r_mu = block_radii(z_rows), block_radii(mu_rows)
        abs_diff = np.abs(r_z - r_mu)
        positive = r_mu > 0
        for name, values in (("z", r_z), ("mu", r_mu), ("abs_diff", abs_diff),
                             ("rel_diff", abs_diff[positive] / r_mu[positive])):
            radius[name].add(values)
    mu_mean = mu_sum / n
    mu_var = np.clip(mu_sq_sum / n - mu_mean ** 2, 0.0, None)
    active = np.flatnonzero(mu_var > cfg.active_unit_threshold)
    rel = radius["rel_diff"]
    return VaeStatsResult(
        n_points=n, dim=d, logvar=Summary(lv_min, lv_max, lv_sum / (n * d)),
        logvar_intervals=[LogvarInterval(float(lo), float(hi), int(c))
                          for lo, hi, c in zip(edges[:-1], edges[1:], interval_counts)],
        max_abs_z_minus_mu=dev_max, deviation_threshold=cfg.deviation_threshold,
        count_abs_z_minus_mu_above=dev_count,
        radius_z=radius["z"].summary(), radius_mu=radius["mu"].summary(),
        radius_abs_diff_max=radius["abs_diff"].max, radius_abs_diff_mean=radius["abs_diff"].mean,
        radius_rel_diff_max=rel.max if rel.count else float("nan"),
        radius_rel_diff_mean=rel.mean if rel.count else float("nan"),
        active_unit_threshold=cfg.active_unit_threshold, active_units=int(active.size),
        active_unit_indices=active.tolist(), mu_variance=mu_var)


class _Running:
    """Min, max and mean of values seen block by block."""

    def __init__(self) -> None:
        self.min, self.max, self.total, self.count = np.inf, -np.inf, 0.0, 0

    def add(self, values: np.ndarray) -> None:
        if values.size:
            self.min, self.max = min(self.min, float(values.min())), max(self.max, float(values.max()))
            self.total += float(values.sum())
            self.count += values.size

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else float("nan")

    def summary(self) -> Summary:
        return Summary(self.min, self.max, self.mean)
