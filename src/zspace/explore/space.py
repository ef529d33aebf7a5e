"""The latent space of one run as the explorer shows it: codes, 2-D views, clicks turned into points z.

Compute only (numpy and scikit-learn; no web): :mod:`zspace.explore.app`
serves it, and a test can check every mapping without a server.

Views (names as the page and the API use them):

``pca:I,J``   the plane of principal components I and J of the split's codes,
              numbered from 1 (``pca:1,2``, ``pca:1,18``, ``pca:8,35``)
``axes:A,B``  original coordinates A and B of z, numbered from 0 like numpy
              (``axes:52,221``)
``tsne:NAME`` the run's t-SNE map NAME (``zspace report`` made it of a seeded
              subsample of the test split's codes); t-SNE has no inverse
              and no out-of-sample map, so a click on it picks the code whose
              map position is nearest and sampled points cannot be placed on it

On a plane a click (x, y) is a point of z: its two plane coordinates are the
click; every other coordinate follows ``fill``:

``mean``     the data's: the other principal coordinates are 0 (PCA), the
             other axes are the codes' mean (axes)
``nearest``  those of the code whose view position is nearest to the click
``zero``     those of z = 0 (the origin of the latent space)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
from sklearn.decomposition import PCA

from zspace.core.errors import ZspaceError
from zspace.core.neighbours import nearest_distances
from zspace.science.voids import VoidReference

#: how a click's other coordinates are chosen (see the module docstring)
FILLS = ("mean", "nearest", "zero")
#: reference points of the void measure (the same default as zspace question's)
VOID_REFERENCE_POINTS = 20000


@dataclass(frozen=True)
class View:
    """A view: a plane (``kind`` ``pca`` or ``axes`` and its two coordinates, 0-based) or a t-SNE map
    (``kind`` ``tsne`` and its ``map`` name)."""

    kind: str
    i: int = 0
    j: int = 1
    map: str = ""

    @property
    def name(self) -> str:
        if self.kind == "tsne":
            return f"tsne:{self.map}"
        return f"pca:{self.i + 1},{self.j + 1}" if self.kind == "pca" else f"axes:{self.i},{self.j}"

    @property
    def is_plane(self) -> bool:
        """True for a linear view of z (a click is a point of z), False for a t-SNE map."""
        return self.kind != "tsne"


@dataclass(frozen=True)
class MapPoints:
    """A 2-D map of some codes: ``positions`` (m, 2) float32 of the codes at ``rows`` (m,) int64."""

    positions: np.ndarray
    rows: np.ndarray


def parse_view(name: str, z_dim: int, maps: tuple[str, ...] = ()) -> View:
    """The :class:`View` named ``name`` for codes of width ``z_dim`` (``maps``: the t-SNE maps there are);
    ZspaceError naming the field when bad."""
    tsne = re.fullmatch(r"tsne:(\S+)", str(name).strip())
    if tsne:
        if tsne.group(1) not in maps:
            known = ", ".join(f"tsne:{m}" for m in maps) or "none (zspace report RUN makes them)"
            raise ZspaceError(f"view {name!r}: this run has no such t-SNE map; its t-SNE maps: {known}")
        return View("tsne", map=tsne.group(1))
    match = re.fullmatch(r"(pca|axes):(\d+),(\d+)", str(name).strip())
    if not match:
        raise ZspaceError(f"view {name!r} is not understood; use pca:I,J (components from 1), axes:A,B "
                          f"(coordinates from 0) or tsne:NAME")
    kind, a, b = match.group(1), int(match.group(2)), int(match.group(3))
    i, j = (a - 1, b - 1) if kind == "pca" else (a, b)
    low, high = (1, z_dim) if kind == "pca" else (0, z_dim - 1)
    if not (0 <= i < z_dim and 0 <= j < z_dim) or i == j:
        raise ZspaceError(f"view {name!r}: two different {'components' if kind == 'pca' else 'axes'} from "
                          f"{low} to {high} are needed (z has {z_dim} dimensions)")
    return View(kind, i, j)


@dataclass
class LatentSpace:
    """The codes of one split of a run, with what the views and clicks need.

    Attributes
    ----------
    codes : ndarray (N, d) float32
        Deterministic codes (a VAE's mu, an AE's z), row i = image i of the split.
    mean : ndarray (d,)
        The codes' mean.
    components : ndarray (d, d)
        Principal directions, row k = component k + 1 (unit length, orthogonal).
    explained : ndarray (d,)
        Share of the variance along each component.
    reference : VoidReference
        The training cloud of the void measure (as ``zspace question`` builds it).
    maps : dict of str to MapPoints
        The run's t-SNE maps of these codes, by name (empty when it has none).
    """

    codes: np.ndarray
    mean: np.ndarray
    components: np.ndarray
    explained: np.ndarray
    reference: VoidReference
    maps: dict[str, MapPoints] = field(default_factory=dict)
    _projected: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def build(cls, codes: np.ndarray, reference_codes: np.ndarray | None = None, seed: int = 0) -> "LatentSpace":
        """Principal components of ``codes`` (N, d) and the void reference of ``reference_codes`` (the
        training codes; default ``codes``)."""
        codes = np.ascontiguousarray(codes, dtype=np.float32)
        pca = PCA(n_components=codes.shape[1], svd_solver="full").fit(codes)
        reference = VoidReference.build(codes if reference_codes is None else reference_codes,
                                        n_reference=VOID_REFERENCE_POINTS, seed=seed)
        return cls(codes=codes, mean=pca.mean_.astype(np.float64), components=pca.components_.astype(np.float64),
                   explained=pca.explained_variance_ratio_.astype(np.float64), reference=reference)

    @property
    def z_dim(self) -> int:
        return int(self.codes.shape[1])

    def principal(self) -> np.ndarray:
        """(N, d) float32: every code's principal coordinates (computed once)."""
        if self._projected is None:
            self._projected = ((self.codes - self.mean) @ self.components.T).astype(np.float32)
        return self._projected

    def rows(self, view: View) -> np.ndarray | None:
        """The code rows (m,) that ``view`` shows, in the order of :meth:`coordinates`; None: every code."""
        return self.maps[view.map].rows if view.kind == "tsne" else None

    def coordinates(self, view: View, points: np.ndarray | None = None) -> np.ndarray:
        """(M, 2) float32 positions in ``view`` of ``points`` (M, d) (default: the codes the view shows,
        :meth:`rows`). A t-SNE map places no other points (ZspaceError)."""
        if view.kind == "tsne":
            if points is not None:
                raise ZspaceError(f"view {view.name}: t-SNE has no inverse and no out-of-sample map, so other points "
                                  f"cannot be placed on it; use a pca:I,J or axes:A,B view")
            return np.ascontiguousarray(self.maps[view.map].positions, dtype=np.float32)
        if points is None:
            full = self.principal() if view.kind == "pca" else self.codes
            return np.ascontiguousarray(full[:, [view.i, view.j]], dtype=np.float32)
        points = np.asarray(points, dtype=np.float64)
        if view.kind == "pca":
            return ((points - self.mean) @ self.components[[view.i, view.j]].T).astype(np.float32)
        return points[:, [view.i, view.j]].astype(np.float32)

    def nearest_in_view(self, view: View, xy: tuple[float, float]) -> int:
        """The row of the code whose position in ``view`` is nearest to ``xy``."""
        positions = self.coordinates(view)
        nearest = int(np.argmin(((positions - np.asarray(xy, dtype=np.float32)) ** 2).sum(axis=1)))
        rows = self.rows(view)
        return nearest if rows is None else int(rows[nearest])

    def click(self, view: View, xy: tuple[float, float], fill: str = "mean") -> np.ndarray:
        """The point z (d,) float64 of a click at ``xy`` on ``view``; the other coordinates follow ``fill``.
        On a t-SNE map: the code nearest to the click in the map (``fill`` does not apply)."""
        if fill not in FILLS:
            raise ZspaceError(f"fill {fill!r} is unknown; use one of {', '.join(FILLS)}")
        if view.kind == "tsne":
            return self.codes[self.nearest_in_view(view, xy)].astype(np.float64)
        x, y = (float(v) for v in xy)
        if view.kind == "pca":
            if fill == "mean":
                coefficients = np.zeros(self.z_dim)
            elif fill == "nearest":
                coefficients = self.principal()[self.nearest_in_view(view, xy)].astype(np.float64)
            else:
                coefficients = (np.zeros(self.z_dim) - self.mean) @ self.components.T
            coefficients[view.i], coefficients[view.j] = x, y
            return self.mean + coefficients @ self.components
        base = {"mean": self.codes.mean(axis=0, dtype=np.float64),
                "nearest": None, "zero": np.zeros(self.z_dim)}[fill]
        if base is None:
            base = self.codes[self.nearest_in_view(view, xy)].astype(np.float64)
        z = base.copy()
        z[view.i], z[view.j] = x, y
        return z

    def nearest_codes(self, z: np.ndarray, k: int = 6) -> tuple[np.ndarray, np.ndarray]:
        """(rows (k,), distances (k,)) of the ``k`` codes nearest to the point ``z`` (d,), nearest first."""
        distances = np.sqrt(((self.codes - np.asarray(z, dtype=np.float32)) ** 2).sum(axis=1))
        k = min(k, len(distances))
        rows = np.argpartition(distances, k - 1)[:k]
        rows = rows[np.argsort(distances[rows], kind="stable")]
        return rows, distances[rows]

    def void_distance(self, points: np.ndarray) -> np.ndarray:
        """(M,) distance of each point (M, d) to the nearest training code in units of the void threshold
        (the 99th percentile of the training codes' nearest-neighbour distances): > 1 is in a void, as
        ``zspace question`` counts it."""
        return nearest_distances(np.asarray(points, dtype=np.float32), self.reference.points) / \
            self.reference.threshold

    def direction(self, kind: str, index: int) -> np.ndarray:
        """Unit vector (d,) of an original axis (``axis``, 0-based) or a principal direction (``pca``, from 1)."""
        if kind == "axis" and 0 <= index < self.z_dim:
            unit = np.zeros(self.z_dim)
            unit[index] = 1.0
            return unit
        if kind == "pca" and 1 <= index <= self.z_dim:
            return self.components[index - 1].copy()
        raise ZspaceError(f"direction {kind}:{index} does not exist; use axis:0..{self.z_dim - 1} or "
                          f"pca:1..{self.z_dim}")


__all__ = ["FILLS", "View", "MapPoints", "parse_view", "LatentSpace"]
