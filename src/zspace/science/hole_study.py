"""``zspace holes RUN_DIR``: a run's hole measures written to ``RUN_DIR/holes.json``, and, on data with a planted
hole, how well each measure finds it.

The measures are :mod:`zspace.science.holes`' (prior MMD^2, void distance,
void rim, hole score, cycle error, MMD witness). :func:`holes` scores N(0, I)
draws and the draws of each sampler asked for (fitted samplers are fitted to
the run's training codes and saved, as ``zspace score`` does), all as
per-point rates.

**A planted hole** (a data spec whose training split leaves out a region of
factor space, ``shapes,hole=1``, :func:`zspace.data.planted_hole`): the run's
test split keeps that region. Its images are encoded (a VAE's ``mu``) and
each per-point measure is asked to tell the codes of the held-out region
(positives) from the other test codes (negatives): the ROC AUC (1: perfect,
0.5: chance) and the share of each group past the measure's threshold. The
images' own reconstruction error (mean squared, pixels in [0, 1]) is beside
them as a baseline that is not a latent measure. A measure *finds* the hole
when its AUC is at least :data:`FINDS_AUC`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from zspace.core import io
from zspace.core.errors import require
from zspace.core.results import Result
from zspace.core.rng import stream_rng
from zspace.data import ImageSet, planted_hole
from zspace.pipeline.run import Run, open_run
from zspace.pipeline.session import open_session
from zspace.science.holes import HoleMeter, HoleResult, auc, hole_result, run_meter
from zspace.science.latents import fitted_sampler
from zspace.science.samplers import make_sampler

#: the samplers zspace holes scores by default (N(0, I) is always scored, as ``normal``)
DEFAULT_SAMPLERS = ("full-gauss", "gmm:10")
#: an AUC from which a measure is said to find the planted hole (the issue's target, 0.9)
FINDS_AUC = 0.9
#: the per-point measures asked to find a planted hole, in the order shown; the last is the baseline
MEASURES = ("void distance", "void rim", "hole score", "cycle error", "MMD witness", "pixel reconstruction error")
#: not a latent measure: the held-out image's own reconstruction error
BASELINE = "pixel reconstruction error"


@dataclass
class PlantedHole(Result):
    """How well each measure finds the planted hole of a run's data.

    Attributes
    ----------
    data, split : str
        The data spec and the split whose codes were scored (``test``: it keeps the hole).
    n_hole, n_rest : int
        Images of the split inside the held-out region (positives) and outside it (negatives).
    measures : list of dict
        Per measure: ``measure``, ``auc`` (ROC AUC of positives vs negatives), ``threshold`` (the measure's flag
        level, None for those without one: the witness and the baseline), ``rate_hole`` and ``rate_rest`` (share
        of each group past it).
    finds : list of str
        Latent measures with AUC >= :data:`FINDS_AUC`.
    """

    data: str
    split: str
    n_hole: int
    n_rest: int
    measures: list[dict] = field(default_factory=list)
    finds: list[str] = field(default_factory=list)

    def headline(self) -> dict[str, float]:
        return {f"planted hole AUC, {m['measure']}": m["auc"] for m in self.measures}

    def best(self) -> dict:
        """The latent measure with the highest AUC."""
        return max((m for m in self.measures if m["measure"] != BASELINE), key=lambda m: m["auc"])

    def sentence(self) -> str:
        best = self.best()
        missed = [m["measure"] for m in self.measures if m["measure"] not in self.finds and m["measure"] != BASELINE]
        found = (f"found by {', '.join(self.finds)} (AUC >= {FINDS_AUC:g})" if self.finds
                 else f"found by no measure at AUC >= {FINDS_AUC:g}")
        return (f"The planted hole ({self.n_hole} of {self.n_hole + self.n_rest} {self.split} images) is {found}; "
                f"best: {best['measure']}, AUC {best['auc']:.3f}, flagging {best['rate_hole'] or 0:.0%} of the hole's "
                f"codes against {best['rate_rest'] or 0:.0%} of the others"
                + (f"; not found by {', '.join(missed)}" if missed else "") + ".")


@dataclass
class RunHoles(Result):
    """What ``zspace holes`` writes: the measures of N(0, I) and each sampler's draws, and the planted hole.

    Attributes
    ----------
    holes : HoleResult
        Prior mismatch, thresholds, and one set of scores per sampler (``normal`` first).
    samplers : list of str
        The sampler specs scored besides ``normal``.
    n : int
        Draws per sampler.
    seed : int
        Seed of the draws, the references and the fits.
    planted : PlantedHole or None
        None when the run's data plants no hole.
    """

    holes: HoleResult
    samplers: list[str]
    n: int
    seed: int
    planted: PlantedHole | None = None

    def headline(self) -> dict[str, float]:
        return {**self.holes.headline(), **(self.planted.headline() if self.planted else {})}

    def sentence(self) -> str:
        return self.holes.sentence() + "." + ("" if self.planted is None else " " + self.planted.sentence())


def image_hole_measures(meter: HoleMeter, run: Run, epoch: int, images: ImageSet, device: str = "auto",
                        precision: str | None = None) -> tuple[dict[str, np.ndarray], dict[str, float | None]]:
    """Every per-point measure of :data:`MEASURES` on the codes of ``images`` (a VAE's ``mu``): (measure -> (N,)
    scores, measure -> flag threshold or None)."""
    session = open_session(run, epoch, device, precision)
    arrays = session.encode(images.images, desc=f"encoding the {images.split} split")
    codes = arrays.get("mu", arrays["z"])
    scores = meter.score(np.asarray(codes, dtype=np.float32), images.split)
    recon = session.reconstruct(images.images)
    pixel_error = ((recon - images.images.astype(np.float32) / 255.0) ** 2).mean(axis=(1, 2, 3))
    values = {"void distance": scores.void_distance, "void rim": scores.rim_ratio, "hole score": scores.hole_score,
              "cycle error": scores.cycle_ratio, "MMD witness": scores.witness, BASELINE: pixel_error}
    thresholds = {"void distance": 1.0, "void rim": 1.0, "hole score": meter.hole_threshold, "cycle error": 1.0,
                  "MMD witness": None, BASELINE: None}
    return values, thresholds


def find_planted_hole(meter: HoleMeter, run: Run, epoch: int, device: str = "auto",
                      precision: str | None = None) -> PlantedHole | None:
    """:class:`PlantedHole` of a run's test split, or None when its data plants no hole (or the split has only one
    side of it); nothing is encoded then."""
    data = run.train_config.data
    images = run.data_split("test")
    inside = planted_hole(data, images)
    if inside is None or inside.all() or not inside.any():
        return None
    values, thresholds = image_hole_measures(meter, run, epoch, images, device, precision)
    rows = []
    for measure in MEASURES:
        score, limit = values[measure], thresholds[measure]
        rows.append({"measure": measure, "auc": auc(score[inside], score[~inside]), "threshold": limit,
                     "rate_hole": None if limit is None else float((score[inside] > limit).mean()),
                     "rate_rest": None if limit is None else float((score[~inside] > limit).mean())})
    finds = [r["measure"] for r in rows if r["measure"] != BASELINE and r["auc"] >= FINDS_AUC]
    return PlantedHole(data=data, split="test", n_hole=int(inside.sum()), n_rest=int((~inside).sum()),
                       measures=rows, finds=finds)


def holes(run: Run | str | Path, samplers: Sequence[str] = DEFAULT_SAMPLERS, n: int = 2000, *,
          epoch: int | None = None, device: str = "auto", precision: str | None = None, seed: int = 0,
          save: bool = True, **options) -> RunHoles:
    """The hole measures of a run (``zspace holes``): N(0, I) and each of ``samplers`` drawn ``n`` times (seeded),
    and the planted hole when the run's data has one; written to ``RUN_DIR/holes.json`` when ``save``.
    ``options`` go to :class:`~zspace.science.holes.HoleMeter` (``rim_k``, ``percentile``, ...)."""
    require(n >= 1, f"--n {n} must be >= 1")
    samplers = [s for s in samplers if s != "normal"]
    run = run if isinstance(run, Run) else open_run(run)
    for spec in samplers:  # every spec is checked before a sampler is fitted and saved
        make_sampler(spec, run.model_config.z_dim)
    meter, run, epoch = run_meter(run, epoch=epoch, device=device, precision=precision, seed=seed, **options)
    points = {}
    for i, spec in enumerate(samplers):
        sampler = fitted_sampler(run, spec, epoch=epoch, seed=seed, device=device)
        points[spec] = sampler.sample(n, stream_rng(seed, 100 + i))
    result = RunHoles(holes=hole_result(meter, run, epoch, points, n=n, seed=seed), samplers=list(samplers), n=n,
                      seed=seed, planted=find_planted_hole(meter, run, epoch, device, precision))
    if save:
        io.write_json(run.layout.holes, result)
    return result


__all__ = ["DEFAULT_SAMPLERS", "FINDS_AUC", "MEASURES", "BASELINE", "PlantedHole", "RunHoles",
           "image_hole_measures", "find_planted_hole", "holes"]
