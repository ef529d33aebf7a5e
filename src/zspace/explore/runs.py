"""One run as the explorer serves it: its model loaded once, one split's images and codes, its latent space.

Opening checks the run as every command does (a checkpoint that fails
verification is refused with the usual one-line error) and writes nothing into
the run directory except through zspace's atomic caches (the encoded training
codes the void measure needs; a fitted sampler the page asks for).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from zspace.core.errors import ZspaceError
from zspace.core.log import get_logger
from zspace.core.rows import seeded_subsample
from zspace.explore.batching import DecodeBatcher
from zspace.explore.space import LatentSpace, MapPoints, View, parse_view
from zspace.factors.config import FactorsConfig
from zspace.factors.traversals import DataGraph, resample
from zspace.pipeline.run import Run, open_run
from zspace.pipeline.session import InferenceSession, open_session
from zspace.pipeline.zstore import load_zstore
from zspace.science.latents import fitted_sampler, training_latents
from zspace.science.quality.features import FeatureExtractor, FeatureNetConfig, cached_feature_extractor
from zspace.science.quality.precision_recall import knn_radii, realism
from zspace.science.samplers import sampler_names

log = get_logger(__name__)

#: views the page offers first (the seeds' PCA planes, where the codes have that many dimensions)
SUGGESTED_PLANES = ((1, 2), (1, 18), (8, 35))
#: real images whose features are the realism reference (a seeded subsample of the split; ``zspace score``'s size)
REALISM_REFERENCE = 5000
#: neighbours of the realism balls (``zspace score``'s k)
REALISM_K = 3
#: a t-SNE map is shown when its rows' codes in z_test.npz equal the served ones within this (same checkpoint)
SAME_CODES_ATOL = 1e-4


@dataclass
class RealismReference:
    """The sample-quality feature net of a run's data and the features of real images of the split: the
    realism of an image (Kynkaanniemi et al. 2019; >= 1 inside the real images' manifold) as ``zspace score``
    measures it."""

    extractor: FeatureExtractor
    real: np.ndarray
    radii: np.ndarray

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """(n,) realism of images (n, H, W, C), float in [0, 1] or uint8."""
        return realism(self.extractor(images), self.real, self.radii)


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
    batcher : DecodeBatcher or None
        Set by ``zspace explore --batch-decodes``: concurrent decodes share forward passes (pixels may then
        differ by one level from a lone decode; :mod:`zspace.explore.batching`). None: each decode alone.
    realism : RealismReference or None
        Where the feature net of ``zspace score`` / ``zspace question`` is cached for the run's data (it is
        never trained here); None otherwise.
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
    realism: RealismReference | None = None
    batcher: DecodeBatcher | None = None
    _graph: DataGraph | None = field(default=None, repr=False)

    @classmethod
    def open(cls, name: str, run_dir: str | Path | Run, *, split: str = "test", n: int | None = None,
             epoch: int | None = None, device: str = "auto", precision: str | None = None,
             seed: int = 0, feature_config: FeatureNetConfig | None = None) -> "ExploreRun":
        """Load ``run_dir``'s model once and encode ``split`` (at most ``n`` images) with it; ``feature_config``:
        the feature net of the realism (default: ``zspace score``'s), used where it is cached."""
        run = run_dir if isinstance(run_dir, Run) else open_run(run_dir)
        session = open_session(run, epoch, device, precision)
        data = run.data_split(split, n=n)
        encoded = session.encode(data.images, seed=seed, desc=f"encoding {name}")
        codes = encoded.get("mu", encoded["z"])
        space = LatentSpace.build(codes, training_latents(run, session.epoch, device), seed=seed)
        space.maps.update(tsne_maps(run, split, space.codes))
        return cls(name=name, session=session, split=split, images=data.images, labels=data.labels,
                   class_names=list(data.class_names or []), space=space,
                   radius=np.linalg.norm(space.codes, axis=1).astype(np.float32),
                   void=space.void_distance(space.codes).astype(np.float32),
                   factors=None if data.factors is None else np.asarray(data.factors, dtype=np.float32),
                   factor_names=list(data.factor_names or []),
                   factor_directions=factor_directions(run, space.z_dim),
                   realism=realism_reference(run, data.images, seed, feature_config))

    @property
    def run(self) -> Run:
        return self.session.run

    def view(self, name: str) -> View:
        return parse_view(name, self.space.z_dim, tuple(self.space.maps))

    def views(self) -> list[str]:
        """The views the page lists first: the seeds' PCA planes that exist, the first two axes, the t-SNE maps."""
        planes = [f"pca:{i},{j}" for i, j in SUGGESTED_PLANES if j <= self.space.z_dim]
        return planes + ["axes:0,1"] + [f"tsne:{name}" for name in self.space.maps]

    def realism_of(self, images: np.ndarray) -> list[float] | None:
        """Realism of each image (n, H, W, C) in [0, 1], or None where the run's data has no cached feature net."""
        return None if self.realism is None else [float(v) for v in self.realism(images)]

    def decode(self, z: np.ndarray) -> np.ndarray:
        """Float32 images (n, H, W, C) in [0, 1] of points z (n, z_dim): the session's decode (merged with
        concurrent requests' when :attr:`batcher` is set)."""
        z = np.asarray(z, dtype=np.float32)
        if self.batcher is not None:
            return self.batcher(z)
        return self.session.decode(z, desc=f"decoding {self.name}")

    def batch_decodes(self) -> "ExploreRun":
        """Merge concurrent decodes into shared forward passes from now on (see :mod:`zspace.explore.batching`)."""
        self.batcher = DecodeBatcher(lambda z: self.session.decode(z, desc=f"decoding {self.name}"))
        return self

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
                "factor_names": self.factor_names, "factor_directions": list(self.factor_directions),
                "realism": self.realism is not None}


def tsne_maps(run: Run, split: str, codes: np.ndarray) -> dict[str, MapPoints]:
    """The t-SNE maps ``zspace report`` saved for ``run`` (RUN/analysis/scatter.npz, rows of RUN/z_test.npz) when
    they map these codes: ``split`` is ``test`` and the codes of the map's rows equal the served ``codes`` (the
    same checkpoint and images); {} otherwise (a log line says why when the files exist)."""
    layout = run.layout
    if split != "test" or not (layout.analysis_scatter.exists() and layout.z_test.exists()):
        return {}
    try:
        with np.load(layout.analysis_scatter, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files if k.startswith("tsne_")}
        store = load_zstore(layout.z_test)
        stored = store.mu if store.mu is not None else store.z
    except (OSError, ValueError, ZspaceError) as exc:
        log.info("t-SNE maps of %s not shown: %s", run.root, exc)
        return {}
    maps = {}
    for key, positions in arrays.items():
        if key.endswith(".index") or f"{key}.index" not in arrays:
            continue
        rows = arrays[f"{key}.index"].astype(np.int64)
        if len(rows) == 0 or rows.max() >= min(len(codes), len(stored)) or positions.shape != (len(rows), 2):
            continue
        if not np.allclose(np.asarray(stored[np.sort(rows)]), codes[np.sort(rows)], atol=SAME_CODES_ATOL):
            log.info("t-SNE map %s of %s not shown: it maps other codes (another epoch); zspace report remakes it",
                     key, run.root)
            continue
        maps[key.removeprefix("tsne_")] = MapPoints(positions.astype(np.float32), rows)
    return maps


def realism_reference(run: Run, images: np.ndarray, seed: int = 0,
                      feature_config: FeatureNetConfig | None = None) -> RealismReference | None:
    """The realism reference of a run: the cached feature net of its data (``feature_config``'s, default the one
    ``zspace score`` trains with its default options) and the features of at most :data:`REALISM_REFERENCE` of
    ``images`` (a seeded subsample); None when that net is not cached or there are too few images."""
    config = dataclasses.replace(feature_config or FeatureNetConfig(), data=run.train_config.data,
                                 image_size=run.train_config.image_size)
    extractor = cached_feature_extractor(config)
    if extractor is None or len(images) <= REALISM_K:
        return None
    real = extractor(images[np.sort(seeded_subsample(len(images), REALISM_REFERENCE, seed))])
    return RealismReference(extractor, real, knn_radii(real, REALISM_K))


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


__all__ = ["ExploreRun", "RealismReference", "SUGGESTED_PLANES", "tsne_maps", "realism_reference"]
