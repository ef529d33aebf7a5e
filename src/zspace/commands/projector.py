"""``zspace projector``: latent points as TensorBoard's Embedding Projector layout (PCA, t-SNE, UMAP views)."""

from __future__ import annotations

import argparse
from pathlib import Path

from zspace.commands._common import add_model_use_options, add_seed, at_least
from zspace.data import SPLITS
from zspace.exports.projector import MAX_POINTS, projector_points, write_projector
from zspace.exports.projector_layout import check_projector_out


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("projector", help="write z as a TensorBoard Embedding Projector layout",
                       description="Write tensors.tsv, metadata.tsv (labels, factors), sprite.png (input images, "
                                   "for a run) and projector_config.pbtxt into DIR; view them with: "
                                   "tensorboard --logdir DIR (needs: pip install 'zspace[tensorboard]').")
    p.add_argument("source", type=Path, metavar="Z_FILE_OR_RUN",
                   help="a run directory (zspace train --out), a Z file or Z directory (zspace encode --out), "
                        "or an .npy array of z")
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="new (or empty) output directory")
    p.add_argument("--max-points", type=at_least(1), default=MAX_POINTS, metavar="N",
                   help="keep at most N points, a seeded subsample (default: %(default)s)")
    add_seed(p, "seed of the subsample")
    p.add_argument("--split", choices=SPLITS, default="test",
                   help="a run's data split to encode (default: %(default)s)")
    p.add_argument("--no-sprite", action="store_true", help="no sprite image of a run's input images")
    p.add_argument("--batch-size", type=at_least(1), default=512, help="images per encoding batch (default: 512)")
    add_model_use_options(p)
    p.add_argument("--force", action="store_true", help="replace the projector layout already in DIR")
    return p


def run(args: argparse.Namespace) -> int:
    check_projector_out(args.out, args.force)
    points = projector_points(args.source, max_points=args.max_points, seed=args.seed, split=args.split,
                              epoch=args.epoch, sprite=not args.no_sprite, device=args.device,
                              precision=args.precision, batch_size=args.batch_size)
    files = write_projector(points, args.out)
    n, d = points.vectors.shape
    print(f"wrote {args.out} ({', '.join(files)}): {n} points of {points.source} in {d} dimensions; "
          f"view them with: tensorboard --logdir {args.out}")
    return 0
