"""Analysis 5: PCA spectrum, and t-SNE of the leading principal components.

The covariance matrix (ddof = 1, as scikit-learn's ``explained_variance_``)
is accumulated in float64 over row chunks and diagonalised with ``eigh``; no
centred copy of the data is made. Components are the eigenvectors, sorted by
decreasing variance, each with its largest-magnitude entry positive.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from zspace.analysis.tsne import TsneConfig, TsneResult, embed, method_note
from zspace.core.config import Config
from zspace.core.progress import progress
from zspace.core.results import Result, Scatter, array_field
from zspace.core.rows import row_chunks, seeded_subsample


@dataclasses.dataclass
class PcaConfig(Config):
    """Settings of :func:`pca_analysis`.

    Parameters
    ----------
    tsne_components : tuple of int, default (2, 4, 10)
        t-SNE maps of the leading m components (SPEC 4.5); m >= d is skipped.
        The maps use the first variant and other settings of the t-SNE config.
    tsne_sample_size : int, default 5000
        Points in these maps (seeded subsample). A quarter of the t-SNE default:
        maps of 2 to 10 input dimensions cost more per point than maps of z
        (measured 59 s per 10k-point map against 77 s per 20k-point map), and
        three of them at 10k took the battery past 5 minutes at 170k x 256 on
        2 shared cores (benchmarks/RESULTS.md); raise it freely.
    variance_levels : tuple of float, default (0.9, 0.95, 0.99)
        Report how many components reach each share of the total variance.
    tsne_ints_in_interval : float, default 2.0
        FFT grid of these maps. Coarser than the maps of z (openTSNE's 1): maps
        of 2 to 10 input dimensions are pictures of the leading components, and
        on openTSNE's grid the three of them took 150 s of a 170k-point battery
        on 2 cores (35 s on this grid), which would break its 300 s budget.
    """

    tsne_components: tuple[int, ...] = (2, 4, 10)
    tsne_sample_size: int = 5000
    variance_levels: tuple[float, ...] = (0.9, 0.95, 0.99)
    tsne_ints_in_interval: float = 2.0


@dataclasses.dataclass
class PcaResult(Result):
    """Principal components of z.

    Attributes
    ----------
    explained_variance : float array, shape (d,)
        Variance along each component, z units squared, decreasing.
    explained_variance_ratio : float array, shape (d,)
        Share of the total variance.
    components_for_level : dict str -> int
        Fewest leading components whose shares add up to each level.
    tsne : TsneResult or None
        Maps named ``pca2``, ``pca4``, ...
    mean : float array, shape (d,) (not in JSON)
    components : float array, shape (d, d), row i = component i + 1 (not in JSON)
    """

    n_points: int
    dim: int
    total_variance: float
    explained_variance: np.ndarray
    explained_variance_ratio: np.ndarray
    components_for_level: dict[str, int]
    tsne: TsneResult | None = None
    mean: np.ndarray = array_field()
    components: np.ndarray = array_field()

    def scatters(self) -> dict[str, Scatter]:
        """The t-SNE maps of the leading components (``tsne_pca2``, ...), when they were made."""
        return self.tsne.scatters() if self.tsne is not None else {}


def fit_pca(z: np.ndarray, variance_levels: tuple[float, ...] = PcaConfig.variance_levels) -> PcaResult:
    """Principal components of ``z`` (all d of them).

    Parameters
    ----------
    z : numpy array or RowStore, shape (N, d), N >= 2
    variance_levels : tuple of float

    Returns
    -------
    PcaResult (without t-SNE)
    """
    n, d = z.shape
    mean = np.zeros(d)
    for rows in row_chunks(n):
        mean += z[rows].sum(axis=0, dtype=np.float64)
    mean /= n
    cov = np.zeros((d, d))
    for rows in row_chunks(n):
        block = z[rows].astype(np.float64) - mean
        cov += block.T @ block
    cov /= n - 1
    values, vectors = np.linalg.eigh(cov)
    order = np.argsort(values)[::-1]
    values = np.clip(values[order], 0.0, None)
    components = vectors[:, order].T
    signs = np.sign(components[np.arange(d), np.argmax(np.abs(components), axis=1)])
    components *= signs[:, None]
    total = float(values.sum())
    ratio = values / total if total > 0 else np.zeros(d)
    cumulative = np.cumsum(ratio)
    levels = {f"{lv:g}": int(min(d, np.searchsorted(cumulative, lv - 1e-12) + 1)) for lv in variance_levels}
    return PcaResult(n_points=n, dim=d, total_variance=total, explained_variance=values,
                     explained_variance_ratio=ratio, components_for_level=levels, mean=mean,
                     components=components)


def project(z: np.ndarray, pca: PcaResult, components: list[int] | np.ndarray) -> np.ndarray:
    """Coordinates of ``z`` along the given principal components.

    Parameters
    ----------
    z : numpy array or RowStore, shape (N, d)
    pca : PcaResult
    components : sequence of int
        0-based component indices (0 = the largest-variance component).

    Returns
    -------
    numpy.ndarray, float32, shape (N, len(components))
    """
    basis = pca.components[np.asarray(components)].T.astype(np.float32)  # (d, m)
    shift = (pca.mean.astype(np.float32) @ basis)
    out = np.empty((z.shape[0], basis.shape[1]), dtype=np.float32)
    for rows in row_chunks(z.shape[0]):
        out[rows] = z[rows] @ basis - shift
    return out


def pca_analysis(z: np.ndarray, config: PcaConfig | None = None, tsne_config: TsneConfig | None = None,
                 seed: int = 0, show_progress: bool = True) -> PcaResult:
    """PCA spectrum of ``z`` and t-SNE maps of its leading components.

    Parameters
    ----------
    z : numpy array or RowStore, float32, shape (N, d)
    config : PcaConfig, optional
    tsne_config : TsneConfig, optional
        Settings and (first) variant for the maps; pass a config with
        ``variants=()`` or ``PcaConfig(tsne_components=())`` to skip them.
    seed : int, default 0
        Seeds the subsample and the maps.

    Returns
    -------
    PcaResult
    """
    cfg = config or PcaConfig()
    tcfg = dataclasses.replace(tsne_config or TsneConfig(), sample_size=cfg.tsne_sample_size,
                               ints_in_interval=cfg.tsne_ints_in_interval)
    result = fit_pca(z, cfg.variance_levels)
    wanted = [m for m in cfg.tsne_components if 1 <= m < z.shape[1]]
    index = seeded_subsample(z.shape[0], tcfg.sample_size, seed)
    if wanted and tcfg.variants and len(index) >= tcfg.min_points:
        coords = project(z[index], result, list(range(max(wanted))))
        ms = progress(wanted, desc="t-SNE of PCA", unit="map", leave=False) if show_progress else wanted
        maps = [embed(np.ascontiguousarray(coords[:, :m]), tcfg.variants[0], tcfg, seed, name=f"pca{m}") for m in ms]
        result.tsne = TsneResult(n_points_total=z.shape[0], n_points_embedded=len(index), seed=seed,
                                 method=method_note(tcfg), maps=maps, sample_index=index)
    return result
