"""One run as the explorer serves it: its model loaded once, one split's images and codes, its latent space.

Opening checks the run as every command does (a checkpoint that fails
verification is refused with the usual one-line error) and writes nothing into
the run directory except through zspace's atomic caches (the encoded training
codes the void measure needs; a fitted sampler the page asks for).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from zspace.core.errors import ZspaceError
from zspace.explore.space import LatentSpace, View, parse_view
from zspace.factors.config import FactorsConfig
from zspace.factors.traversals import DataGraph, resample
from zspace.pipeline.run import Run, open_run
from zspace.pipeline.session import InferenceSession, open_session
from zspace.science.latents import fitted_sampler, training_latents
from zspace.science.samplers import sampler_names

#: views the page offers first (the seeds' PCA planes, where the codes have that many dimensions)
SUGGESTED_PLANES = ((1, 2), (1, 18), (8, 35))


@dataclass
class ExploreRun:
    """A served run (see the module docstring).

    Attributes
    ----------
    name : str
        How requests address it (the command line's name for it).
    session : InferenceSession
        The model, loaded once; every decode goes through ``session.decode``.
    split : str
        The split whose codes the map shows.
    images : ndarray (N, H, W, C) uint8
        The split's images; row i is code i.
    labels : ndarray (N,) int or None
    class_names : list of str
    space : LatentSpace
        Codes (a VAE's mu), principal components, void reference.
    radius : ndarray (N,) float32
        Each code's distance from 0.
    void : ndarray (N,) float32
        Each code's distance to the nearest training code, in void thresholds.
    factors : ndarray (N, F) float32 or None, factor_names : list of str
        The split's known factors (shapes' generating factors, CelebA's attributes), for colouring.
    factor_directions : dict of str to ndarray (d,)
        Unit vectors of the factors' linear directions that ``zspace factors`` found (RUN/factors/factors.json),
        when it ran on this checkpoint's codes; empty otherwise.
    """

    name: str
    session: InferenceSession
    split: str
    images: np.ndarray
    labels: np.ndarray | None
    class_names: list[str]
    space: LatentSpace
    radius: np.ndarray
    void: np.ndarray
    factors: np.ndarray | None = None
    factor_names: list[str] = field(default_factory=list)
    factor_directions: dict[str, np.ndarray] = field(default_factory=dict)
    _graph: DataGraph | None = field(default=None, repr=False)

    @classmethod
    def open(cls, name: str, run_dir: str | Path | Run, *, split: str = "test", n: int | None = None,
             epoch: int | None = None, device: str = "auto", precision: str | None = None,
             seed: int = 0) -> "ExploreRun":
        """Load ``run_dir``'s model once and encode ``split`` (at most ``n`` images) with it."""
        run = run_dir if isinstance(run_dir, Run) else open_run(run_dir)
        session = open_session(run, epoch, device, precision)
        data = run.data_split(split, n=n)
        encoded = session.encode(data.images, seed=seed, desc=f"encoding {name}")
        codes = encoded.get("mu", encoded["z"])
        space = LatentSpace.build(codes, training_latents(run, session.epoch, device), seed=seed)
        return cls(name=name, session=session, split=split, images=data.images, labels=data.labels,
                   class_names=list(data.class_names or []), space=space,
                   radius=np.linalg.norm(space.codes, axis=1).astype(np.float32),
                   void=space.void_distance(space.codes).astype(np.float32),
                   factors=None if data.factors is None else np.asarray(data.factors, dtype=np.float32),
                   factor_names=list(data.factor_names or []),
                   factor_directions=factor_directions(run, space.z_dim))

    @property
    def run(self) -> Run:
        return self.session.run

    def view(self, name: str) -> View:
        return parse_view(name, self.space.z_dim)

    def views(self) -> list[str]:
        """The views the page lists first: the seeds' PCA planes that exist, then the first two axes."""
        planes = [f"pca:{i},{j}" for i, j in SUGGESTED_PLANES if j <= self.space.z_dim]
        return planes + ["axes:0,1"]

    def decode(self, z: np.ndarray) -> np.ndarray:
        """Float32 images (n, H, W, C) in [0, 1] of points z (n, z_dim): the session's decode."""
        return self.session.decode(np.asarray(z, dtype=np.float32), desc=f"decoding {self.name}")

    def real_image(self, row: int) -> np.ndarray:
        """Image ``row`` of the split as float (H, W, C) in [0, 1] (exactly its uint8 levels / 255)."""
        return self.images[row].astype(np.float32) / 255.0

    def label_of(self, row: int) -> str | None:
        if self.labels is None:
            return None
        label = int(self.labels[row])
        return self.class_names[label] if 0 <= label < len(self.class_names) else str(label)

    def direction(self, spec: str) -> np.ndarray:
        """Unit vector (d,) of ``axis:A``, ``pca:K`` or ``factor:NAME``; ZspaceError when there is none."""
        kind, _, index = spec.partition(":")
        if kind == "factor":
            if index not in self.factor_directions:
                known = ", ".join(self.factor_directions) or "none (run zspace factors on the run first)"
                raise ZspaceError(f"direction {spec!r}: no factor direction of that name; known: {known}")
            return self.factor_directions[index]
        if kind not in ("axis", "pca") or not index.isdigit():
            raise ZspaceError(f"direction {spec!r} must be axis:A, pca:K or factor:NAME")
        return self.space.direction(kind, int(index))

    def path(self, a: np.ndarray, b: np.ndarray, steps: int, along: str = "straight") -> np.ndarray:
        """(steps, d) float32 points from ``a`` to ``b``: the straight line, or (``data``) the data path of
        ``zspace factors``: from a to the nearest code of the split's k-nearest-neighbour graph, along its
        shortest path to the code nearest to b, to b; evenly spaced by length."""
        a, b = np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32)
        if along == "straight":
            t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
            return (1 - t) * a + t * b
        if self._graph is None:
            defaults = FactorsConfig()
            self._graph = DataGraph(self.space.codes, defaults.graph_points, defaults.neighbours, seed=0)
        chain = self._graph.polyline(self._graph.nearest_node(a), self._graph.nearest_node(b))
        return resample(np.vstack([a[None], chain, b[None]]), steps)

    def sample(self, spec: str, n: int, seed: int) -> np.ndarray:
        """``n`` points (n, z_dim) float32 of sampler ``spec`` (fitted to the training codes and saved in the
        run when it needs a fit), as ``zspace generate`` draws them."""
        sampler = fitted_sampler(self.run, spec, epoch=self.session.epoch, device=str(self.session.device))
        return np.asarray(sampler.sample(n, np.random.default_rng(seed)), dtype=np.float32)

    def describe(self) -> dict:
        """What ``GET /api/runs`` says of this run."""
        return {"name": self.name, "z_dim": self.space.z_dim, "image_shape": list(self.images.shape[1:]),
                "model_kind": self.session.kind, "epoch": self.session.epoch, "split": self.split,
                "n_points": int(len(self.space.codes)), "views": self.views(), "class_names": self.class_names,
                "explained": self.space.explained[:10].tolist(), "samplers": sampler_names(),
                "factor_names": self.factor_names, "factor_directions": list(self.factor_directions)}


def factor_directions(run: Run, z_dim: int) -> dict[str, np.ndarray]:
    """The linear factor directions in ``run``'s factors/factors.json (``measures.linear_direction``, one row per
    factor of ``measures.factor_names``), as unit vectors; {} when there is no such file or it does not fit z."""
    try:
        measures = json.loads(run.layout.factors_summary.read_text(encoding="utf-8"))["measures"]
        rows = np.asarray(measures["linear_direction"], dtype=np.float64)
        names = [str(n) for n in measures["factor_names"]]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    if rows.ndim != 2 or rows.shape != (len(names), z_dim):
        return {}
    norms = np.linalg.norm(rows, axis=1)
    return {name: row / norm for name, row, norm in zip(names, rows, norms) if np.isfinite(norm) and norm > 0}


__all__ = ["ExploreRun", "SUGGESTED_PLANES"]
