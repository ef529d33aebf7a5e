"""Do the hole measures find a planted hole? An AE and a VAE on ``shapes,hole=1``, scored on the held-out region.

The training split of ``shapes,hole=1`` leaves out every shape with x in the
middle third of its range and size in the upper half (a sixth of factor
space, :func:`zspace.data.shapes.in_hole`); its test split keeps everything.
The script trains (or reuses, in ``--out``) a small AE and a VAE on it, encodes
the test split, and asks each measure of :mod:`zspace.science.holes` to tell
the codes of the test images in the hole (positive) from the other test codes
(negative): ROC AUC (scikit-learn), and the rate (share past the measure's
threshold, 1) among positives and negatives:

* void distance: to the nearest training code, in units of the void threshold;
* void rim: how one-sided the 20 nearest training codes are, in units of the training codes' 99th percentile;
* hole score: the mean of the void distance's and the rim's percentiles among the training codes;
  (the measures of :func:`zspace.science.hole_study.image_hole_measures`, which ``zspace holes`` uses too)
* cycle error: |E(D(z)) - z| in units of the training codes' 99th percentile
  (decodes the hole codes, re-encodes the images);
* MMD witness: prior kernel mass minus aggregate-posterior kernel mass (IMQ, C = 2d);
* baseline, not a latent measure: the image's own reconstruction error (mean squared, pixels in [0, 1]).

Beside it, each run's prior-vs-aggregate-posterior MMD^2 and the hole rates
(void, cycle) of N(0, I) draws and of fitted samplers' draws, ``twostage``
(the two-stage VAE) among them.

    python benchmarks/bench_holes.py --out /tmp/holes [--epochs 3] [--n-train 12000]

Prints markdown tables; writes them to OUT/holes.md and the numbers to OUT/holes.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("ZSPACE_PROGRESS", "0")

import numpy as np  # noqa: E402

from zspace.core import io  # noqa: E402
from zspace.data.shapes import HOLE_SIZE, HOLE_X, in_hole  # noqa: E402
from zspace.models import ModelConfig  # noqa: E402
from zspace.pipeline.run import open_run  # noqa: E402
from zspace.pipeline.train import TrainConfig, train  # noqa: E402
from zspace.science.hole_study import BASELINE, image_hole_measures  # noqa: E402
from zspace.science.holes import auc, run_meter  # noqa: E402
from zspace.science.latents import training_latents  # noqa: E402
from zspace.science.samplers import make_sampler  # noqa: E402

DATA = "shapes,hole=1"
RUNS = {"ae": ("ae", 1.0), "vae": ("vae", 1.0)}   # name -> (model kind, KL weight)
SAMPLERS = ("full-gauss", "twostage")
#: "deep in the hole": farther than this share of the hole's extent from each of its edges inside the factor ranges
DEEP = 0.2


def hole_depth(factors: np.ndarray) -> np.ndarray:
    """(N,) distance of each shape from the nearest edge of the hole that borders training data (x on both sides,
    size from below; size's upper edge is the end of its range), in units of the hole's extent along that factor;
    negative outside the hole."""
    x, size = factors[:, 1].astype(np.float64), factors[:, 3].astype(np.float64)
    width, height = HOLE_X[1] - HOLE_X[0], HOLE_SIZE[1] - HOLE_SIZE[0]
    return np.minimum.reduce([(x - HOLE_X[0]) / width, (HOLE_X[1] - x) / width, (size - HOLE_SIZE[0]) / height])


def train_run(out: Path, kind: str, fact: float, args: argparse.Namespace) -> float:
    """Train one run into ``out`` unless it is there; the seconds it took (0 when reused)."""
    if (out / "config.json").exists():
        return 0.0
    start = time.perf_counter()
    train(TrainConfig(data=DATA, epochs=args.epochs, fact=fact, seed=args.seed, keep_every=0,
                      device="cpu", n_train=args.n_train, n_val=1000, batch_size=128),
          ModelConfig(kind=kind, input_shape=(28, 28, 1), z_dim=args.z_dim, filters=args.filters), out)
    return time.perf_counter() - start


def bench_run(out: Path, name: str, args: argparse.Namespace) -> dict:
    """Every measure's AUC on one run, its prior MMD and the samplers' hole rates."""
    run = open_run(out)
    start = time.perf_counter()
    meter, run, epoch = run_meter(run, device="cpu", seed=args.seed)
    test = run.data_split("test")
    measures, thresholds = image_hole_measures(meter, run, epoch, test, device="cpu")
    hole = in_hole(test.factors)
    # matched negatives: the same sizes as the hole (upper half), x outside its middle third
    matched = ~hole & (test.factors[:, 3] >= np.float32(HOLE_SIZE[0]))
    deep = hole & (hole_depth(test.factors) > DEEP)
    rows = []
    for measure, values in measures.items():
        limit = thresholds[measure]
        label = f"{measure} (baseline)" if measure == BASELINE else measure
        rows.append({"run": name, "measure": label, "auc": auc(values[hole], values[~hole]),
                     "auc_deep": auc(values[deep], values[~hole]), "auc_matched": auc(values[hole], values[matched]),
                     "rate_hole": None if limit is None else float((values[hole] > limit).mean()),
                     "rate_rest": None if limit is None else float((values[~hole] > limit).mean())})
    prior = meter.prior_mismatch()
    z_train = training_latents(run, device="cpu")
    rng = np.random.default_rng(args.seed)
    drawn = {"normal": rng.standard_normal((args.n_draws, meter.z_dim)).astype(np.float32)}
    fit_s = {}
    for spec in SAMPLERS:
        sampler = make_sampler(spec, meter.z_dim)
        begin = time.perf_counter()
        sampler.fit(z_train, seed=args.seed)
        fit_s[spec] = time.perf_counter() - begin
        drawn[spec] = sampler.sample(args.n_draws, np.random.default_rng(args.seed))
    samplers = []
    for spec, z in drawn.items():
        s = meter.score(z, spec)
        samplers.append({"run": name, "sampler": spec, "void_rate": s.void_rate, "hole_rate": s.hole_rate,
                         "cycle_rate": s.cycle_rate,
                         "void_median": s.void_median, "cycle_median": s.cycle_median,
                         "fit_s": fit_s.get(spec, 0.0)})
    return {"run": name, "kind": run.model_config.kind, "n_hole": int(hole.sum()), "n_rest": int((~hole).sum()),
            "n_matched": int(matched.sum()), "n_deep": int(deep.sum()),
            "mmd2": prior.mmd2, "mmd2_biased": prior.mmd2_biased, "kernel_scale": prior.kernel_scale,
            "posterior": prior.posterior, "void_threshold": meter.void.threshold,
            "cycle_threshold": meter.cycle_threshold, "measures": rows, "samplers": samplers,
            "seconds": time.perf_counter() - start}


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def markdown(results: list[dict], head: str) -> str:
    lines = [head, "", "| run | measure | AUC (hole vs rest) | AUC (deep in the hole vs rest) "
             "| AUC (hole vs same sizes) | rate in hole | rate elsewhere |", "|---|---|---:|---:|---:|---:|---:|"]
    for r in results:
        for m in r["measures"]:
            lines.append(f"| {r['run']} | {m['measure']} | {m['auc']:.3f} | {m['auc_deep']:.3f} "
                         f"| {m['auc_matched']:.3f} | {_rate(m['rate_hole'])} | {_rate(m['rate_rest'])} |")
    lines += ["", "| run | test images in the hole / deep in it / elsewhere / same sizes "
              "| prior MMD^2 (unbiased, IMQ C = 2d) | biased | void threshold | cycle threshold |",
              "|---|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r['run']} | {r['n_hole']} / {r['n_deep']} / {r['n_rest']} / {r['n_matched']} "
                     f"| {r['mmd2']:.4f} | {r['mmd2_biased']:.4f} "
                     f"| {r['void_threshold']:.3g} | {r['cycle_threshold']:.3g} |")
    lines += ["", "Hole rates of sampled points (share with void distance > 1, with a hole score past the training "
              "codes' 99th percentile, with cycle ratio > 1):", "",
              "| run | sampler | void rate | hole rate | cycle rate | median void distance | median cycle ratio | fit s |",
              "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        for s in r["samplers"]:
            lines.append(f"| {r['run']} | {s['sampler']} | {s['void_rate']:.3f} | {s['hole_rate']:.3f} "
                         f"| {s['cycle_rate']:.3f} "
                         f"| {s['void_median']:.2f} | {s['cycle_median']:.2f} | {s['fit_s']:.1f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="run directories (reused when trained)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--n-train", type=int, default=12000, help="training images (all of the split: 12000)")
    parser.add_argument("--z-dim", type=int, default=16)
    parser.add_argument("--filters", type=lambda text: tuple(int(f) for f in text.split(",")), default=(16, 32, 64))
    parser.add_argument("--core", type=int, default=None, help="pin to this CPU core (default: the last one)")
    parser.add_argument("--n-draws", type=int, default=2000, help="points per sampler for the hole rates")
    parser.add_argument("--runs", default=",".join(RUNS), help="subset of: " + ",".join(RUNS))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):  # as bench_question.py: threads cost more than they gain on shared cores
        cores = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {args.core if args.core is not None else cores[-1]})
    total = time.perf_counter()
    results, trained = [], {}
    for name in args.runs.split(","):
        kind, fact = RUNS[name]
        trained[name] = train_run(args.out / name, kind, fact, args)
        print(f"{name}: trained in {trained[name]:.0f} s (0: reused)", file=sys.stderr, flush=True)
        results.append(bench_run(args.out / name, name, args))
        print(f"{name}: measured in {results[-1]['seconds']:.0f} s", file=sys.stderr, flush=True)
    head = (f"Runs: AE and VAE (KL weight 1) on `{DATA}`, z {args.z_dim}, filters "
            f"{', '.join(map(str, args.filters))}, {args.epochs} epochs "
            f"on {args.n_train} training images (none in the hole), seed {args.seed}; training "
            + ", ".join(f"{k} {v:.0f} s" for k, v in trained.items())
            + f". Test split: 2000 images, the hole's marked by `in_hole(factors)`. Positives: codes (a VAE's mu) "
            f"of test images in the hole; negatives: the other test codes, or only those of the same sizes (size "
            f"in the upper half, x outside the middle third: size alone does not find the hole there); deep in the "
            f"hole: farther than {DEEP:g} of the hole's extent from each edge that borders training data. "
            f"Samplers: {args.n_draws} draws each. "
            f"Whole script {time.perf_counter() - total:.0f} s.")
    text = markdown(results, head)
    io.write_text(args.out / "holes.md", text)
    io.write_json(args.out / "holes.json", results)
    print(text)


if __name__ == "__main__":
    main()
