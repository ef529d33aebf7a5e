"""Two latent spaces of the same rows compared: linear CKA, RBF CKA, Procrustes error, k-NN overlap.

Row i of ``x`` (N, d_a) and row i of ``y`` (N, d_b) are the codes of the same
image in two spaces (two runs, two epochs of one run, AE against VAE). The
widths may differ. Every measure is invariant to a shift of either space, to
an orthogonal transform (rotation, reflection) and to an isotropic scaling;
none needs the two spaces to share axes.

Measures
--------
``linear_cka``
    Linear centred kernel alignment (Kornblith et al. 2019), feature-space form:
    ``||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F)`` with ``Xc``, ``Yc``
    column-centred. In [0, 1]; 1 = the spaces are the same up to rotation,
    isotropic scale and shift. Exact at any N: one pass for the column means,
    one for the d x d cross products (float64), in row blocks.
``rbf_cka``
    CKA with Gaussian kernels ``K_ij = exp(-|x_i - x_j|^2 / (2 sigma_x^2))``
    (``L`` the same for y): ``<HKH, HLH>_F / (||HKH||_F ||HLH||_F)``,
    ``H = I - 11^T / n``. ``sigma`` = ``bandwidth`` (default 1.0) x the median
    Euclidean distance between distinct rows of that space (the median taken
    over the pairs of a seeded subsample of at most ``median_rows`` rows, all
    pairs when fewer), one sigma per space. In [0, 1]. Exact on up to
    ``max_rows`` rows; beyond, on a seeded subsample of ``max_rows`` rows
    (:func:`zspace.core.rows.seeded_subsample`, the same rows in both spaces).
    The n x n kernels are never held: one pass over blocks of rows (each block
    against the columns from its first row on, as K and L are symmetric)
    accumulates ``sum K*L``, ``sum K*K``, ``sum L*L`` and the row sums, and
    ``<HKH, HLH> = sum K*L - (2/n) a.b + (sum a)(sum b) / n^2`` (``a``, ``b``
    the row sums of ``K``, ``L``).
``procrustes_error``
    Both spaces centred and scaled to unit Frobenius norm, the narrower one
    padded with zero columns to the wider width, then
    ``min over orthogonal R of ||X R - Y||_F^2`` (the ``R`` of
    :func:`scipy.linalg.orthogonal_procrustes`), which equals
    ``2 - 2 * (sum of the singular values of X^T Y)``. In [0, 2]: 0 = the same
    up to rotation, isotropic scale and shift; 2 = orthogonal spaces
    (``X^T Y = 0``). Exact at any N from the same d x d cross products as the
    linear CKA (zero columns add nothing to them).
``knn_overlap``
    Mean over query rows of ``|kNN_x(i) & kNN_y(i)| / k``, the ``k`` (default
    10) nearest *other* rows in each space (Euclidean,
    :func:`zspace.core.neighbours.knn`). In [0, 1]; rows paired at random give
    ``k / (n - 1)``. Neighbours are searched among all rows up to
    ``knn_search_rows`` (default 200,000; beyond, among a seeded subsample of
    that many); the mean is over all of them up to ``max_rows`` query rows,
    beyond over a seeded subsample of ``max_rows`` of them (an unbiased
    estimate of the mean over all rows).

``chance`` holds what each CKA gives when the rows of ``y`` are paired with
those of ``x`` at random: the exact mean over all permutations,
``tr(HKH) tr(HLH) / ((n - 1) ||HKH||_F ||HLH||_F)`` (about ``sqrt(d_a d_b) / n``
for the linear CKA of independent Gaussians), and ``k / (n - 1)`` for the k-NN
overlap; a value near its chance level says the spaces share nothing.

Inputs are numpy arrays or :class:`~zspace.core.arrays.RowStore`, read as
float32. The linear CKA and Procrustes read row blocks; the RBF CKA holds at
most ``max_rows`` rows of each space in memory, the k-NN overlap at most
``knn_search_rows``.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np
import torch
from scipy.linalg import orthogonal_procrustes

from zspace.core.config import Config
from zspace.core.errors import ZspaceError, require
from zspace.core.neighbours import distance_blocks, knn
from zspace.core.results import Result
from zspace.core.rng import stream_seed
from zspace.core.rows import float32_block, row_chunks, seeded_subsample

#: the schema tag of compare.json
SCHEMA = "zspace.compare/1"
#: rows per block of the RBF kernel pass (a block of 512 x 20,000 float32 is 41 MB per space)
KERNEL_BLOCK_ROWS = 512
#: the measures, in the order they are reported
MEASURES = ("linear_cka", "rbf_cka", "procrustes_error", "knn_overlap")
#: one line per measure: what it is and its range (written into compare.json)
DEFINITIONS = {
    "linear_cka": "||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F), Xc, Yc column-centred (Kornblith et al. "
                  "2019); in [0, 1], 1 = the same space up to rotation, isotropic scale and shift",
    "rbf_cka": "<HKH, HLH>_F / (||HKH||_F ||HLH||_F), K_ij = exp(-|x_i - x_j|^2 / (2 sigma_x^2)), L likewise, "
               "H = I - 11^T/n; in [0, 1]",
    "procrustes_error": "min over orthogonal R of ||X R - Y||_F^2, X and Y centred, scaled to unit Frobenius norm, "
                        "the narrower padded with zero columns; = 2 - 2 * nuclear norm of X^T Y; in [0, 2], "
                        "0 = the same up to rotation, isotropic scale and shift",
    "knn_overlap": "mean over query rows of |kNN_A(i) & kNN_B(i)| / k (Euclidean, k nearest other rows); in [0, 1], "
                   "rows paired at random give k / (n - 1)",
}


@dataclasses.dataclass
class CompareConfig(Config):
    """Settings of :func:`compare_spaces`.

    Parameters
    ----------
    k : int, default 10
        Neighbours per row of the k-NN overlap.
    max_rows : int, default 20000
        Rows of the RBF CKA (its cost grows as n^2) and query rows of the k-NN
        overlap; beyond, a seeded subsample of this many rows.
    knn_search_rows : int, default 200000
        Rows among which the k-NN overlap searches neighbours (each space's
        rows held in memory as float32); beyond, a seeded subsample.
    bandwidth : float, default 1.0
        sigma of each Gaussian kernel as a multiple of the median distance
        between distinct rows of that space.
    median_rows : int, default 2000
        Rows whose pairwise distances give that median (a seeded subsample of
        the RBF rows; all pairs when there are fewer).
    """

    k: int = 10
    max_rows: int = 20000
    knn_search_rows: int = 200000
    bandwidth: float = 1.0
    median_rows: int = 2000

    def validate(self) -> None:
        require(self.k >= 1, f"k {self.k} must be >= 1")
        require(self.max_rows >= 3, f"max_rows {self.max_rows} must be >= 3")
        require(self.knn_search_rows >= self.max_rows,
                f"knn_search_rows {self.knn_search_rows} must be >= max_rows {self.max_rows}")
        require(self.bandwidth > 0, f"bandwidth {self.bandwidth} must be > 0 (a multiple of the median distance)")
        require(self.median_rows >= 2, f"median_rows {self.median_rows} must be >= 2")


@dataclasses.dataclass
class CompareResult(Result):
    """Two spaces of the same rows compared (module docstring: definitions and ranges).

    Attributes
    ----------
    schema : str
        ``zspace.compare/1``.
    inputs : dict
        ``{"a": {...}, "b": {...}}``: ``dim`` (d of the space) and what the caller
        adds (source, kind, run, epoch, split, codes).
    rows : int
        N, the rows of each space.
    linear_cka, rbf_cka : float in [0, 1]
    procrustes_error : float in [0, 2]
    knn_overlap : float in [0, 1]
    k : int
        Neighbours per row of the k-NN overlap.
    chance : dict
        Each measure's value when rows are paired at random (CKA: the exact
        permutation mean; k-NN overlap: k / (n - 1)); Procrustes has none here.
    rbf_bandwidth_rule : str
        How each sigma was chosen, in words.
    rbf_bandwidth_multiple : float
    rbf_sigma : dict
        ``{"a": sigma_a, "b": sigma_b}`` in z units of each space.
    rows_used : dict
        Measure -> rows its number comes from (for the k-NN overlap: query rows).
    knn_searched_rows : int
        Rows among which the k-NN overlap searched neighbours.
    procrustes_padding : str
        Which space got how many zero columns (empty when the widths agree).
    notes : list of str
        Subsamples and padding, in words.
    definitions : dict
        Measure -> its formula and range.
    seed : int
        Seed of the subsamples.
    seconds : dict
        Measure -> wall seconds it took.
    """

    schema: str
    inputs: dict[str, dict[str, Any]]
    rows: int
    linear_cka: float
    rbf_cka: float
    procrustes_error: float
    knn_overlap: float
    k: int
    chance: dict[str, float]
    rbf_bandwidth_rule: str
    rbf_bandwidth_multiple: float
    rbf_sigma: dict[str, float]
    rows_used: dict[str, int]
    knn_searched_rows: int
    procrustes_padding: str
    notes: list[str]
    definitions: dict[str, str]
    seed: int
    seconds: dict[str, float]

    def headline(self) -> dict[str, float]:
        """The four measures."""
        return {name: getattr(self, name) for name in MEASURES}


@dataclasses.dataclass
class _Moments:
    """Column means and centred cross products of two spaces (float64)."""

    n: int
    xx: np.ndarray   # (d_a, d_a) Xc^T Xc
    yy: np.ndarray   # (d_b, d_b) Yc^T Yc
    xy: np.ndarray   # (d_a, d_b) Xc^T Yc


def compare_spaces(x, y, config: CompareConfig | None = None, seed: int = 0,
                   names: tuple[str, str] = ("A", "B")) -> CompareResult:
    """Compare two spaces whose row i is the same item: linear and RBF CKA, Procrustes error, k-NN overlap.

    Parameters
    ----------
    x : numpy.ndarray or RowStore, shape (N, d_a)
    y : numpy.ndarray or RowStore, shape (N, d_b)
        Real values, all finite; d_a and d_b may differ.
    config : CompareConfig, optional
    seed : int
        Seed of the subsamples (RBF rows, median rows, k-NN rows).
    names : (str, str)
        How messages name ``x`` and ``y`` (file names, for instance).

    Returns
    -------
    CompareResult

    Raises
    ------
    ZspaceError
        Different row counts, fewer than k + 1 rows (or 3), a non-finite value,
        or a space whose rows are all one point.
    """
    cfg = config or CompareConfig()
    for arr, name in ((x, names[0]), (y, names[1])):
        if len(arr.shape) != 2:
            raise ZspaceError(f"{name}: codes of shape {tuple(arr.shape)}; expected an (N, d) matrix")
    n = int(x.shape[0])
    if int(y.shape[0]) != n:
        raise ZspaceError(f"{names[0]} has {n} rows but {names[1]} has {y.shape[0]}; compare needs the same images "
                          "in the same order in both: encode both on one data split")
    if n < max(3, cfg.k + 1):
        raise ZspaceError(f"{names[0]} and {names[1]} have {n} rows; compare needs at least {max(3, cfg.k + 1)} "
                          f"(k = {cfg.k} neighbours and one more); give more rows or a smaller k")
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    moments = _moments(x, y, names)
    linear = _linear_cka(moments)
    seconds["linear_cka"] = time.perf_counter() - start
    start = time.perf_counter()
    procrustes, padding = _procrustes_error(moments, names)
    seconds["procrustes_error"] = time.perf_counter() - start

    start = time.perf_counter()
    rbf_rows = seeded_subsample(n, cfg.max_rows, seed)
    rbf, rbf_chance, sigma = _rbf_cka(x, y, rbf_rows, cfg, seed, names)
    seconds["rbf_cka"] = time.perf_counter() - start

    start = time.perf_counter()
    search = seeded_subsample(n, cfg.knn_search_rows, seed)
    queries = seeded_subsample(len(search), cfg.max_rows, stream_seed(seed, 3))
    overlap = knn_overlap(_rows_of(x, search), _rows_of(y, search), cfg.k, queries)
    seconds["knn_overlap"] = time.perf_counter() - start

    dx, dy = int(x.shape[1]), int(y.shape[1])
    notes = []
    if len(rbf_rows) < n:
        notes.append(f"rbf_cka on a seeded subsample of {len(rbf_rows)} of {n} rows (its cost grows as n^2)")
    if len(search) < n:
        notes.append(f"knn_overlap searched neighbours among a seeded subsample of {len(search)} of {n} rows")
    if len(queries) < len(search):
        notes.append(f"knn_overlap averaged over a seeded subsample of {len(queries)} query rows")
    if padding:
        notes.append(f"procrustes: {padding}")
    median_rows = min(len(rbf_rows), cfg.median_rows)
    rule = (f"sigma = {cfg.bandwidth:g} x the median Euclidean distance between distinct rows, per space "
            f"(over the pairs of {'all' if median_rows == len(rbf_rows) else 'a seeded subsample of'} "
            f"{median_rows} rows)")
    return CompareResult(
        schema=SCHEMA, inputs={"a": {"dim": dx}, "b": {"dim": dy}}, rows=n,
        linear_cka=linear, rbf_cka=rbf, procrustes_error=procrustes, knn_overlap=overlap, k=cfg.k,
        chance={"linear_cka": _linear_chance(moments), "rbf_cka": rbf_chance,
                "knn_overlap": cfg.k / (len(search) - 1)},
        rbf_bandwidth_rule=rule, rbf_bandwidth_multiple=float(cfg.bandwidth),
        rbf_sigma={"a": sigma[0], "b": sigma[1]},
        rows_used={"linear_cka": n, "rbf_cka": len(rbf_rows), "procrustes_error": n, "knn_overlap": len(queries)},
        knn_searched_rows=len(search), procrustes_padding=padding, notes=notes, definitions=dict(DEFINITIONS),
        seed=int(seed), seconds=seconds)


# ----------------------------------------------------------------------------- linear CKA and Procrustes


def _moments(x, y, names: tuple[str, str]) -> _Moments:
    """Two passes over row blocks: column means, then the centred cross products (float64)."""
    n = int(x.shape[0])
    sx = np.zeros(x.shape[1])
    sy = np.zeros(y.shape[1])
    for rows in row_chunks(n):
        bx, by = float32_block(x, rows), float32_block(y, rows)
        for block, name in ((bx, names[0]), (by, names[1])):
            if not np.isfinite(block).all():
                bad = int((~np.isfinite(block).all(axis=1)).sum())
                raise ZspaceError(f"{name}: {bad} row(s) from row {rows.start} on hold NaN or infinity; compare needs "
                                  "every row finite (rows are paired one to one); re-encode or drop those rows in both")
        sx += bx.sum(axis=0, dtype=np.float64)
        sy += by.sum(axis=0, dtype=np.float64)
    mx, my = sx / n, sy / n
    xx = np.zeros((x.shape[1], x.shape[1]))
    yy = np.zeros((y.shape[1], y.shape[1]))
    xy = np.zeros((x.shape[1], y.shape[1]))
    for rows in row_chunks(n):
        bx = float32_block(x, rows).astype(np.float64) - mx
        by = float32_block(y, rows).astype(np.float64) - my
        xx += bx.T @ bx
        yy += by.T @ by
        xy += bx.T @ by
    for cross, name in ((xx, names[0]), (yy, names[1])):
        if np.trace(cross) <= 0:
            raise ZspaceError(f"{name}: every row is the same point (no variance); nothing to compare")
    return _Moments(n=n, xx=xx, yy=yy, xy=xy)


def _linear_cka(m: _Moments) -> float:
    """||Xc^T Yc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F)."""
    value = np.sum(m.xy ** 2) / (np.linalg.norm(m.xx) * np.linalg.norm(m.yy))
    return float(np.clip(value, 0.0, 1.0))


def _linear_chance(m: _Moments) -> float:
    """The mean linear CKA over all pairings of the rows: tr(Kc) tr(Lc) / ((n - 1) ||Kc||_F ||Lc||_F),
    with tr(Kc) = tr(Xc^T Xc) and ||Kc||_F = ||Xc^T Xc||_F."""
    return float(np.trace(m.xx) * np.trace(m.yy) / ((m.n - 1) * np.linalg.norm(m.xx) * np.linalg.norm(m.yy)))


def _procrustes_error(m: _Moments, names: tuple[str, str]) -> tuple[float, str]:
    """min_R ||X R - Y||_F^2 of the centred, unit-norm spaces (the narrower padded with zeros) and the padding."""
    dx, dy = m.xy.shape
    d = max(dx, dy)
    cross = np.zeros((d, d))
    cross[:dx, :dy] = m.xy / np.sqrt(np.trace(m.xx) * np.trace(m.yy))  # X^T Y of the unit-norm spaces
    # orthogonal_procrustes(A, B) takes the SVD of A^T B; with A = I that is the SVD of X^T Y itself:
    # the same rotation as on the full (N, d) matrices, and `scale` is the sum of the singular values
    _, scale = orthogonal_procrustes(np.eye(d), cross)
    padding = ""
    if dx != dy:
        narrow, width = (names[0], dx) if dx < dy else (names[1], dy)
        padding = f"{narrow} (d = {width}) padded with {d - width} zero columns to d = {d}"
    return float(np.clip(2.0 - 2.0 * scale, 0.0, 2.0)), padding


# ----------------------------------------------------------------------------- RBF CKA


def median_distance(points: np.ndarray) -> float:
    """The median Euclidean distance between distinct rows of ``points`` (m, d) (m(m-1)/2 pairs), float64."""
    columns = np.arange(len(points))[None, :]
    distances = np.concatenate([block.numpy()[columns > np.arange(rows.start, rows.stop)[:, None]]
                                for rows, block in distance_blocks(points, points)])
    return float(np.median(distances.astype(np.float64)))


def _rbf_cka(x, y, rows: np.ndarray, cfg: CompareConfig, seed: int,
             names: tuple[str, str]) -> tuple[float, float, tuple[float, float]]:
    """RBF CKA on ``rows`` of both spaces, its permutation mean, and (sigma_x, sigma_y)."""
    xs, ys = _centred(_rows_of(x, rows)), _centred(_rows_of(y, rows))
    m = len(rows)
    median_at = seeded_subsample(m, cfg.median_rows, stream_seed(seed, 2))
    sigma = []
    for points, name in ((xs, names[0]), (ys, names[1])):
        median = median_distance(points[median_at])
        if not median > 0:
            raise ZspaceError(f"{name}: half or more of the pairs of rows are the same point (median distance 0), "
                              "so the RBF kernel has no bandwidth; drop the duplicate rows in both inputs")
        sigma.append(cfg.bandwidth * median)
    gx, gy = -0.5 / sigma[0] ** 2, -0.5 / sigma[1] ** 2
    a = np.zeros(m)
    b = np.zeros(m)
    kl = kk = ll = 0.0
    # K and L are symmetric: each block of rows meets only the columns from its own first row on; the block on
    # the diagonal counts once, the rest twice (for the blocks below the diagonal that are not computed)
    for start in range(0, m, KERNEL_BLOCK_ROWS):
        block = slice(start, min(start + KERNEL_BLOCK_ROWS, m))
        width = block.stop - start
        (_, dx), = distance_blocks(xs[block], xs[start:], width, squared=True)
        (_, dy), = distance_blocks(ys[block], ys[start:], width, squared=True)
        # in place: the squared distances become kernel values
        kx = dx.mul_(gx).exp_()
        ky = dy.mul_(gy).exp_()
        a[block] += kx.sum(dim=1).numpy()
        b[block] += ky.sum(dim=1).numpy()
        a[block.stop:] += kx[:, width:].sum(dim=0).numpy()
        b[block.stop:] += ky[:, width:].sum(dim=0).numpy()
        for part, weight in ((slice(0, width), 1.0), (slice(width, None), 2.0)):
            if part.start < kx.shape[1]:
                px, py = kx[:, part], ky[:, part]
                kl += weight * _row_dots(px, py)
                kk += weight * _row_dots(px, px)
                ll += weight * _row_dots(py, py)
    sa, sb = a.sum(), b.sum()
    hkl = kl - 2.0 / m * float(a @ b) + sa * sb / m ** 2
    hkk = kk - 2.0 / m * float(a @ a) + sa * sa / m ** 2
    hll = ll - 2.0 / m * float(b @ b) + sb * sb / m ** 2
    denominator = np.sqrt(max(hkk, 0.0) * max(hll, 0.0))
    if not denominator > 0:
        raise ZspaceError(f"{names[0]} or {names[1]}: the centred RBF kernel is zero (all rows at one point); "
                          "nothing to compare")
    # tr(HKH) = tr(K) - (sum a) / m = m - (sum a) / m, as K_ii = 1
    chance = (m - sa / m) * (m - sb / m) / ((m - 1) * denominator)
    return float(np.clip(hkl / denominator, 0.0, 1.0)), float(chance), (float(sigma[0]), float(sigma[1]))


def _row_dots(p: torch.Tensor, q: torch.Tensor) -> float:
    """sum of p * q over an (b, c) float32 block: one dot per row in float32 (torch's summation keeps each
    within ~1e-8 relative; one BLAS dot over the whole block drifts by ~1e-4), the rows summed in float64."""
    return float(torch.linalg.vecdot(p, q, dim=1).double().sum())


def _rows_of(x, rows: np.ndarray) -> np.ndarray:
    """Rows ``rows`` (sorted) of an array or RowStore as an in-memory float32 array (a view when all are kept)."""
    if len(rows) == x.shape[0]:
        return float32_block(x, slice(None))
    return float32_block(x, rows)


def _centred(points: np.ndarray) -> np.ndarray:
    """``points`` minus their column mean (float32): distances computed as |x|^2 + |y|^2 - 2 x.y lose no precision
    to a far-off centre."""
    return (points - points.mean(axis=0, dtype=np.float64)).astype(np.float32)


# ----------------------------------------------------------------------------- k-NN overlap


def knn_overlap(x: np.ndarray, y: np.ndarray, k: int, queries: np.ndarray | None = None) -> float:
    """Mean over ``queries`` (default all rows) of |kNN_x(i) & kNN_y(i)| / k, neighbours among all rows of each.

    Parameters
    ----------
    x : numpy.ndarray, shape (n, d_a)
    y : numpy.ndarray, shape (n, d_b)
    k : int, 1 <= k < n
    queries : int array, shape (q,), optional
        Rows whose neighbourhoods are compared.

    Returns
    -------
    float in [0, 1]
    """
    neighbours_x = knn(x, k, queries)[1]
    neighbours_y = knn(y, k, queries)[1]
    # each row holds k distinct neighbours per space, so the shared ones are the repeats of the joined, sorted row
    joined = np.sort(np.concatenate([neighbours_x, neighbours_y], axis=1), axis=1)
    shared = (joined[:, 1:] == joined[:, :-1]).sum(axis=1)
    return float(shared.mean() / k)


__all__ = ["SCHEMA", "MEASURES", "DEFINITIONS", "CompareConfig", "CompareResult", "compare_spaces",
           "knn_overlap", "median_distance"]
