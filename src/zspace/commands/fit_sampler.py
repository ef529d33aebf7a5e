"""``zspace fit-sampler``: fit a sampler to a run's encoded training points and save it in the run."""

from __future__ import annotations

import argparse

from zspace.commands._common import add_device, add_epoch, add_run_dir, add_seed
from zspace.science.latents import fit_sampler
from zspace.science.samplers import sampler_names, samplers_dir, saved_name


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("fit-sampler", help="fit a sampler to the encoded training z and save it in the run",
                       description="Fit a sampler (e.g. gmm:10) to the run's encoded training split (a VAE's mu) "
                                   "and save it under RUN_DIR/samplers/; then use it with "
                                   "zspace generate RUN_DIR --sampler NAME.")
    add_run_dir(p)
    p.add_argument("name", metavar="NAME", help=f"NAME or NAME:ARG; names: {', '.join(sampler_names())} "
                                                "(e.g. gmm:10, interp:5, diag-gauss)")
    add_seed(p, "seed of subsampling and EM/flow initialisation")
    add_epoch(p)
    add_device(p)
    return p


def run(args: argparse.Namespace) -> int:
    sampler = fit_sampler(args.run_dir, args.name, epoch=args.epoch, seed=args.seed, device=args.device)
    where = samplers_dir(args.run_dir) / saved_name(args.name)
    print(f"fitted {args.name} (z_dim {sampler.z_dim}) and saved it in {where}; "
          f"use: zspace generate {args.run_dir} --sampler {args.name}")
    return 0
