"""The latent points of the pictures of ``zspace factors``, and the void profiles of its interpolations.

* axis traversals: for the most informative axes, a fixed set of encoded
  points with that axis swept over its empirical 1st..99th percentile;
* factor directions: the same points moved along each factor's linear
  direction, from -2 to +2 standard deviations of the codes along it, and,
  for a binary factor, along the attribute vector (mean code with the
  attribute minus mean without);
* interpolations between pairs of encoded points, straight and along the data
  (the shortest path through a k-nearest-neighbour graph of the codes), each
  with its void profile: the distance of every point of the path to the
  nearest code, in units of the typical nearest-neighbour spacing.

Arrays in, arrays out: decoding them is :func:`zspace.factors.factors`.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from zspace.analysis.factors import FactorResult
from zspace.core.neighbours import knn, nearest_distances
from zspace.core.results import Result, array_field
from zspace.core.rng import sub_seed
from zspace.core.rows import seeded_subsample
from zspace.factors.config import FactorsConfig
from zspace.factors.input import FactorInput


@dataclasses.dataclass
class PathProfileSummary(Result):
    """Void profile of one kind of interpolation: distance to the nearest code along the paths.

    ``mean_distance`` and ``max_distance`` are in units of the median nearest-
    neighbour spacing of the codes (1 = as far from the data as a typical code
    is from its neighbour); ``profile`` is the mean over paths at each step.
    """

    kind: str
    n_paths: int
    mean_distance: float
    max_distance: float
    profile: list[float]


@dataclasses.dataclass
class TraversalPlan(Result):
    """The latent points of every decoded picture, with what they mean.

    Attributes
    ----------
    axes : list of int
        Traversed axes, most informative first.
    axis_points : float32 (len(axes), n_points, n_steps, d)
    axis_ranges : list of [low, high]
        1st and 99th percentile of each traversed axis (z units).
    direction_factors : list of str
    direction_points : float32 (len(direction_factors), n_points, n_steps, d)
        Moves along each factor's linear direction, -2..+2 standard deviations.
    attribute_factors : list of str
        Binary factors with an attribute-arithmetic traversal.
    attribute_points : float32 (len(attribute_factors), n_points, n_steps, d)
        Moves along (mean with - mean without), from -1 to +1 times that vector.
    paths : dict kind -> float32 (n_pairs, n_steps, d)
        "straight" and "data" (through the nearest-neighbour graph) interpolations.
    profiles : list of PathProfileSummary
    """

    axes: list[int]
    axis_ranges: list[list[float]]
    direction_factors: list[str]
    attribute_factors: list[str]
    profiles: list[PathProfileSummary]
    axis_points: np.ndarray = array_field()
    direction_points: np.ndarray = array_field()
    attribute_points: np.ndarray = array_field()
    paths: dict[str, np.ndarray] = array_field()

    def headline(self) -> dict[str, float]:
        return {f"{p.kind}_path_mean_distance": p.mean_distance for p in self.profiles}


def most_informative_axes(result: FactorResult, n: int) -> list[int]:
    """Axes ordered by their largest normalised MI with any factor, the ``n`` first."""
    best = np.asarray(result.axes.mi).max(axis=1)
    return [int(a) for a in np.argsort(-best, kind="stable")[:n]]


def _sweep(points: np.ndarray, direction: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    # (P, d) points + offsets (S,) along direction (d,) -> (P, S, d)
    return (points[:, None, :] + offsets[None, :, None] * direction[None, None, :]).astype(np.float32)


def axis_traversals(codes: np.ndarray, axes: list[int], points: np.ndarray, n_steps: int
                    ) -> tuple[np.ndarray, list[list[float]]]:
    """(len(axes), P, n_steps, d): ``points`` with each axis set to n_steps values over its 1st..99th percentile."""
    out, ranges = [], []
    for axis in axes:
        low, high = np.percentile(codes[:, axis], [1, 99])
        grid = np.repeat(points[:, None, :], n_steps, axis=1).astype(np.float32)
        grid[:, :, axis] = np.linspace(low, high, n_steps, dtype=np.float32)[None, :]
        out.append(grid)
        ranges.append([float(low), float(high)])
    return np.stack(out) if out else np.zeros((0, len(points), n_steps, codes.shape[1]), np.float32), ranges


def direction_traversals(codes: np.ndarray, directions: np.ndarray, points: np.ndarray, n_steps: int) -> np.ndarray:
    """(K, P, n_steps, d): ``points`` moved along each unit direction by -2..+2 std of the codes along it."""
    out = []
    for direction in np.asarray(directions, dtype=np.float64):
        norm = np.linalg.norm(direction)
        if norm == 0:
            out.append(np.repeat(points[:, None, :], n_steps, axis=1).astype(np.float32))
            continue
        unit = direction / norm
        spread = float(np.std(codes @ unit))
        out.append(_sweep(points, unit, np.linspace(-2, 2, n_steps) * spread))
    return np.stack(out) if out else np.zeros((0, len(points), n_steps, codes.shape[1]), np.float32)


def attribute_vectors(codes: np.ndarray, factors: np.ndarray, names: list[str]) -> tuple[list[str], np.ndarray]:
    """For each binary factor (two values, both present): its name and mean code with it minus mean without."""
    chosen, vectors = [], []
    for k, name in enumerate(names):
        values = np.unique(factors[:, k])
        if len(values) != 2:
            continue
        has = factors[:, k] == values[1]
        chosen.append(name)
        vectors.append(codes[has].mean(axis=0) - codes[~has].mean(axis=0))
    return chosen, np.array(vectors, dtype=np.float64).reshape(len(chosen), codes.shape[1])


class DataGraph:
    """The k-nearest-neighbour graph of a seeded subsample of codes (edges weighted by distance, undirected),
    along which a data path runs: the shortest path between two of its codes.

    ``points`` (M, d) float32 are the graph's codes, ``rows`` their rows in the codes given.
    """

    def __init__(self, codes: np.ndarray, graph_points: int, neighbours: int, seed: int) -> None:
        from scipy.sparse import csr_matrix

        self.rows = seeded_subsample(len(codes), graph_points, seed)
        self.points = np.asarray(codes[self.rows], dtype=np.float32)
        m = len(self.points)
        k = min(neighbours, m - 1)
        dist, idx = knn(self.points, k)
        graph = csr_matrix((dist.ravel().astype(np.float64) + 1e-12, (np.repeat(np.arange(m), k), idx.ravel())),
                           shape=(m, m))
        self.graph = graph.maximum(graph.T)  # undirected

    def paths(self, ends: np.ndarray, n_steps: int) -> np.ndarray:
        """(P, n_steps, d) float32: for each pair of graph nodes ``ends`` (P, 2), the shortest path between them,
        resampled to ``n_steps`` points evenly spaced along its length (the straight line where they are not
        connected)."""
        ends = np.asarray(ends, dtype=np.int64).reshape(-1, 2)
        return np.stack([resample(self.polyline(a, b), n_steps) for a, b in ends])

    def polyline(self, a: int, b: int) -> np.ndarray:
        """(M, d) float32: the graph's codes along the shortest path from node ``a`` to node ``b`` (both ends;
        just the two when they are not connected)."""
        from scipy.sparse.csgraph import dijkstra

        _, predecessors = dijkstra(self.graph, indices=[int(a)], return_predecessors=True)
        chain = [int(b)]
        while chain[-1] != a and predecessors[0, chain[-1]] >= 0:
            chain.append(int(predecessors[0, chain[-1]]))
        if chain[-1] != a:  # not connected
            chain = [int(b), int(a)]
        return self.points[chain[::-1]]

    def nearest_node(self, point: np.ndarray) -> int:
        """The graph node nearest to ``point`` (d,)."""
        return int(np.argmin(((self.points - np.asarray(point, dtype=np.float32)) ** 2).sum(axis=1)))


def interpolation_paths(codes: np.ndarray, n_pairs: int, n_steps: int, graph_points: int, neighbours: int,
                        seed: int) -> dict[str, np.ndarray]:
    """Straight lines and data paths between the same seeded pairs of codes, each (n_pairs, n_steps, d).

    A data path is the shortest path between the two codes in the k-nearest-
    neighbour graph of a seeded subsample of the codes (:class:`DataGraph`),
    resampled to ``n_steps`` points evenly spaced along its length.
    """
    graph = DataGraph(codes, graph_points, neighbours, seed)
    m = len(graph.points)
    rng = np.random.default_rng(sub_seed(seed, 3))
    ends = rng.choice(m, size=(n_pairs, 2), replace=m < 2 * n_pairs)
    t = np.linspace(0.0, 1.0, n_steps)
    straight = (graph.points[ends[:, 0], None, :] * (1 - t)[None, :, None]
                + graph.points[ends[:, 1], None, :] * t[None, :, None]).astype(np.float32)
    return {"straight": straight, "data": graph.paths(ends, n_steps)}


def resample(polyline: np.ndarray, n: int) -> np.ndarray:
    """``n`` points (n, d) float32 evenly spaced by arc length along a polyline (M, d)."""
    if len(polyline) == 1:
        return np.repeat(polyline, n, axis=0)
    seg = np.linalg.norm(np.diff(polyline, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    targets = np.linspace(0.0, s[-1], n)
    out = np.empty((n, polyline.shape[1]), dtype=np.float32)
    for j, target in enumerate(targets):
        i = min(int(np.searchsorted(s, target, side="right")) - 1, len(seg) - 1)
        frac = 0.0 if seg[i] == 0 else (target - s[i]) / seg[i]
        out[j] = polyline[i] + frac * (polyline[i + 1] - polyline[i])
    return out


def path_void_profiles(paths: dict[str, np.ndarray], codes: np.ndarray, seed: int,
                       n_reference: int = 20000) -> list[PathProfileSummary]:
    """Distance of every path point to the nearest code, in units of the codes' median nearest-neighbour spacing."""
    reference = codes[seeded_subsample(len(codes), n_reference, seed)].astype(np.float32)
    spacing = float(np.median(nearest_distances(reference, reference, exclude_self=True)))
    spacing = spacing if spacing > 0 else 1.0
    out = []
    for kind, points in paths.items():
        flat = points.reshape(-1, points.shape[-1])
        distance = nearest_distances(flat, reference).reshape(points.shape[:2]) / spacing
        out.append(PathProfileSummary(kind=kind, n_paths=len(points), mean_distance=float(distance.mean()),
                                      max_distance=float(distance.max()),
                                      profile=[float(v) for v in distance.mean(axis=0)]))
    return out


