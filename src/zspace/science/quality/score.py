"""Score a sampler of a run: decoded samples against held-out real images, with a floor and a ceiling.

The held-out (test) split is shuffled with the seed and cut in two halves:

* half A is the real reference set (``n_reference`` images);
* half B gives the **floor**: its reconstructions (a VAE decodes its mu),
  the best a decoder of this run can do on unseen images, and the
  **ceiling**: the same images with their pixels shuffled (each image its
  own permutation), same intensities, no structure.

Every set goes through the same feature net (:mod:`zspace.science.quality.features`)
and is compared with half A by the Frechet distance and k-NN precision/recall.
FD has a positive bias that shrinks with the sample count, so compare rows
of equal ``n`` (``zspace question`` draws ``n_reference`` samples per sampler).

Where a weights file of torch-fidelity's Inception-v3 is given (``StandardConfig.weights`` or
``$ZSPACE_INCEPTION_WEIGHTS``), every set also gets the field's standard scores against the same half A
(:mod:`zspace.science.quality.standard`: FID, KID, precision/recall, density/coverage), in
``QualityRow.standard``; without one those are None and :data:`~zspace.science.quality.standard.HINT` says how
to get them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zspace.core import io
from zspace.core.errors import require
from zspace.core.rng import sub_seed
from zspace.data.imageset import require_images_fit
from zspace.pipeline.run import Run, open_run
from zspace.pipeline.session import InferenceSession, open_session
from zspace.science.latents import fitted_sampler
from zspace.science.quality.features import LABEL as FEATURE_NET_LABEL
from zspace.science.quality.features import FeatureExtractor, FeatureNetConfig, feature_extractor
from zspace.science.quality.frechet import frechet_distance_from_stats, gaussian_stats
from zspace.science.quality.precision_recall import inside_manifold, knn_radii, realism
from zspace.science.quality.standard import LABEL as STANDARD_LABEL
from zspace.science.quality.standard import HINT, StandardConfig, StandardRow, StandardScorer, standard_scorer
from zspace.science.samplers import Sampler, saved_name

FLOOR = "reconstruction"
CEILING = "shuffled pixels"


@dataclass
class QualityRow:
    """Scores of one set of images against the real reference set.

    Attributes
    ----------
    name : str
        Sampler spec, or ``reconstruction`` (floor) / ``shuffled pixels`` (ceiling).
    n : int
        Images in the set.
    fd : float
        Frechet distance in the feature space (lower is better; 0 = same Gaussian).
    precision, recall : float
        k-NN precision and recall in [0, 1] (higher is better).
    realism_median : float
        Median per-image realism (>= 1: inside the real manifold).
    standard : StandardRow or None
        FID, KID, precision/recall, density/coverage in Inception-v3 features (torch-fidelity's), when a
        weights file was given; None otherwise.
    """

    name: str
    n: int
    fd: float
    precision: float
    recall: float
    realism_median: float
    standard: StandardRow | None = None


@dataclass
class ScoreResult:
    """A sampler's row beside the floor and the ceiling of its run; JSON via :func:`zspace.core.io.to_jsonable`."""

    run: str
    sampler: QualityRow
    floor: QualityRow
    ceiling: QualityRow
    data: str
    epoch: int
    n_reference: int
    k: int
    seed: int
    feature_net: dict[str, Any] = field(default_factory=dict)
    precision: str = "fp32"
    standard_net: dict[str, Any] | None = None

    @property
    def fd_over_floor(self) -> float:
        return self.sampler.fd / self.floor.fd if self.floor.fd > 0 else float("inf")

    def format(self) -> str:
        """The floor, sampler and ceiling rows in both feature nets (the standard block only when measured)."""
        standard = self.standard_net is not None
        own = f"{'n':>6} {'FD':>9} {'precision':>9} {'recall':>7}"
        lines = [f"{'':<18} {FEATURE_NET_LABEL:^{len(own)}} | {STANDARD_LABEL}"] if standard else []
        lines.append(f"{'set':<18} {own}" + (" | " + STANDARD_HEADER if standard else ""))
        for row in (self.floor, self.sampler, self.ceiling):
            lines.append(f"{row.name:<18} {row.n:>6} {row.fd:>9.3f} {row.precision:>9.3f} {row.recall:>7.3f}"
                         + (" | " + standard_cells(row.standard) if standard else ""))
        lines.append(f"FD / floor = {self.fd_over_floor:.2f}  (feature net: {self.feature_net.get('task')}, "
                     f"held-out accuracy {self.feature_net.get('test_accuracy', float('nan')):.3f})")
        if standard:
            lines.append(f"FID / floor = {fid_over_floor(self.sampler, self.floor):.2f}  ({STANDARD_LABEL}: "
                         f"{self.standard_net.get('weights')}, KID subsets of "
                         f"{min(self.standard_net.get('kid_subset_size', 0), self.sampler.n, self.n_reference)})")
        else:
            lines.append(HINT)
        return "\n".join(lines)


#: the standard block of a plain-text table (:func:`standard_cells` fills it)
STANDARD_HEADER = f"{'FID':>9} {'KID':>9} {'precision':>9} {'recall':>7} {'density':>7} {'coverage':>8}"


def standard_cells(row: StandardRow | dict | None) -> str:
    """A row's standard block under :data:`STANDARD_HEADER` (dashes where it was not measured)."""
    if row is None:
        return " ".join(f"{'-':>{len(h)}}" for h in STANDARD_HEADER.split(" ") if h)
    r = row if isinstance(row, dict) else dataclasses.asdict(row)
    return (f"{r['fid']:>9.3f} {r['kid']:>9.5f} {r['precision']:>9.3f} {r['recall']:>7.3f} {r['density']:>7.3f} "
            f"{r['coverage']:>8.3f}")


def fid_over_floor(row: QualityRow, floor: QualityRow) -> float:
    """The row's FID as a multiple of the floor's (nan when either was not measured)."""
    if row.standard is None or floor.standard is None:
        return float("nan")
    return row.standard.fid / floor.standard.fid if floor.standard.fid > 0 else float("inf")


class Scorer:
    """Everything a run's scores share: model, feature net, real reference features, floor and ceiling.

    Build once, then call :meth:`score_points` or :meth:`score_sampler` per sampler.
    The run's model (:attr:`session`, loaded once) decodes in ``precision`` (default: the run's training precision);
    the feature net, the measuring instrument, always computes in float32.
    ``standard`` (weights file, expected digest, KID options) adds the standard scores in Inception-v3 features
    (:attr:`standard`, None without a weights file; see :mod:`zspace.science.quality.standard`).
    """

    def __init__(self, run: Run | str | Path, data: str | None = None, *, n_reference: int = 5000, k: int = 3,
                 seed: int = 0, epoch: int | None = None, device: str = "auto",
                 feature_config: FeatureNetConfig | None = None, precision: str | None = None,
                 standard: StandardConfig | None = None) -> None:
        self.run = run if isinstance(run, Run) else open_run(run)
        train_config = self.run.train_config
        self.data = data or train_config.data
        self.epoch = self.run.latest_epoch() if epoch is None else epoch
        self.k, self.seed = k, seed
        self.session: InferenceSession = open_session(self.run, self.epoch, device, precision)
        test = self.run.data_split("test", data=self.data)
        require(tuple(test.image_shape) == self.session.input_shape,
                f"--data {self.data!r}: images are {test.image_shape} but the run was trained on "
                f"{self.session.input_shape}; use the run's data")
        require(len(test) >= 2 * (k + 1), f"--data {self.data!r}: the test split has only {len(test)} images")
        order = np.random.default_rng(seed).permutation(len(test))
        half = min(n_reference, len(test) // 2)
        self.n_reference = half
        real_images = test.images[np.sort(order[:half])]
        held_images = test.images[np.sort(order[half:2 * half])]
        # the weights file is checked (and the real set's Inception features computed) before the feature net trains
        self.standard: StandardScorer | None = standard_scorer(real_images, standard, device)
        feature_config = dataclasses.replace(feature_config or FeatureNetConfig(), data=self.data,
                                             image_size=train_config.image_size)
        self.features: FeatureExtractor = feature_extractor(feature_config)
        self.real = self.features(real_images)
        self.real_stats = gaussian_stats(self.real)
        self.real_radii = knn_radii(self.real, k)
        self.floor = self.score_images(self.session.reconstruct(held_images), FLOOR)
        rng = np.random.default_rng(sub_seed(seed, 1))
        flat = held_images.reshape(len(held_images), -1, held_images.shape[-1])
        shuffled = np.stack([img[rng.permutation(len(img))] for img in flat]).reshape(held_images.shape)
        self.ceiling = self.score_images(shuffled, CEILING)

    def decode(self, z: np.ndarray) -> np.ndarray:
        """Images (N, H, W, C) float32 in [0, 1] of latent points z (N, z_dim)."""
        return self.session.decode(np.asarray(z, dtype=np.float32))

    def realism(self, images: np.ndarray) -> np.ndarray:
        """(N,) per-image realism against the real reference set (>= 1 inside its manifold)."""
        return realism(self.features(images), self.real, self.real_radii)

    def score_images(self, images: np.ndarray, name: str) -> QualityRow:
        """FD, precision, recall and median realism of ``images`` (N, H, W, C) against the real set."""
        feats = self.features(images)
        fd = frechet_distance_from_stats(*gaussian_stats(feats), *self.real_stats)
        precision = inside_manifold(feats, self.real, self.real_radii).mean()
        recall = inside_manifold(self.real, feats, knn_radii(feats, self.k)).mean()
        realism_median = float(np.median(realism(feats, self.real, self.real_radii)))
        return QualityRow(name=name, n=len(images), fd=fd, precision=float(precision), recall=float(recall),
                          realism_median=realism_median,
                          standard=None if self.standard is None else self.standard.score_images(images))

    def score_points(self, z: np.ndarray, name: str) -> QualityRow:
        """Decode latent points and score the images."""
        return self.score_images(self.decode(z), name)

    def score_sampler(self, sampler: Sampler, name: str, n: int) -> tuple[QualityRow, np.ndarray]:
        """Draw ``n`` points (seeded), decode, score; returns the row and the points.

        Refused before drawing when ``n`` images do not fit in memory."""
        require_images_fit(n, self.session.input_shape, "n")
        z = sampler.sample(n, np.random.default_rng(self.seed))
        return self.score_points(z, name), z

    def result(self, row: QualityRow) -> ScoreResult:
        return ScoreResult(run=str(self.run.root), sampler=row, floor=self.floor, ceiling=self.ceiling,
                           data=self.data, epoch=int(self.epoch), n_reference=self.n_reference, k=self.k,
                           seed=self.seed, feature_net=self.features.info(), precision=self.session.precision.name,
                           standard_net=None if self.standard is None else self.standard.info())


def score(run: Run | str | Path, sampler: str = "normal", n: int = 10000, data: str | None = None, *,
          seed: int = 0, epoch: int | None = None, k: int = 3, n_reference: int = 5000, device: str = "auto",
          feature_config: FeatureNetConfig | None = None, save: bool = True,
          precision: str | None = None, standard: StandardConfig | None = None) -> ScoreResult:
    """Score ``sampler`` of a run (fitted ones are fitted and saved first) and store ``RUN_DIR/scores/<name>.json``.

    ``standard``: the standard scores' options (:class:`~zspace.science.quality.standard.StandardConfig`; its
    ``weights`` file, else ``$ZSPACE_INCEPTION_WEIGHTS``; none: no standard scores).
    """
    require(n > k, f"--n {n} must be larger than k={k}")
    run = run if isinstance(run, Run) else open_run(run)
    require_images_fit(n, run.model_config.input_shape, "n")  # before the costly reference set is built
    scorer = Scorer(run, data, n_reference=n_reference, k=k, seed=seed, epoch=epoch, device=device,
                    feature_config=feature_config, precision=precision, standard=standard)
    chosen = fitted_sampler(scorer.run, sampler, epoch=scorer.epoch, seed=seed, device=device)
    row, _ = scorer.score_sampler(chosen, sampler, n)
    result = scorer.result(row)
    if save:
        io.write_json(scorer.run.layout.score_file(saved_name(sampler)), result)
    return result


__all__ = ["QualityRow", "ScoreResult", "Scorer", "score", "FLOOR", "CEILING", "STANDARD_HEADER", "fid_over_floor",
           "standard_cells"]
