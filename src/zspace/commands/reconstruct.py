"""``zspace reconstruct``: originals above their reconstructions, for unseen test images."""

from __future__ import annotations

import argparse

from zspace.commands._common import add_model_use_options, add_run_dir, add_seed, at_least
from zspace.pipeline.generate import reconstruct
from zspace.pipeline.run import open_run
from zspace.plots.grids import save_reconstruction_grid


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("reconstruct", help="grid of test images above their reconstructions")
    add_run_dir(p)
    p.add_argument("--data", default=None, help="data spec (default: the run's training data)")
    p.add_argument("--n", type=at_least(1), default=16, help="test images to show (default: %(default)s)")
    add_seed(p, "seed of the choice of test images")
    p.add_argument("--out", required=True, help="output PNG")
    add_model_use_options(p, force=False)
    return p


def run(args: argparse.Namespace) -> int:
    originals, recos = reconstruct(open_run(args.run_dir), args.data, args.n, args.seed, epoch=args.epoch,
                                   device=args.device, precision=args.precision)
    save_reconstruction_grid(originals, recos, args.out)
    print(f"wrote {args.out}: {len(originals)} test images above their reconstructions")
    return 0
