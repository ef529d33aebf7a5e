"""Analysis 6: the cloud projected onto planes, with a zoom series around the origin.

Planes are spanned by two principal components (numbered from 1, as in
"PCA axes 1-2", SPEC 4.6) or by two original axes (numbered from 0, as numpy
indexes z[:, j]). For every plane and every half-width h of the zoom series the
number of points with |x| <= h and |y| <= h is counted on all points; the
projected points are kept (not in JSON) for the figures.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from zspace.analysis.pca import PcaResult, fit_pca, project
from zspace.core.config import Config
from zspace.core.results import Result, Scatter, array_field


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
    """

    pca_pairs: tuple[tuple[int, int], ...] = ((1, 2), (1, 18), (8, 35))
    axis_pairs: tuple[tuple[int, int], ...] = ((52, 221),)
    zoom_half_widths: tuple[float, ...] = (4.0, 2.0, 1.0, 0.5, 0.25)


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
        Points inside [-h, h]^2 for each h.
    points : float32 array, shape (N, 2) (not in JSON)
    """

    kind: str
    first: int
    second: int
    name: str
    max_abs: float
    half_widths: list[float]
    counts_inside: list[int]
    points: np.ndarray = array_field()


@dataclasses.dataclass
class PlanesResult(Result):
    """All plane views; pairs that do not fit d are listed in ``skipped``."""

    n_points: int
    numbering: str
    views: list[PlaneView]
    skipped: list[str]

    def scatters(self) -> dict[str, Scatter]:
        """Every plane as ``plane_<view name>``, all input rows."""
        return {f"plane_{v.name}": Scatter(v.points, np.arange(len(v.points), dtype=np.int64)) for v in self.views}


def plane_views(z: np.ndarray, config: PlanesConfig | None = None, pca: PcaResult | None = None) -> PlanesResult:
    """Project ``z`` onto each configured plane and count points in the zoom squares.

    Parameters
    ----------
    z : numpy.ndarray, float32, shape (N, d)
    config : PlanesConfig, optional
    pca : PcaResult, optional
        Reused when given; otherwise computed.

    Returns
    -------
    PlanesResult
    """
    cfg = config or PlanesConfig()
    n, d = z.shape
    views, skipped = [], []
    pca_pairs = [p for p in cfg.pca_pairs if 1 <= min(p) and max(p) <= d]
    skipped += [f"pca {a}-{b}: d = {d}" for a, b in cfg.pca_pairs if (a, b) not in pca_pairs]
    if pca_pairs and pca is None:
        pca = fit_pca(z)
    for a, b in pca_pairs:
        points = project(z, pca, [a - 1, b - 1])
        views.append(_view("pca", a, b, points, cfg.zoom_half_widths))
    axis_pairs = [p for p in cfg.axis_pairs if 0 <= min(p) and max(p) < d]
    skipped += [f"axes {a}-{b}: d = {d}" for a, b in cfg.axis_pairs if (a, b) not in axis_pairs]
    if not axis_pairs and cfg.axis_pairs:
        axis_pairs = [(0, 1)]
    for a, b in axis_pairs:
        points = np.ascontiguousarray(z[:, [a, b]], dtype=np.float32)
        views.append(_view("axes", a, b, points, cfg.zoom_half_widths))
    return PlanesResult(n_points=n, numbering="pca components from 1, original axes from 0", views=views,
                        skipped=skipped)


def _view(kind: str, a: int, b: int, points: np.ndarray, half_widths: tuple[float, ...]) -> PlaneView:
    reach = np.abs(points).max(axis=1)  # point is inside [-h, h]^2 iff max(|x|, |y|) <= h
    counts = [int((reach <= h).sum()) for h in half_widths]
    return PlaneView(kind=kind, first=a, second=b, name=f"{kind}_{a}_{b}", max_abs=float(reach.max()),
                     half_widths=list(half_widths), counts_inside=counts, points=points)
