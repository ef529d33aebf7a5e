"""Analysis 6: the cloud projected onto planes, with a zoom series around the origin.

Planes are spanned by two principal components (numbered from 1, as in
"PCA axes 1-2", SPEC 4.6) or by two original axes (numbered from 0, as numpy
indexes z[:, j]). For every plane and every half-width h of the zoom series the
number of points with |x| <= h and |y| <= h is counted on all points, in one
streaming pass over row blocks; the projected points of a seeded subsample of
at most ``max_points`` rows (all rows up to that size) are kept, not in JSON,
for the figures.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from zspace.analysis.pca import PcaResult, fit_pca, project
from zspace.core.config import Config
from zspace.core.results import Result, Scatter, array_field
from zspace.core.rows import float32_block, row_chunks, seeded_subsample


@dataclasses.dataclass
class PlanesConfig(Config):
    """Settings of :func:`plane_views`.

    Parameters
    ----------
    pca_pairs : tuple of (int, int), default ((1, 2), (1, 18), (8, 35))
        Principal components, numbered from 1 (SPEC 4.6).
    axis_pairs : tuple of (int, int), default ((52, 221),)
        Original axes, numbered from 0. When none fits d, (0, 1) is used.
    zoom_half_widths : tuple of float, default (4, 2, 1, 0.5, 0.25)
        Squares [-h, h]^2 around the origin, z units, shrinking to [-0.25, 0.25]^2.
    max_points : int, default 200000
        Points kept for the figures and the report's scatters (a seeded
        subsample beyond it; the seeds' 165k faces are all kept). The counts
        always use every point.
    """

    pca_pairs: tuple[tuple[int, int], ...] = ((1, 2), (1, 18), (8, 35))
    axis_pairs: tuple[tuple[int, int], ...] = ((52, 221),)
    zoom_half_widths: tuple[float, ...] = (4.0, 2.0, 1.0, 0.5, 0.25)
    max_points: int = 200000


@dataclasses.dataclass
class PlaneView:
    """One plane and its zoom series.

    Attributes
    ----------
    kind : {"pca", "axes"}
    first, second : int
        Component numbers (from 1) for "pca", axis indices (from 0) for "axes".
    name : str
        For file names, e.g. ``pca_1_2`` or ``axes_52_221``.
    max_abs : float
        Largest |coordinate| in the plane (z units).
    half_widths : list of float
    counts_inside : list of int
        Points inside [-h, h]^2 for each h, over all N points.
    n_points_shown : int
        Rows kept in ``points`` (all N up to ``max_points``).
    points : float32 array, shape (n_points_shown, 2) (not in JSON)
    rows : int64 array, shape (n_points_shown,): the input rows of ``points`` (not in JSON)
    """

    kind: str
    first: int
    second: int
    name: str
    max_abs: float
    half_widths: list[float]
    counts_inside: list[int]
    n_points_shown: int = 0
    points: np.ndarray = array_field()
    rows: np.ndarray = array_field()


@dataclasses.dataclass
class PlanesResult(Result):
    """All plane views; pairs that do not fit d are listed in ``skipped``."""

    n_points: int
    numbering: str
    views: list[PlaneView]
    skipped: list[str]

    def scatters(self) -> dict[str, Scatter]:
        """Every plane as ``plane_<view name>``: its shown points at their input rows."""
        return {f"plane_{v.name}": Scatter(v.points, v.rows) for v in self.views}


def plane_views(z, config: PlanesConfig | None = None, pca: PcaResult | None = None, seed: int = 0) -> PlanesResult:
    """Project ``z`` onto each configured plane and count points in the zoom squares.

    Parameters
    ----------
    z : numpy array or RowStore, float32, shape (N, d)
    config : PlanesConfig, optional
    pca : PcaResult, optional
        Reused when given; otherwise computed.
    seed : int, default 0
        Picks the shown points when N > ``max_points``.

    Returns
    -------
    PlanesResult
    """
    cfg = config or PlanesConfig()
    n, d = z.shape
    skipped = []
    pca_pairs = [p for p in cfg.pca_pairs if 1 <= min(p) and max(p) <= d]
    skipped += [f"pca {a}-{b}: d = {d}" for a, b in cfg.pca_pairs if (a, b) not in pca_pairs]
    if pca_pairs and pca is None:
        pca = fit_pca(z)
    axis_pairs = [p for p in cfg.axis_pairs if 0 <= min(p) and max(p) < d]
    skipped += [f"axes {a}-{b}: d = {d}" for a, b in cfg.axis_pairs if (a, b) not in axis_pairs]
    if not axis_pairs and cfg.axis_pairs:
        axis_pairs = [(0, 1)]
    planes = [("pca", a, b) for a, b in pca_pairs] + [("axes", a, b) for a, b in axis_pairs]
    shown = seeded_subsample(n, cfg.max_points, seed)
    half_widths = np.asarray(cfg.zoom_half_widths, dtype=np.float64)
    counts = np.zeros((len(planes), len(half_widths)), dtype=np.int64)
    reach_max = np.zeros(len(planes))
    points = np.empty((len(planes), len(shown), 2), dtype=np.float32)
    for rows in row_chunks(n):
        block = float32_block(z, rows)
        first, last = np.searchsorted(shown, [rows.start, rows.stop])
        for i, (kind, a, b) in enumerate(planes):
            xy = project(block, pca, [a - 1, b - 1]) if kind == "pca" else np.ascontiguousarray(block[:, [a, b]])
            reach = np.abs(xy).max(axis=1)  # a point is inside [-h, h]^2 iff max(|x|, |y|) <= h
            counts[i] += (reach[:, None] <= half_widths[None, :]).sum(axis=0)
            reach_max[i] = max(reach_max[i], float(reach.max()))
            points[i, first:last] = xy[shown[first:last] - rows.start]
    views = [PlaneView(kind=kind, first=a, second=b, name=f"{kind}_{a}_{b}", max_abs=float(reach_max[i]),
                       half_widths=list(cfg.zoom_half_widths), counts_inside=[int(c) for c in counts[i]],
                       n_points_shown=len(shown), points=points[i], rows=shown)
             for i, (kind, a, b) in enumerate(planes)]
    return PlanesResult(n_points=n, numbering="pca components from 1, original axes from 0", views=views,
                        skipped=skipped)
