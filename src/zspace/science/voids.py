"""Where the voids are: how far sampled points land from the encoded training cloud.

* :func:`void_share` — for points from a sampler, the distance to the nearest
  encoded training point, relative to the nearest-neighbour distances among
  the training points themselves; the share of points beyond the
  ``percentile`` (99th) of the training distances lies "in a void": farther
  from any training code than 99 % of training codes are from their nearest
  neighbour.
* :func:`path_profiles` — decode along straight lines between two encoded
  points, and between two random points, and record along the path the
  distance to the nearest training code (in units of the void threshold) and
  the realism of the decoded image (>= 1: inside the real-image manifold of
  the feature space, see :mod:`zspace.science.quality.precision_recall`).

Both use a seeded reference subsample of the training codes (``n_reference``
rows); nearest-neighbour distances among the reference rows leave each point
itself out, so the two sets of distances are measured against the same cloud.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from zspace.core.errors import require
from zspace.core.neighbours import nearest_distances
from zspace.core.results import Result, array_field
from zspace.core.rows import seeded_subsample


@dataclass
class VoidReference:
    """The training cloud as seen by the void measures.

    Attributes
    ----------
    points : ndarray (M, d)
        Seeded subsample of the encoded training points.
    nn_distances : ndarray (M,)
        Each reference point's distance to its nearest other reference point.
    threshold : float
        The ``percentile`` of ``nn_distances``: the void threshold.
    """

    points: np.ndarray
    nn_distances: np.ndarray
    threshold: float
    percentile: float

    @classmethod
    def build(cls, z_train: np.ndarray, n_reference: int = 20000, percentile: float = 99.0,
              seed: int = 0) -> "VoidReference":
        z_train = np.asarray(z_train, dtype=np.float32)
        require(z_train.ndim == 2 and len(z_train) >= 3, f"void share: need (N >= 3, d) training points, got {z_train.shape}")
        require(0 < percentile < 100, f"void share: percentile {percentile} must be in (0, 100)")
        points = z_train[seeded_subsample(len(z_train), n_reference, seed)]
        nn = nearest_distances(points, points, exclude_self=True)
        return cls(points=points, nn_distances=nn, threshold=float(np.percentile(nn, percentile)),
                   percentile=percentile)


@dataclass
class VoidShare(Result):
    """Void measures of one set of points.

    Attributes
    ----------
    share : float
        Share of points farther from the nearest training code than the threshold.
    median_ratio : float
        Median of (distance to nearest training code) / (median training NN distance).
    threshold : float
        The training NN-distance percentile used (latent units).
    """

    name: str
    n: int
    share: float
    median_ratio: float
    threshold: float
    percentile: float
    median_train_nn: float
    distances: np.ndarray = array_field()


def void_share(points: np.ndarray, reference: VoidReference, name: str = "") -> VoidShare:
    """Share of ``points`` (N, d) beyond the void threshold of ``reference``."""
    points = np.asarray(points, dtype=np.float32)
    require(points.ndim == 2 and points.shape[1] == reference.points.shape[1],
            f"void share: points must be (N, {reference.points.shape[1]}), got {points.shape}")
    dist = nearest_distances(points, reference.points)
    median_nn = float(np.median(reference.nn_distances))
    return VoidShare(name=name, n=len(points), share=float((dist > reference.threshold).mean()),
                     median_ratio=float(np.median(dist) / median_nn) if median_nn > 0 else float("inf"),
                     threshold=reference.threshold, percentile=reference.percentile, median_train_nn=median_nn,
                     distances=dist)


@dataclass
class PathProfile(Result):
    """Mean profile along straight latent paths of one kind.

    Attributes
    ----------
    kind : str
        ``encoded`` (between two encoded training points) or ``random`` (between two sampler points).
    t : list of float
        Positions along the path, 0 and 1 are the end points.
    void_distance : list of float
        Mean distance to the nearest training code, in units of the void threshold (> 1: in a void).
    realism : list of float
        Median realism of the decoded images (>= 1: inside the real-image manifold).
    inside_share : list of float
        Share of decoded images with realism >= 1.
    worst_t : float
        Position of the lowest median realism.
    drop : float
        Median realism at the ends minus the lowest median realism along the path.
    """

    kind: str
    n_paths: int
    t: list[float]
    void_distance: list[float]
    realism: list[float]
    inside_share: list[float]
    worst_t: float
    drop: float


@dataclass
class PathProfiles(Result):
    profiles: list[PathProfile] = field(default_factory=list)

    def sentence(self) -> str:
        parts = [f"{p.kind} paths: realism {p.realism[0]:.2f} at the ends, lowest {min(p.realism):.2f} at "
                 f"t={p.worst_t:.2f}, void distance up to {max(p.void_distance):.2f}x threshold"
                 for p in self.profiles]
        return "; ".join(parts)


def path_profiles(ends: dict[str, tuple[np.ndarray, np.ndarray]], reference: VoidReference,
                  decode: Callable[[np.ndarray], np.ndarray], realism: Callable[[np.ndarray], np.ndarray],
                  n_steps: int = 11) -> PathProfiles:
    """Profiles along straight paths between paired end points.

    Parameters
    ----------
    ends : dict kind -> (start (P, d), end (P, d))
        Pairs of end points per kind of path, e.g. ``{"encoded": (a, b), "random": (c, e)}``.
    reference : VoidReference
    decode : callable, (N, d) latent points -> (N, H, W, C) images
    realism : callable, images -> (N,) realism scores
    n_steps : int, default 11
        Points per path, ends included.
    """
    require(n_steps >= 3, f"path profiles: n_steps {n_steps} must be >= 3")
    t = np.linspace(0.0, 1.0, n_steps)
    profiles = []
    for kind, (a, b) in ends.items():
        a, b = np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32)
        points = (a[:, None, :] * (1 - t[None, :, None]) + b[:, None, :] * t[None, :, None]).reshape(-1, a.shape[1])
        dist = nearest_distances(points, reference.points).reshape(len(a), n_steps) / reference.threshold
        real = realism(decode(points.astype(np.float32))).reshape(len(a), n_steps)
        median_real = np.median(real, axis=0)
        worst = int(np.argmin(median_real))
        profiles.append(PathProfile(kind=kind, n_paths=len(a), t=t.tolist(), void_distance=dist.mean(axis=0).tolist(),
                                    realism=median_real.tolist(), inside_share=(real >= 1).mean(axis=0).tolist(),
                                    worst_t=float(t[worst]),
                                    drop=float((median_real[0] + median_real[-1]) / 2 - median_real[worst])))
    return PathProfiles(profiles=profiles)


__all__ = ["VoidReference", "VoidShare", "void_share", "PathProfile", "PathProfiles",
           "path_profiles"]
