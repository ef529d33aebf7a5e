"""Holes of a latent space in the field's own numbers: prior mismatch (MMD), void distance, decoder-side cycle error.

A *hole* is a region where a sampler puts mass but the training codes do
not lie, so what is decoded there was never learned. Three measures, each
with a per-point score (higher = more hole-like, so a detector's AUC reads
directly) and a rate (the share of points past a threshold):

* **prior mismatch** (Dai and Wipf 2019): the squared maximum mean
  discrepancy between N(0, I) draws and the run's aggregate posterior, with
  the inverse multiquadratic kernel ``k(x, y) = C / (C + |x - y|^2)``, ``C =
  2 d`` (WAE, Tolstikhin et al. 2018: C = 2 d sigma^2 for a prior of variance
  sigma^2 = 1), so the bandwidth is the prior's and fixed, not fitted to the
  codes (``kernel="gaussian"``: ``exp(-|x - y|^2 / (2 l^2))`` with l the median
  pairwise distance of the pooled draws, the median heuristic). MMD^2 is the
  unbiased U-statistic (it can be slightly negative when the two agree), the
  biased V-statistic beside it. For a VAE the aggregate posterior is sampled
  as ``z = mu + sigma * eps`` of the training images (the stored ``z``), which
  is what its KL term pulls towards the prior; for an AE, which has no prior,
  the codes themselves are compared with N(0, I): the number then says how far
  the naive ``normal`` sampler is from where the codes are (scale included),
  not a training failure. Per point: the **witness**
  ``f(x) = mean_i k(x, p_i) - mean_j k(x, q_j)`` (p: prior draws, q: aggregate
  posterior draws); > 0 where the prior has more kernel mass than the codes.
  The biased MMD^2 is ``mean_p f - mean_q f``.
* **void distance** (:mod:`zspace.science.voids`): distance to the nearest
  training code in units of the void threshold (the 99th percentile of the
  training codes' own nearest-neighbour distances); > 1 lies in a void.
* **void rim**: the length of the mean of the unit vectors from the point
  to its ``rim_k`` (20) nearest training codes
  (:func:`zspace.core.neighbours.neighbour_resultant`), in units of the 99th
  percentile of the same number for training codes (each without itself);
  > 1: the codes around the point lie to one side of it as for fewer than
  1 % of training codes. It finds points at the edge of a void, where the
  nearest code is close (the void distance is small) but none lies beyond.
* **hole score**: the mean of the point's two percentiles among the training
  codes, of its nearest-code distance and of its rim length, in [0, 1]
  (1: beyond every training code on both); its rate is the share past the
  training codes' own 99th percentile of it.
* **cycle error** (decoder side): decode z, re-encode the image (a VAE's
  ``mu``) and measure ``|E(D(z)) - z|``, in units of the 99th percentile of
  the same error over training codes; > 1: the decoded image is not one the
  encoder maps back to where it came from as well as 99 % of the training
  codes are. Chosen over the realism of the decoded image in the feature net
  because it needs only the run's own model (no second network trained on
  the data, whose features may ignore what the hole removes: the shapes
  feature net is trained to tell the kind of shape, not its position or
  size), costs one decode and one encode per point, and reads the same on
  every data set.

:class:`HoleMeter` holds the references of one cloud of codes (arrays only,
so it works on any points); :func:`run_holes` builds one for a run and
scores N(0, I) draws and any other point sets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from zspace.core.errors import require
from zspace.core.images import to_uint8
from zspace.core.neighbours import nearest_distances, nearest_k, neighbour_resultant, resultant_of
from zspace.core.registry import Registry
from zspace.core.results import Result, array_field
from zspace.core.rng import stream_rng
from zspace.core.rows import seeded_subsample
from zspace.pipeline.run import Run, open_run
from zspace.pipeline.session import open_session
from zspace.pipeline.zstore import ZStore
from zspace.science.latents import training_store
from zspace.science.voids import VoidReference

#: the kernels of the MMD: name -> what it is
KERNELS: Registry[str] = Registry("MMD kernel", {
    "imq": "inverse multiquadratic C / (C + |x - y|^2), C = 2 d (WAE; the prior's variance 1)",
    "gaussian": "Gaussian exp(-|x - y|^2 / (2 l^2)), l = median pairwise distance (median heuristic)"})
#: rows of the first argument per kernel block (2048 x 2048 float64 = 32 MiB)
BLOCK_ROWS = 2048


@dataclass(frozen=True)
class Kernel:
    """A kernel of squared distance: ``imq``: C / (C + r2), ``scale`` = C (squared latent units);
    ``gaussian``: exp(-r2 / (2 l^2)), ``scale`` = l (latent units). k(x, x) = 1 for both."""

    name: str
    scale: float

    def __call__(self, r2: torch.Tensor) -> torch.Tensor:
        if self.name == "imq":
            return self.scale / (self.scale + r2)
        return torch.exp(-r2 / (2.0 * self.scale ** 2))


def imq_kernel(z_dim: int, prior_variance: float = 1.0) -> Kernel:
    """The WAE kernel for a d-dimensional prior of variance ``prior_variance``: C = 2 d sigma^2."""
    return Kernel("imq", 2.0 * z_dim * prior_variance)


def median_gaussian_kernel(x: np.ndarray, y: np.ndarray, max_rows: int = 1000, seed: int = 0) -> Kernel:
    """The Gaussian kernel whose bandwidth l is the median pairwise distance of x and y pooled
    (at most ``max_rows`` seeded rows of the pool)."""
    pool = np.concatenate([x, y]).astype(np.float64)
    pool = pool[seeded_subsample(len(pool), max_rows, seed)]
    distances = torch.pdist(torch.from_numpy(pool))
    return Kernel("gaussian", max(float(distances.median()), 1e-12))


def make_kernel(name: str, x: np.ndarray, y: np.ndarray, seed: int = 0) -> Kernel:
    """The kernel ``name`` (a key of :data:`KERNELS`) for comparing x (N, d) with y (M, d)."""
    KERNELS.lookup(name)
    return imq_kernel(x.shape[1]) if name == "imq" else median_gaussian_kernel(x, y, seed=seed)


def _kernel_means(points: np.ndarray, reference: np.ndarray, kernel: Kernel) -> np.ndarray:
    """(N,) float64: for each row of ``points`` (N, d), the mean of k(row, r) over the rows r of ``reference``."""
    ref = torch.from_numpy(np.ascontiguousarray(reference, dtype=np.float64))
    out = np.empty(len(points))
    for start in range(0, len(points), BLOCK_ROWS):
        block = torch.from_numpy(np.ascontiguousarray(points[start:start + BLOCK_ROWS], dtype=np.float64))
        out[start:start + len(block)] = kernel(torch.cdist(block, ref) ** 2).mean(dim=1).numpy()
    return out


def mmd2(x: np.ndarray, y: np.ndarray, kernel: Kernel) -> tuple[float, float]:
    """(unbiased, biased) squared MMD between samples x (m, d) and y (n, d), m, n >= 2.

    Unbiased: the U-statistic, pairs of a point with itself left out,
    ``sum_{i != j} k(x_i, x_j) / (m (m - 1)) + sum_{i != j} k(y_i, y_j) / (n (n - 1)) - 2 mean k(x_i, y_j)``;
    biased: the V-statistic, every pair (``mean k(x, x') + mean k(y, y') - 2 mean k(x, y)``).
    """
    require(x.ndim == 2 and y.ndim == 2 and x.shape[1] == y.shape[1] and len(x) >= 2 and len(y) >= 2,
            f"MMD: need samples (m >= 2, d) and (n >= 2, d), got {x.shape} and {y.shape}")
    m, n = len(x), len(y)
    kxx = float(_kernel_means(x, x, kernel).mean())
    kyy = float(_kernel_means(y, y, kernel).mean())
    kxy = float(_kernel_means(x, y, kernel).mean())
    biased = kxx + kyy - 2.0 * kxy
    # k(x, x) = 1: the diagonal contributes m (resp. n) to the sums of m^2 (n^2) pairs
    unbiased = (m * kxx - 1.0) / (m - 1) + (n * kyy - 1.0) / (n - 1) - 2.0 * kxy
    return unbiased, biased


def witness(points: np.ndarray, prior: np.ndarray, posterior: np.ndarray, kernel: Kernel) -> np.ndarray:
    """(N,) the MMD witness at each row of ``points`` (N, d): mean k(x, prior) - mean k(x, posterior);
    > 0 where the prior draws have more kernel mass than the aggregate posterior draws."""
    return _kernel_means(points, prior, kernel) - _kernel_means(points, posterior, kernel)


def auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """Area under the ROC curve of a score that should be higher on ``positive`` (held-out hole points) than on
    ``negative`` (in-distribution points): 1 separates them perfectly, 0.5 is chance."""
    positive, negative = np.asarray(positive, dtype=np.float64), np.asarray(negative, dtype=np.float64)
    require(len(positive) >= 1 and len(negative) >= 1, "AUC: need at least one positive and one negative point")
    labels = np.r_[np.ones(len(positive)), np.zeros(len(negative))]
    return float(roc_auc_score(labels, np.r_[positive, negative]))


@dataclass
class PriorMismatch(Result):
    """MMD^2 between N(0, I) draws and the aggregate posterior of the training codes.

    Attributes
    ----------
    mmd2 : float
        Unbiased squared MMD (kernel units; 0 when the two agree, can be slightly negative then).
    mmd2_biased : float
        The V-statistic (>= 0); equals mean witness over the prior draws minus over the posterior draws.
    kernel : str
        ``imq`` or ``gaussian`` (:data:`KERNELS`).
    kernel_scale : float
        ``imq``: C (squared latent units); ``gaussian``: the bandwidth l (latent units).
    n_prior, n_posterior : int
        Draws on each side.
    posterior : str
        What was compared with the prior: the VAE's ``mu + sigma * eps`` or the AE's codes.
    """

    mmd2: float
    mmd2_biased: float
    kernel: str
    kernel_scale: float
    n_prior: int
    n_posterior: int
    posterior: str

    def headline(self) -> dict[str, float]:
        return {"prior MMD^2": self.mmd2}


@dataclass
class HoleScores(Result):
    """The hole measures of one set of points z (N, d).

    Attributes
    ----------
    name : str
    n : int
    void_rate : float
        Share of points with void distance > 1 (farther from every training code than the void threshold).
    void_median : float
        Median void distance (units of the void threshold).
    rim_rate, rim_median : float
        Share of points with rim ratio > 1, and the median rim ratio (units of the training codes' percentile).
    hole_rate, hole_median : float
        Share of points whose hole score exceeds the training codes' percentile of it, and the median hole score.
    cycle_rate : float or None
        Share of points with cycle ratio > 1; None without a model (a :class:`HoleMeter` without ``cycle``).
    cycle_median : float or None
        Median cycle ratio (units of the training codes' 99th-percentile cycle error).
    witness_median : float
        Median MMD witness (kernel units; > 0: more prior mass than code mass around the point).
    void_distance, rim_ratio, hole_score, cycle_ratio, witness : ndarray (N,)
        The per-point scores (not in the JSON).
    """

    name: str
    n: int
    void_rate: float
    void_median: float
    rim_rate: float
    rim_median: float
    hole_rate: float
    hole_median: float
    cycle_rate: float | None
    cycle_median: float | None
    witness_median: float
    void_distance: np.ndarray = array_field()
    rim_ratio: np.ndarray = array_field()
    hole_score: np.ndarray = array_field()
    cycle_ratio: np.ndarray | None = array_field()
    witness: np.ndarray = array_field()


#: what a VAE's prior is compared with / what an AE's codes stand in for
VAE_POSTERIOR = "VAE aggregate posterior mu + sigma * eps of the training images"
AE_POSTERIOR = "AE codes of the training images (no prior)"


def mmd_samples(posterior: np.ndarray, n: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(prior, posterior): ``n`` seeded N(0, I) draws (n, d) float32 and ``n`` seeded rows of ``posterior`` (M, d)."""
    prior = stream_rng(seed, 7).standard_normal((n, posterior.shape[1])).astype(np.float32)
    return prior, np.asarray(posterior[seeded_subsample(len(posterior), n, seed)], dtype=np.float32)


def prior_mismatch(posterior: np.ndarray, *, n: int = 2000, kernel: str = "imq", seed: int = 0,
                   posterior_name: str = "codes") -> PriorMismatch:
    """MMD^2 between ``n`` N(0, I) draws and ``n`` seeded rows of aggregate posterior draws ``posterior`` (M, d)."""
    require(posterior.ndim == 2 and len(posterior) >= 2 and n >= 2,
            f"prior mismatch: need posterior draws (M >= 2, d) and n >= 2, got {posterior.shape} and n={n}")
    prior, rows = mmd_samples(posterior, n, seed)
    chosen = make_kernel(kernel, prior, rows, seed)
    unbiased, biased = mmd2(prior, rows, chosen)
    return PriorMismatch(mmd2=unbiased, mmd2_biased=biased, kernel=chosen.name, kernel_scale=chosen.scale,
                         n_prior=len(prior), n_posterior=len(rows), posterior=posterior_name)


def store_prior_mismatch(store: ZStore, *, n: int = 2000, kernel: str = "imq", seed: int = 0) -> PriorMismatch:
    """:func:`prior_mismatch` of a run's encoded training store: a VAE's ``z`` (= mu + sigma * eps, the aggregate
    posterior), an AE's codes."""
    vae = store.mu is not None
    return prior_mismatch(store.z, n=n, kernel=kernel, seed=seed, posterior_name=VAE_POSTERIOR if vae else AE_POSTERIOR)


class HoleMeter:
    """The references every hole measure of one cloud of training codes shares.

    Parameters
    ----------
    codes : ndarray (N, d)
        The training codes (a VAE's ``mu``): the void reference and the cycle reference are drawn from them.
    posterior : ndarray (M, d), optional
        Draws of the aggregate posterior for the MMD (a VAE's ``mu + sigma * eps``); default ``codes``.
    cycle : callable (K, d) -> (K, d), optional
        ``E(D(z))``: the code of the decoded image of each point. None: no cycle measure.
    seed : int
        Seeds the prior draws, every subsample and the Gaussian kernel's bandwidth rows.
    n_mmd : int, default 2000
        Prior draws and posterior rows of the MMD and the witness.
    kernel : str, default "imq"
        A key of :data:`KERNELS`.
    n_void_reference : int, default 20000
        Training codes of the void reference.
    n_cycle_reference : int, default 2000
        Training codes whose cycle errors set the cycle threshold.
    rim_k : int, default 20
        Neighbours of the void rim.
    n_rim_reference : int, default 2000
        Rows of the void reference whose rim lengths (each without itself) set the rim and hole-score thresholds.
    percentile : float, default 99
        Of the training codes' nearest-neighbour distances (void), rim lengths, hole scores and cycle errors.
    """

    def __init__(self, codes: np.ndarray, posterior: np.ndarray | None = None,
                 cycle: Callable[[np.ndarray], np.ndarray] | None = None, *, seed: int = 0, n_mmd: int = 2000,
                 kernel: str = "imq", n_void_reference: int = 20000, n_cycle_reference: int = 2000,
                 rim_k: int = 20, n_rim_reference: int = 2000, percentile: float = 99.0,
                 posterior_name: str = "codes") -> None:
        codes = np.asarray(codes, dtype=np.float32)
        require(codes.ndim == 2 and len(codes) >= 3,
                f"hole measures: need training codes (N >= 3, d), got {codes.shape}")
        require(n_mmd >= 2 and n_cycle_reference >= 2, "hole measures: n_mmd and n_cycle_reference must be >= 2")
        posterior = codes if posterior is None else np.asarray(posterior, dtype=np.float32)
        require(posterior.ndim == 2 and posterior.shape[1] == codes.shape[1] and len(posterior) >= 2,
                f"hole measures: posterior draws must be (M >= 2, {codes.shape[1]}), got {posterior.shape}")
        self.z_dim, self.percentile, self.cycle = codes.shape[1], float(percentile), cycle
        self.void = VoidReference.build(codes, n_void_reference, percentile, seed)
        require(1 <= rim_k < len(self.void.points) and n_rim_reference >= 2,
                f"hole measures: rim_k must be in [1, {len(self.void.points) - 1}] and n_rim_reference >= 2")
        self.rim_k = int(rim_k)
        self._void_sorted = np.sort(self.void.nn_distances)
        rim_rows = seeded_subsample(len(self.void.points), n_rim_reference, seed)
        rim = neighbour_resultant(None, self.void.points, self.rim_k, self_rows=rim_rows)
        self._rim_sorted = np.sort(rim)
        self.rim_threshold = max(float(np.percentile(rim, percentile)), 1e-12)
        own_scores = self._hole_score(self.void.nn_distances[rim_rows], rim)
        self.hole_threshold = float(np.percentile(own_scores, percentile))
        self.prior, self.posterior = mmd_samples(posterior, n_mmd, seed)
        self.posterior_name = posterior_name
        self.kernel = make_kernel(kernel, self.prior, self.posterior, seed)
        self.cycle_threshold: float | None = None
        if cycle is not None:
            rows = codes[seeded_subsample(len(codes), n_cycle_reference, seed)]
            self.cycle_threshold = max(float(np.percentile(self._cycle_errors(rows), percentile)), 1e-12)

    def _cycle_errors(self, z: np.ndarray) -> np.ndarray:
        """(N,) |E(D(z)) - z| in latent units."""
        return np.linalg.norm(np.asarray(self.cycle(z), dtype=np.float64) - z, axis=1)

    def prior_mismatch(self) -> PriorMismatch:
        """MMD^2 between the prior draws and the aggregate posterior draws (the witness's two samples)."""
        unbiased, biased = mmd2(self.prior, self.posterior, self.kernel)
        return PriorMismatch(mmd2=unbiased, mmd2_biased=biased, kernel=self.kernel.name,
                             kernel_scale=self.kernel.scale, n_prior=len(self.prior), n_posterior=len(self.posterior),
                             posterior=self.posterior_name)

    def void_distance(self, z: np.ndarray) -> np.ndarray:
        """(N,) distance of each point to the nearest training code, in units of the void threshold."""
        return nearest_distances(z, self.void.points).astype(np.float64) / max(self.void.threshold, 1e-12)

    def _hole_score(self, nearest: np.ndarray, rim: np.ndarray) -> np.ndarray:
        """(N,) mean of the training percentiles (share of training codes at or below) of nearest-code distances
        ``nearest`` (latent units) and rim lengths ``rim``."""
        void_share = np.searchsorted(self._void_sorted, nearest, side="right") / len(self._void_sorted)
        rim_share = np.searchsorted(self._rim_sorted, rim, side="right") / len(self._rim_sorted)
        return 0.5 * (void_share + rim_share)

    def _void_and_rim(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(void distance, rim length) of points z (N, d) from one search of their ``rim_k`` nearest codes."""
        distances, indices = nearest_k(z, self.void.points, self.rim_k)
        void = distances[:, 0].astype(np.float64) / max(self.void.threshold, 1e-12)
        return void, resultant_of(z, self.void.points, indices)

    def cycle_ratio(self, z: np.ndarray) -> np.ndarray | None:
        """(N,) cycle error of each point in units of the training codes' percentile; None without ``cycle``."""
        return None if self.cycle is None else self._cycle_errors(z) / self.cycle_threshold

    def witness(self, z: np.ndarray) -> np.ndarray:
        """(N,) the MMD witness at each point (prior kernel mass minus aggregate posterior kernel mass)."""
        return witness(z, self.prior, self.posterior, self.kernel)

    def score(self, z: np.ndarray, name: str = "") -> HoleScores:
        """Every per-point measure of points z (N, d), and its rate."""
        z = np.asarray(z, dtype=np.float32)
        require(z.ndim == 2 and z.shape[1] == self.z_dim and len(z) >= 1,
                f"hole measures: points must be (N >= 1, {self.z_dim}), got {z.shape}")
        (void, rim), cycle, wit = self._void_and_rim(z), self.cycle_ratio(z), self.witness(z)
        rim_ratio = rim / self.rim_threshold
        hole = self._hole_score(void * max(self.void.threshold, 1e-12), rim)
        return HoleScores(name=name, n=len(z), void_rate=float((void > 1).mean()), void_median=float(np.median(void)),
                          rim_rate=float((rim_ratio > 1).mean()), rim_median=float(np.median(rim_ratio)),
                          hole_rate=float((hole > self.hole_threshold).mean()), hole_median=float(np.median(hole)),
                          cycle_rate=None if cycle is None else float((cycle > 1).mean()),
                          cycle_median=None if cycle is None else float(np.median(cycle)),
                          witness_median=float(np.median(wit)), void_distance=void, rim_ratio=rim_ratio,
                          hole_score=hole, cycle_ratio=cycle, witness=wit)


@dataclass
class HoleResult(Result):
    """The hole measures of one run: its prior mismatch and the scores of each point set.

    Attributes
    ----------
    run : str
    kind : str
        ``ae`` or ``vae``.
    z_dim, epoch : int
    prior : PriorMismatch
    void_threshold : float
        The void threshold (latent units).
    cycle_threshold : float
        The training codes' 99th-percentile cycle error (latent units).
    rim_threshold, hole_threshold : float
        The training codes' 99th percentiles of the rim length and of the hole score.
    rim_k : int
        Neighbours of the void rim.
    sets : list of HoleScores
        ``normal`` (N(0, I) draws) first, then the caller's sets in order.
    """

    run: str
    kind: str
    z_dim: int
    epoch: int
    prior: PriorMismatch
    void_threshold: float
    cycle_threshold: float
    rim_threshold: float
    hole_threshold: float
    rim_k: int
    sets: list[HoleScores] = field(default_factory=list)

    def headline(self) -> dict[str, float]:
        out = dict(self.prior.headline())
        for s in self.sets:
            out[f"{s.name}: void rate"] = s.void_rate
            out[f"{s.name}: hole rate"] = s.hole_rate
            if s.cycle_rate is not None:
                out[f"{s.name}: cycle rate"] = s.cycle_rate
        return out

    def sentence(self) -> str:
        """One line of the numbers."""
        parts = [f"prior-vs-aggregate-posterior MMD^2 {self.prior.mmd2:.3g} ({self.prior.kernel} kernel, "
                 f"{self.prior.posterior})"]
        parts += [f"{s.name}: {s.void_rate:.0%} in voids, {s.cycle_rate:.0%} fail the cycle" for s in self.sets
                  if s.cycle_rate is not None]
        return "; ".join(parts)


def run_meter(run: Run | str | Path, *, epoch: int | None = None, device: str = "auto", precision: str | None = None,
              seed: int = 0, **options) -> tuple[HoleMeter, Run, int]:
    """A :class:`HoleMeter` of a run's training codes (cached, :func:`zspace.science.latents.training_store`), its
    cycle through the run's model (decoded images quantised to uint8, as any image the encoder reads);
    ``options`` go to :class:`HoleMeter`. Returns the meter, the run and the epoch."""
    run = run if isinstance(run, Run) else open_run(run)
    epoch = run.latest_epoch() if epoch is None else epoch
    store = training_store(run, epoch, device)
    session = open_session(run, epoch, device, precision)

    def cycle(z: np.ndarray) -> np.ndarray:
        arrays = session.encode(to_uint8(session.decode(np.asarray(z, dtype=np.float32), desc="decoding for the "
                                                        "cycle")), desc="re-encoding for the cycle")
        return ZStore(z=arrays["z"], index=np.arange(len(z)), mu=arrays.get("mu")).codes

    vae = store.mu is not None
    meter = HoleMeter(store.codes, np.asarray(store.z) if vae else None, cycle, seed=seed,
                      posterior_name=VAE_POSTERIOR if vae else AE_POSTERIOR, **options)
    return meter, run, int(epoch)


def run_holes(run: Run | str | Path, points: dict[str, np.ndarray] | None = None, *, n: int = 2000,
              epoch: int | None = None, device: str = "auto", precision: str | None = None, seed: int = 0,
              **options) -> HoleResult:
    """The hole measures of a run: its prior mismatch, and the scores of ``n`` N(0, I) draws (named ``normal``) and of
    each named point set of ``points`` (name -> (N, d)); ``options`` go to :class:`HoleMeter`."""
    meter, run, epoch = run_meter(run, epoch=epoch, device=device, precision=precision, seed=seed, **options)
    return hole_result(meter, run, epoch, points, n=n, seed=seed)


def hole_result(meter: HoleMeter, run: Run, epoch: int, points: dict[str, np.ndarray] | None = None, *,
                n: int = 2000, seed: int = 0) -> HoleResult:
    """:class:`HoleResult` of a run's meter: ``n`` seeded N(0, I) draws (``normal``), then each set of ``points``."""
    normal = stream_rng(seed, 8).standard_normal((n, meter.z_dim)).astype(np.float32)
    sets = [meter.score(normal, "normal")] + [meter.score(z, name) for name, z in (points or {}).items()]
    return HoleResult(run=str(run.root), kind=run.model_config.kind, z_dim=meter.z_dim, epoch=epoch,
                      prior=meter.prior_mismatch(), void_threshold=meter.void.threshold,
                      cycle_threshold=float(meter.cycle_threshold), rim_threshold=meter.rim_threshold,
                      hole_threshold=meter.hole_threshold, rim_k=meter.rim_k, sets=sets)


__all__ = ["KERNELS", "Kernel", "imq_kernel", "median_gaussian_kernel", "make_kernel", "mmd2", "witness", "auc",
           "mmd_samples", "prior_mismatch", "store_prior_mismatch", "VAE_POSTERIOR", "AE_POSTERIOR", "PriorMismatch",
           "HoleScores", "HoleMeter", "HoleResult", "run_meter", "run_holes", "hole_result"]
