"""``zspace score``: sample quality of one sampler, beside the reconstruction floor and shuffled-pixel ceiling."""

from __future__ import annotations

import argparse

from zspace.commands._common import add_inception_weights, add_model_use_options, add_run_dir, add_seed, at_least
from zspace.core.layout import RunLayout
from zspace.data.imageset import require_images_fit
from zspace.pipeline.run import open_run
from zspace.science.quality.score import score
from zspace.science.quality.standard import StandardConfig
from zspace.science.samplers import sampler_names, saved_name


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("score", help="Frechet distance and k-NN precision/recall of a sampler's decoded images",
                       description="Decode --n points of a sampler and compare them with held-out images in the "
                                   "feature space of a small net zspace trains on the data (no downloads); "
                                   "reconstructions give the floor, shuffled pixels the ceiling. With "
                                   "--inception-weights, also the field's standard scores (FID, KID) in "
                                   "Inception-v3 features. Stored in RUN_DIR/scores/NAME.json. See docs/question.md.")
    add_run_dir(p)
    p.add_argument("--sampler", default="normal",
                   help=f"NAME or NAME:ARG ({', '.join(sampler_names())}); fitted ones are fitted first if missing")
    p.add_argument("--n", type=at_least(2), default=10000, help="samples to decode (default: %(default)s)")
    p.add_argument("--data", default=None, help="data spec of the held-out images (default: the run's data)")
    p.add_argument("--n-reference", type=at_least(2), default=5000,
                   help="held-out images in the real set, and in the floor/ceiling sets (default: %(default)s)")
    p.add_argument("--k", type=at_least(1), default=3, help="neighbours of precision/recall (default: %(default)s)")
    add_seed(p, "seed of the samples and of the held-out images")
    add_inception_weights(p)
    add_model_use_options(p)
    return p


def run(args: argparse.Namespace) -> int:
    require_images_fit(args.n, open_run(args.run_dir).model_config.input_shape, "--n")
    result = score(args.run_dir, args.sampler, args.n, args.data, seed=args.seed, epoch=args.epoch, k=args.k,
                   n_reference=args.n_reference, device=args.device, precision=args.precision,
                   standard=StandardConfig(weights=args.inception_weights))
    print(result.format())
    print(f"stored {RunLayout(args.run_dir).score_file(saved_name(args.sampler))}")
    return 0
