"""``zspace question``: SPEC section 5 in numbers, for one or more runs (see docs/question.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from zspace.commands._common import add_inception_weights, add_model_use_options, add_seed, at_least
from zspace.core import io
from zspace.data.imageset import require_images_fit
from zspace.pipeline.run import open_run
from zspace.science.quality.standard import StandardConfig
from zspace.science.question import PROTOCOLS, answer_json, question


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("question", help="samplers x {FD, precision, recall, void share}, intrinsic dimension, "
                                        "active units, for each run",
                       description="Do voids explain why random z-points decode badly? For each run, every "
                                   "sampler is fitted (if needed; saved in RUN_DIR/samplers), scored against "
                                   "held-out images beside the reconstruction floor and the shuffled-pixel "
                                   "ceiling, and its void share measured; plus the intrinsic dimension of the "
                                   "training codes, active units (VAE) and path profiles. Each run gets "
                                   "RUN_DIR/question.json. See docs/question.md.")
    zspace = PROTOCOLS["zspace"]
    p.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR", help="directories written by zspace train")
    p.add_argument("--protocol", choices=PROTOCOLS.choices(), default="zspace",
                   help="a named set of --sampler, --n and --n-reference; options given here win. rae: Ghosh et al. "
                        "2020's normal and gmm:10 with 10000 samples (docs/question.md) (default: %(default)s)")
    p.add_argument("--sampler", action="append", dest="samplers", default=None,
                   help=f"sampler spec, repeatable (default: the protocol's; zspace: {' '.join(zspace.samplers)})")
    p.add_argument("--n", type=at_least(2), default=None,
                   help=f"samples per sampler (default: the protocol's; zspace: {zspace.n})")
    p.add_argument("--n-reference", type=at_least(2), default=None,
                   help="held-out images in the real set and the floor/ceiling sets (default: the protocol's; "
                        f"zspace: {zspace.n_reference})")
    p.add_argument("--paths", type=at_least(0), default=32, help="straight paths per kind for the profiles; 0: none "
                                                         "(default: %(default)s)")
    p.add_argument("--data", default=None, help="data spec of the held-out images (default: each run's data)")
    add_seed(p, "seed of the samplers, the held-out images and the paths")
    add_inception_weights(p)
    p.add_argument("--json", default=None, help="also write all answers to this JSON file")
    p.add_argument("--markdown", default=None, help="also write the tables as markdown to this file")
    add_model_use_options(p)
    return p


def run(args: argparse.Namespace) -> int:
    protocol = PROTOCOLS.lookup(args.protocol, "--protocol")
    n = args.n if args.n is not None else protocol.n
    for run_dir in args.run_dirs:
        require_images_fit(n, open_run(run_dir).model_config.input_shape, "--n")
    result = question(args.run_dirs, samplers=tuple(args.samplers or protocol.samplers), n=n, data=args.data,
                      seed=args.seed, epoch=args.epoch, device=args.device,
                      n_reference=args.n_reference if args.n_reference is not None else protocol.n_reference,
                      n_paths=args.paths, precision=args.precision,
                      standard=StandardConfig(weights=args.inception_weights))
    print(result.format())
    if args.json:
        io.write_json(args.json, [answer_json(a) for a in result.answers])
    if args.markdown:
        io.write_text(args.markdown, result.markdown() + "\n")
    return 0