def plan_traversals(data: FactorInput, result: FactorResult, config: FactorsConfig, seed: int) -> TraversalPlan:
    """Every latent point the pictures of :func:`factors` decode, and the void profiles of the paths."""
    codes = data.codes
    points = codes[seeded_subsample(len(codes), config.n_points, seed)]
    axes = most_informative_axes(result, min(config.n_axes, codes.shape[1]))
    axis_points, ranges = axis_traversals(codes, axes, points, config.n_steps)
    direction_points = direction_traversals(codes, result.linear_direction, points, config.n_steps)
    analysed = [data.factor_names.index(name) for name in result.factor_names]  # constant factors were skipped
    attribute_names, vectors = attribute_vectors(codes, data.factors[:, analysed], list(result.factor_names))
    attribute_points = np.stack([_sweep(points, v, np.linspace(-1, 1, config.n_steps)) for v in vectors]) \
        if len(vectors) else np.zeros((0, len(points), config.n_steps, codes.shape[1]), np.float32)
    paths = interpolation_paths(codes, config.n_pairs, config.n_steps, config.graph_points, config.neighbours, seed)
    return TraversalPlan(axes=axes, axis_ranges=ranges, direction_factors=list(result.factor_names),
                         attribute_factors=attribute_names, profiles=path_void_profiles(paths, codes, seed),
                         axis_points=axis_points, direction_points=direction_points,
                         attribute_points=attribute_points, paths=paths)


__all__ = ["DataGraph", "resample", "TraversalPlan", "PathProfileSummary", "plan_traversals", "most_informative_axes", "axis_traversals",
           "direction_traversals", "attribute_vectors", "interpolation_paths", "path_void_profiles"]
