"""Analysis 4: t-SNE to 2-D with openTSNE, and how much neighbourhood it keeps.

Each variant runs ``n_iter`` iterations in total, the first
``early_exaggeration_iter`` (250) of them with exaggeration, as scikit-learn
counts its ``max_iter``; openTSNE's FFT-accelerated gradient
(FIt-SNE, Linderman et al. 2019) on openTSNE's own grid (``ints_in_interval`` 1)
and, from 20k points on, on all cores. A coarser grid is faster but worse:
``ints_in_interval`` 2 took 0.37x-0.79x the time of openTSNE's defaults from
20k to 165k points but ended 2.3-5.8% higher in KL divergence, and 1.5 still
2.2% higher at 20k (bench_tsne.py), so the default keeps openTSNE's grid.
Points are a seeded subsample of the input.

kNN preservation: for ``knn_queries`` random points, the share of their
``knn_k`` nearest neighbours in the input space that are also among their
``knn_k`` nearest neighbours in the 2-D map (1 = every neighbourhood kept;
a random map scores about knn_k / n).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from zspace.core.config import Config
from zspace.core.device import available_cores
from zspace.core.errors import require
from zspace.core.neighbours import knn
from zspace.core.progress import progress
from zspace.core.results import Result, Scatter, array_field
from zspace.core.rows import seeded_subsample


@dataclasses.dataclass
class TsneVariant:
    """One parameter set of t-SNE (SPEC 4.4)."""

    early_exaggeration: float = 12.0
    perplexity: float = 30.0
    n_iter: int = 1000
    early_exaggeration_iter: int = 250

    @property
    def name(self) -> str:
        """A short label such as ``ee12_perp30``."""
        return f"ee{self.early_exaggeration:g}_perp{self.perplexity:g}"


#: openTSNE's negative-gradient methods, and "auto" (see TsneConfig.gradient_method)
GRADIENT_METHODS = ("auto", "fft", "bh")

#: SPEC 4.4: the default set and the variant
SPEC_VARIANTS = (TsneVariant(12.0, 30.0, 1000), TsneVariant(16.0, 10.0, 1000))


@dataclasses.dataclass
class TsneConfig(Config):
    """Settings of :func:`tsne_maps`.

    Parameters
    ----------
    sample_size : int, default 20000
        Points embedded (seeded subsample; SPEC allows 20,000 to 165,000).
    variants : tuple of TsneVariant, default (12, 30, 1000) and (16, 10, 1000)
    n_jobs : int, default -1 (all cores)
        Threads of the nearest-neighbour search for the affinities.
    optimize_n_jobs : int, default 0 (by size)
        Threads of the gradient descent; 0 picks by the number of points
        (:func:`gradient_threads`): one thread below ``parallel_gradient_from``
        points, where thread hand-offs cost more than they gain (2 threads were
        2x slower per iteration at 1k points), all cores from there on: on 2
        quiet cores, 2 threads took 0.73x the time of one at 20k points and
        0.70x at 165k (benchmarks/RESULTS.md, bench_tsne.py).
    parallel_gradient_from : int, default 20000
        See ``optimize_n_jobs``.
    ints_in_interval : float, default 1.0
        openTSNE FFT grid coarseness (see module docstring): 2 is about twice as
        fast at 20k points, with a 2-6% higher KL divergence.
    gradient_method : str, default "auto"
        openTSNE's negative-gradient method: "fft" (FIt-SNE), "bh"
        (Barnes-Hut), or "auto": Barnes-Hut below ``fft_from`` points, FFT
        from there on. The FFT method's cost has a floor set by its grid,
        so on a few thousand points Barnes-Hut is faster at the same map
        quality (benchmarks/bench_demo_maps.py).
    fft_from : int, default 10000
        See ``gradient_method``.
    knn_k : int, default 10
    knn_queries : int, default 2000
    min_points : int, default 100
        Below this many points t-SNE is skipped.
    """

    sample_size: int = 20000
    variants: tuple[TsneVariant, ...] = SPEC_VARIANTS
    n_jobs: int = -1
    optimize_n_jobs: int = 0
    parallel_gradient_from: int = 20000
    ints_in_interval: float = 1.0
    gradient_method: str = "auto"
    fft_from: int = 10000
    knn_k: int = 10
    knn_queries: int = 2000
    min_points: int = 100

    def validate(self) -> None:
        require(self.gradient_method in GRADIENT_METHODS,
                f"t-SNE gradient_method {self.gradient_method!r}: choose one of {', '.join(GRADIENT_METHODS)}")
        require(self.sample_size >= 2, f"t-SNE sample_size (--tsne-n) {self.sample_size}: give at least 2 points "
                                       f"(default {TsneConfig.sample_size})")


@dataclasses.dataclass
class TsneMap:
    """One 2-D embedding and how it was made.

    Attributes
    ----------
    name : str
    input_dim : int
        Columns of the embedded data (d, or the number of PCA components).
    seconds : float
        Wall time of affinities + optimisation.
    kl_divergence : float
        Final KL(P || Q) reported by openTSNE (nats).
    knn_preservation : float in [0, 1]
    embedding : float32 array, shape (n, 2) (not in JSON)
    """

    name: str
    early_exaggeration: float
    perplexity: float
    n_iter: int
    input_dim: int
    seconds: float
    kl_divergence: float
    knn_preservation: float
    embedding: np.ndarray = array_field()


@dataclasses.dataclass
class TsneResult(Result):
    """All t-SNE maps of one point set; ``sample_index`` (not in JSON) gives their rows in the input."""

    n_points_total: int
    n_points_embedded: int
    seed: int
    method: str
    maps: list[TsneMap]
    sample_index: np.ndarray = array_field()

    def scatters(self) -> dict[str, Scatter]:
        """Every map as ``tsne_<map name>``, its points at rows ``sample_index`` of the input."""
        return {f"tsne_{m.name}": Scatter(m.embedding, self.sample_index, replaces_figure=True) for m in self.maps}


def tsne_maps(z: np.ndarray, config: TsneConfig | None = None, seed: int = 0,
              show_progress: bool = True) -> TsneResult:
    """Embed a seeded subsample of ``z`` with every variant of ``config``.

    Parameters
    ----------
    z : numpy array or RowStore, float32, shape (N, d)
    config : TsneConfig, optional
    seed : int, default 0
        Seeds the subsample, the initialisation and the neighbour search.
    show_progress : bool

    Returns
    -------
    TsneResult
    """
    cfg = config or TsneConfig()
    index = seeded_subsample(z.shape[0], cfg.sample_size, seed)
    x = np.ascontiguousarray(z[index], dtype=np.float32)
    variants = progress(cfg.variants, desc="t-SNE", unit="map", leave=False) if show_progress else cfg.variants
    shared = SharedAffinities(x, cfg, seed, [v.perplexity for v in cfg.variants])
    maps = [embed(x, v, cfg, seed, affinities=shared.for_perplexity(v.perplexity)) for v in variants]
    return TsneResult(n_points_total=z.shape[0], n_points_embedded=len(index), seed=seed,
                      method=method_note(cfg), maps=maps, sample_index=index)


def method_note(cfg: TsneConfig) -> str:
    """One line describing the t-SNE implementation and settings."""
    method = {"fft": "FFT-interpolated gradient", "bh": "Barnes-Hut gradient",
              "auto": f"Barnes-Hut gradient below {cfg.fft_from} points, FFT-interpolated from there"}
    return (f"openTSNE, {method[cfg.gradient_method]}, PCA initialisation, learning rate "
            f"N/exaggeration, momentum 0.8, ints_in_interval "
            f"{cfg.ints_in_interval:g}; n_iter counts the {cfg.variants[0].early_exaggeration_iter} exaggerated "
            f"iterations; kNN preservation with k = {cfg.knn_k} on {cfg.knn_queries} query points")


class SharedAffinities:
    """One nearest-neighbour graph of ``x`` for every perplexity of a set of maps.

    openTSNE finds 3 x perplexity neighbours per point; the graph of the
    largest perplexity holds those of every smaller one, so the affinities of
    a smaller perplexity are recomputed from its first columns
    (``PerplexityBasedNN.set_perplexity``) instead of searching again. The
    search is made on first use, so a set whose maps are all skipped costs nothing.
    """

    def __init__(self, x: np.ndarray, cfg: TsneConfig, seed: int, perplexities: list[float]) -> None:
        self.x, self.cfg, self.seed = x, cfg, seed
        self.largest = max(perplexities, default=30.0)
        self._affinities = None

    def for_perplexity(self, perplexity: float):
        """openTSNE affinities of ``x`` at ``perplexity`` (at most the largest one given)."""
        import openTSNE

        cap = (self.x.shape[0] - 1) / 3
        if self._affinities is None:
            n_jobs = self.cfg.n_jobs if self.cfg.n_jobs > 0 else available_cores()
            self._affinities = openTSNE.affinity.PerplexityBasedNN(
                self.x, perplexity=min(self.largest, cap), n_jobs=n_jobs, random_state=self.seed, verbose=False)
        self._affinities.set_perplexity(min(perplexity, cap))
        return self._affinities


def embed(x: np.ndarray, variant: TsneVariant, cfg: TsneConfig, seed: int = 0, name: str | None = None,
          affinities=None) -> TsneMap:
    """Run one t-SNE on all rows of ``x``.

    Parameters
    ----------
    x : numpy.ndarray, float32, shape (n, m)
    variant : TsneVariant
    cfg : TsneConfig
        Supplies n_jobs, FFT grid and kNN settings.
    seed : int, default 0
    name : str, optional
        Defaults to ``variant.name``.
    affinities : openTSNE affinities, optional
        Of ``x`` at ``variant.perplexity`` (:class:`SharedAffinities`); made here when not given.

    Returns
    -------
    TsneMap
    """
    import openTSNE

    start = time.perf_counter()
    if affinities is None:
        affinities = SharedAffinities(x, cfg, seed, [variant.perplexity]).for_perplexity(variant.perplexity)
    with np.errstate(invalid="ignore", divide="ignore"):
        initial = openTSNE.initialization.pca(x, random_state=seed)
    if not np.isfinite(initial).all():
        # identical points: the PCA initialisation divides by a zero spread, and NaNs crash openTSNE's FFT code
        initial = openTSNE.initialization.random(x, random_state=seed)
    embedding = openTSNE.TSNEEmbedding(initial, affinities, n_jobs=gradient_threads(cfg, len(x)), random_state=seed,
                                       ints_in_interval=cfg.ints_in_interval,
                                       negative_gradient_method=gradient_method(cfg, len(x)))
    # the two phases of openTSNE.TSNE.fit (momentum 0.8 in both, learning rate N / exaggeration)
    exaggerated = min(variant.early_exaggeration_iter, variant.n_iter)
    embedding = embedding.optimize(exaggerated, exaggeration=variant.early_exaggeration, momentum=0.8)
    if variant.n_iter > exaggerated:
        embedding = embedding.optimize(variant.n_iter - exaggerated, momentum=0.8)
    seconds = time.perf_counter() - start
    kl = float(getattr(embedding, "kl_divergence", np.nan) or np.nan)
    y = np.asarray(embedding, dtype=np.float32)
    keep = knn_preservation(x, y, k=cfg.knn_k, n_queries=cfg.knn_queries, seed=seed)
    return TsneMap(name=name or variant.name, early_exaggeration=variant.early_exaggeration,
                   perplexity=variant.perplexity, n_iter=variant.n_iter, input_dim=x.shape[1], seconds=seconds,
                   kl_divergence=kl, knn_preservation=keep, embedding=y)


def gradient_method(cfg: TsneConfig, n_points: int) -> str:
    """openTSNE's negative-gradient method for ``n_points`` (see ``TsneConfig.gradient_method``)."""
    if cfg.gradient_method != "auto":
        return cfg.gradient_method
    return "bh" if n_points < cfg.fft_from else "fft"


