"""Analysis 3: k-means inertia curve and its elbow.

Method (faster than scikit-learn's MiniBatchKMeans at 170k x 256, see
benchmarks/RESULTS.md): for every k,

1. ``n_init`` greedy k-means++ seedings (as in scikit-learn: 2 + ln k
   candidates per centre), each followed by Lloyd iterations
   on a seeded subsample of ``fit_sample_size`` points until the relative
   inertia change is below ``tol``; the seeding with the lowest subsample
   inertia is kept;
2. ``full_data_iter`` Lloyd updates on *all* points, then one more pass that
   evaluates the exact inertia on all points.

Every pass streams the data in row chunks with float32 matrix products in
torch (``||x||^2 - 2 x.c + ||c||^2``), summing inertia in float64, so no
N x d float64 copy is ever made. Inertia = sum over points of the squared
Euclidean distance to the nearest centre (z units squared), as in scikit-learn.

The elbow is the Kneedle point (Satopaa et al. 2011): with k and inertia
min-max normalised to [0, 1], the k where the curve lies furthest below the
chord from the first to the last point (the global maximum of the Kneedle
difference curve; no sensitivity threshold). The gap itself is reported as
``elbow_strength``: 0 for a straight line, near 1 for a sharp corner.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from zspace.core.config import Config
from zspace.core.device import one_thread
from zspace.core.progress import progress
from zspace.core.results import Result
from zspace.core.rng import item_seed, sub_seed
from zspace.core.rows import float32_block, row_chunks, seeded_subsample


@dataclasses.dataclass
class InertiaConfig(Config):
    """Settings of :func:`inertia_curve`.

    Parameters
    ----------
    k_values : tuple of int, default 2, 4, ..., 80 (SPEC 4.3)
    fit_sample_size : int, default 10000
        Points used for the subsample Lloyd iterations.
    init_sample_size : int, default 4096
        Points of that subsample used for k-means++ seeding.
    n_init : int, default 3
        k-means++ seedings per k, each refined on the subsample; the one with
        the lowest subsample inertia goes on to the full data.
    max_iter_sample : int, default 50
        Cap on Lloyd iterations on the subsample.
    tol : float, default 1e-4
        Stop the subsample iterations when inertia falls by less than this fraction.
    full_data_iter : int, default 2
        Lloyd updates on all points after the subsample fit.
    chunk_rows : int, default 4096
        Rows per matrix product; temporary memory is chunk_rows x sum(k_values) floats
        (4096 x 1640 x 4 B = 27 MB for the default k values).
    """

    k_values: tuple[int, ...] = tuple(range(2, 81, 2))
    fit_sample_size: int = 10000
    init_sample_size: int = 4096
    n_init: int = 3
    max_iter_sample: int = 50
    tol: float = 1e-4
    full_data_iter: int = 2
    chunk_rows: int = 4096


@dataclasses.dataclass
class InertiaResult(Result):
    """Inertia per k on all N points, and the elbow.

    Attributes
    ----------
    k_values : list of int, length K
    inertia : list of float, length K
        Sum of squared distances to the nearest centre, z units squared.
    elbow_k : int
    elbow_strength : float in [0, 1]
    elbow_method : str
    fit_method : str
    """

    n_points: int
    k_values: list[int]
    inertia: list[float]
    elbow_k: int
    elbow_strength: float
    elbow_method: str
    fit_method: str
    seed: int

    def headline(self) -> dict[str, int]:
        """The elbow of the inertia curve."""
        return {"elbow_k": self.elbow_k}


def inertia_curve(z: np.ndarray, config: InertiaConfig | None = None, seed: int = 0,
                  show_progress: bool = True) -> InertiaResult:
    """k-means inertia for each k in ``config.k_values``, exact on all points.

    Parameters
    ----------
    z : numpy array or RowStore, float32, shape (N, d)
    config : InertiaConfig, optional
    seed : int, default 0
        Seeds the subsamples and the k-means++ draws.
    show_progress : bool
        Draw progress bars for seeding and the Lloyd passes.

    Returns
    -------
    InertiaResult
    """
    cfg = config or InertiaConfig()
    n = z.shape[0]
    k_values = [int(k) for k in cfg.k_values if 1 <= k <= n]
    sample_idx = seeded_subsample(n, cfg.fit_sample_size, seed)
    x_sample = torch.from_numpy(float32_block(z, sample_idx if len(sample_idx) < n else slice(None)))
    init_idx = seeded_subsample(len(x_sample), cfg.init_sample_size, sub_seed(seed, 1))
    x_init = x_sample[torch.from_numpy(init_idx)] if len(init_idx) < len(x_sample) else x_sample

    def bar(iterable, desc):
        return progress(iterable, desc=desc, leave=False) if show_progress else iterable

    # n_init seedings per k; Lloyd on the subsample for all of them at once, then the best per k goes on
    runs = [(i, r) for i in range(len(k_values)) for r in range(cfg.n_init)]
    with one_thread():
        centres = [kmeans_plusplus(x_init, k_values[i], torch.Generator().manual_seed(item_seed(seed, 1000 * r
                                                                                                 + k_values[i])))
                   for i, r in bar(runs, "inertia: k-means++")]
    # each run stops on its own tolerance
    active = list(range(len(runs)))
    previous = [np.inf] * len(runs)
    for _ in bar(range(cfg.max_iter_sample), "inertia: Lloyd on subsample"):
        if not active:
            break
        inertias, updated = lloyd_pass(x_sample, [centres[j] for j in active], cfg.chunk_rows)
        still_moving = []
        for j, inertia, c in zip(active, inertias, updated):
            centres[j] = c
            if previous[j] - inertia > cfg.tol * inertia:
                still_moving.append(j)
            previous[j] = inertia
        active = still_moving
    best = {}
    for j, (i, _) in enumerate(runs):
        if i not in best or previous[j] < previous[best[i]]:
            best[i] = j
    centres = [centres[best[i]] for i in range(len(k_values))]
    for _ in bar(range(cfg.full_data_iter), "inertia: Lloyd on all points"):
        _, centres = lloyd_pass(z, centres, cfg.chunk_rows)
    inertias, _ = lloyd_pass(z, centres, cfg.chunk_rows, update=False)
    elbow_k, strength = kneedle_elbow(np.array(k_values), np.array(inertias))
    return InertiaResult(
        n_points=n, k_values=k_values, inertia=inertias, elbow_k=elbow_k, elbow_strength=strength,
        elbow_method="Kneedle (Satopaa et al. 2011): k maximising (1 - inertia_norm) - k_norm, "
                     "both min-max normalised; global maximum, no sensitivity threshold",
        fit_method=f"best of {cfg.n_init} greedy k-means++ seedings on {len(init_idx)} points, each with Lloyd "
                   f"(tol {cfg.tol:g}, <= {cfg.max_iter_sample} it) on a seeded subsample of {len(sample_idx)} points, "
                   f"then {cfg.full_data_iter} Lloyd updates and an exact inertia evaluation on all points "
                   "(float32 products, float64 sums)",
        seed=seed)


def lloyd_pass(x, centres: list[torch.Tensor], chunk_rows: int = 4096,
               update: bool = True) -> tuple[list[float], list[torch.Tensor]]:
    """One assignment pass over ``x`` for several centre sets at once.

    All centre sets are stacked so that each chunk of rows needs one matrix
    product; the nearest centre is then taken within each set. ``x`` is read
    one block of ``chunk_rows`` rows at a time, so it may be a memory map.

    Parameters
    ----------
    x : torch.Tensor, numpy array or RowStore, float32, shape (N, d)
    centres : list of torch.Tensor, float32, shapes (k_j, d)
    chunk_rows : int
        Rows per product; temporary memory is chunk_rows x sum(k_j) floats.
    update : bool
        When False, skip the centre update and return ``centres`` unchanged.

    Returns
    -------
    inertias : list of float
        For each set, the sum of squared distances to its nearest centre (before the update).
    centres : list of torch.Tensor
        Means of the assigned points; a centre with no points is kept.
    """
    ks = [c.shape[0] for c in centres]
    offsets = np.concatenate([[0], np.cumsum(ks)])
    stacked = torch.cat(centres)
    c_sq = (stacked * stacked).sum(dim=1)
    # ||x - c||^2 = ||x||^2 + (||c||^2 - 2 x.c); the sum of ||x||^2 is one constant for every set
    totals = np.zeros(len(ks))
    d = stacked.shape[1]
    sums = [torch.zeros((k, d), dtype=torch.float64) for k in ks]
    counts = [torch.zeros(k, dtype=torch.float64) for k in ks]
    for block in row_blocks(x, chunk_rows):
        totals += float(torch.linalg.vector_norm(block, dtype=torch.float64) ** 2)
        dist = torch.addmm(c_sq.unsqueeze(0), block, stacked.T, beta=1.0, alpha=-2.0)
        with one_thread():
            for j, k in enumerate(ks):
                best, labels = dist[:, offsets[j]:offsets[j] + k].min(dim=1)
                totals[j] += float(best.sum(dtype=torch.float64))
                if update:
                    sums[j] += torch.zeros((k, d), dtype=torch.float32).index_add_(0, labels, block).double()
                    counts[j] += torch.bincount(labels, minlength=k).double()
    if not update:
        return totals.tolist(), centres
    updated = []
    for c, s, cnt in zip(centres, sums, counts):
        filled = cnt > 0
        new = c.clone()
        new[filled] = (s[filled] / cnt[filled].unsqueeze(1)).float()
        updated.append(new)
    return totals.tolist(), updated


def row_blocks(x, chunk_rows: int):
    """Consecutive float32 tensors of ``chunk_rows`` rows of ``x`` (a tensor, numpy array or RowStore)."""
    for rows in row_chunks(x.shape[0], chunk_rows):
        yield x[rows] if isinstance(x, torch.Tensor) else torch.from_numpy(float32_block(x, rows))


def kmeans_plusplus(x: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """Greedy k-means++ seeding (Arthur & Vassilvitskii 2007; 2 + ln k trials per step as in scikit-learn).

    Parameters
    ----------
    x : torch.Tensor, float32, shape (n, d)
    k : int
    generator : torch.Generator

    Returns
    -------
    torch.Tensor, float32, shape (k, d)
    """
    n = x.shape[0]
    trials = 2 + int(np.log(k))
    x_sq = (x * x).sum(dim=1)

    def sq_dist(points: torch.Tensor) -> torch.Tensor:  # (n, m) squared distances to m points
        return (x_sq[:, None] - 2.0 * x @ points.T + (points * points).sum(dim=1)[None, :]).clamp_min_(0)

    chosen = [int(torch.randint(n, (1,), generator=generator))]
    closest = sq_dist(x[chosen])[:, 0]
    for _ in range(1, k):
        total = closest.sum()
        if total <= 0:  # fewer distinct points than k: repeat a point
            chosen.append(chosen[-1])
            continue
        candidates = torch.multinomial(closest / total, trials, replacement=True, generator=generator)
        trial_closest = torch.minimum(closest[:, None], sq_dist(x[candidates]))
        best = int(torch.argmin(trial_closest.sum(dim=0)))
        chosen.append(int(candidates[best]))
        closest = trial_closest[:, best].contiguous()
    return x[chosen].clone()


def kneedle_elbow(k_values: np.ndarray, inertia: np.ndarray) -> tuple[int, float]:
    """Kneedle elbow of a decreasing curve.

    Parameters
    ----------
    k_values : numpy.ndarray, shape (K,)
    inertia : numpy.ndarray, shape (K,)

    Returns
    -------
    elbow_k : int
        The k furthest below the chord of the normalised curve (the first k when K < 3).
    strength : float
        That distance, in [0, 1] (normalised units).
    """
    if len(k_values) < 3 or np.ptp(inertia) == 0:
        return int(k_values[0]), 0.0
    x = (k_values - k_values[0]) / np.ptp(k_values)
    y = (inertia - inertia.min()) / np.ptp(inertia)
    gap = (1.0 - y) - x
    best = int(np.argmax(gap))
    return int(k_values[best]), float(gap[best])
