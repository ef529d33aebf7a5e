"""``zspace holes``: a run's hole measures (prior MMD, void distance, void rim, hole score, cycle error) and, on data
with a planted hole, which measure finds it (docs/question.md, "Holes")."""

from __future__ import annotations

import argparse
from pathlib import Path

from zspace.commands._common import add_model_use_options, add_seed, at_least
from zspace.pipeline.run import open_run
from zspace.science.hole_study import DEFAULT_SAMPLERS, holes


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("holes", help="prior mismatch and the hole rates of each sampler's draws; the planted hole",
                       description="Measure the holes of a run's latent space: the MMD between N(0, I) and the "
                                   "training codes, and for N(0, I) and each sampler's draws the share in voids, "
                                   "at a void's rim, and failing the decode-encode cycle. On data that plants a "
                                   "hole (shapes,hole=1), also how well each measure tells the held-out region's "
                                   "test codes from the others (AUC). Writes RUN_DIR/holes.json, which zspace "
                                   "report shows.")
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a directory written by zspace train")
    p.add_argument("--samplers", default=",".join(DEFAULT_SAMPLERS),
                   help="comma-separated sampler specs besides N(0, I), fitted to the run's codes if needed "
                        "(default: %(default)s)")
    p.add_argument("--n", type=at_least(1), default=2000, help="draws per sampler (default: %(default)s)")
    add_seed(p, "seed of the draws, the references and the fits")
    add_model_use_options(p)
    return p


def _cell(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def run(args: argparse.Namespace) -> int:
    samplers = [s for s in args.samplers.split(",") if s]
    result = holes(args.run_dir, samplers, args.n, epoch=args.epoch, device=args.device, precision=args.precision,
                   seed=args.seed)
    h = result.holes
    print(f"prior MMD^2 {h.prior.mmd2:.4g} ({h.prior.kernel} kernel, scale {h.prior.kernel_scale:g}; "
          f"{h.prior.posterior})")
    print(f"{'sampler':<14}{'in voids':>10}{'hole rate':>11}{'at a rim':>10}{'fail cycle':>12}")
    for s in h.sets:
        print(f"{s.name:<14}{s.void_rate:>10.2f}{s.hole_rate:>11.2f}{s.rim_rate:>10.2f}{_cell(s.cycle_rate):>12}")
    if result.planted is not None:
        p = result.planted
        print(f"planted hole: {p.n_hole} of {p.n_hole + p.n_rest} test images")
        print(f"{'measure':<28}{'AUC':>7}{'flags in hole':>15}{'elsewhere':>11}")
        for m in p.measures:
            print(f"{m['measure']:<28}{m['auc']:>7.3f}{_cell(m['rate_hole']):>15}{_cell(m['rate_rest']):>11}")
        print(p.sentence())
    print(f"wrote {open_run(args.run_dir).layout.holes}")
    return 0
