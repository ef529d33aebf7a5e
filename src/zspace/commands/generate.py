"""``zspace generate``: decode points drawn from a sampler."""

from __future__ import annotations

import argparse

from zspace.commands._common import add_model_use_options, add_run_dir, add_seed, at_least
from zspace.core import io
from zspace.data.imageset import require_images_fit
from zspace.pipeline.run import open_run
from zspace.plots.grids import save_grid
from zspace.science.generation import generate
from zspace.science.samplers import sampler_names


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("generate", help="decode random latent points into images",
                       description="Draw latent points from a sampler and decode them.")
    add_run_dir(p)
    p.add_argument("--sampler", default="normal", help=f"NAME or NAME:ARG; names: {', '.join(sampler_names())} "
                                                       "(e.g. normal, uniform:2); fitted ones need zspace fit-sampler")
    p.add_argument("--n", type=at_least(1), default=64, help="images to draw (default: %(default)s)")
    add_seed(p, "seed of the sampler's draws")
    p.add_argument("--out", required=True, help="images.npy: float32 (N, H, W, C) in [0, 1]")
    p.add_argument("--grid", default=None, help="also write a PNG grid of the images")
    add_model_use_options(p, force=True)
    return p


def run(args: argparse.Namespace) -> int:
    if not args.force:
        io.refuse_overwrite(args.out, "output")
    source = open_run(args.run_dir)
    require_images_fit(args.n, source.model_config.input_shape, "--n")
    _, images = generate(source, args.sampler, args.n, args.seed, epoch=args.epoch, device=args.device,
                         precision=args.precision)
    io.save_npy(args.out, images)
    if args.grid:
        save_grid(images, args.grid)
    print(f"wrote {args.out}: {images.shape[0]} images" + (f", grid {args.grid}" if args.grid else ""))
    return 0