def gradient_threads(cfg: TsneConfig, n_points: int) -> int:
    """Threads of the t-SNE gradient for ``n_points`` (see ``TsneConfig.optimize_n_jobs``)."""
    if cfg.optimize_n_jobs > 0:
        return cfg.optimize_n_jobs
    return 1 if n_points < cfg.parallel_gradient_from else available_cores()


def knn_preservation(high: np.ndarray, low: np.ndarray, k: int = 10, n_queries: int = 2000, seed: int = 0) -> float:
    """Mean share of each query's k nearest neighbours in ``high`` that are also its k nearest in ``low``.

    Parameters
    ----------
    high : numpy.ndarray, shape (n, m)
        Points in the original space.
    low : numpy.ndarray, shape (n, p)
        The same points, embedded.
    k : int
    n_queries : int
        Query points drawn (seeded) from the n rows; all rows when n is smaller.
    seed : int

    Returns
    -------
    float in [0, 1]
    """
    n = high.shape[0]
    k = min(k, n - 1)
    queries = seeded_subsample(n, n_queries, seed)

    def neighbours(points: np.ndarray) -> np.ndarray:
        return knn(points, k, queries)[1]

    a, b = neighbours(high), neighbours(low)
    shared = [len(set(ra) & set(rb)) for ra, rb in zip(a, b)]
    return float(np.mean(shared) / k)
