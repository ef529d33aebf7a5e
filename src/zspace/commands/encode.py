"""``zspace encode``: write the latent points of a data split to a Z file (.npz) or a Z directory."""

from __future__ import annotations

import argparse
from pathlib import Path

from zspace.commands._common import add_model_use_options, add_run_dir, add_seed, at_least
from zspace.core import io
from zspace.data import SPLITS
from zspace.pipeline.encode import encode
from zspace.pipeline.run import open_run
from zspace.pipeline.zstore import ZDIR_FILES, is_zdir_path


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("encode", help="encode a data split into a Z file (.npz) or a Z directory",
                       description="Encode images with a trained run; writes z (and mu, logvar), labels, factors.")
    add_run_dir(p)
    p.add_argument("--data", default=None, help="data spec (default: the run's training data)")
    p.add_argument("--split", choices=SPLITS, default="test", help="data split (default: %(default)s)")
    p.add_argument("--n", type=at_least(1), default=None, help="encode at most this many images")
    p.add_argument("--batch-size", type=at_least(1), default=512)
    add_seed(p, "seed of the VAE's sampling of z")
    p.add_argument("--out", required=True,
                   help=".npz file, or a directory for large N (z.npy written as encoding goes)")
    add_model_use_options(p, force=True)
    return p


def run(args: argparse.Namespace) -> int:
    what = "Z directory" if is_zdir_path(args.out) else "Z file"
    if not args.force:
        io.refuse_overwrite(args.out, what)
    store = encode(open_run(args.run_dir), args.data, args.split, epoch=args.epoch, batch_size=args.batch_size,
                   device=args.device, seed=args.seed, n=args.n, precision=args.precision, out=args.out)
    if store is None:  # a torchrun process other than rank 0: rank 0 writes the whole store
        return 0
    files = ""
    if what == "Z directory":
        files = " (" + ", ".join(name for name in ZDIR_FILES if (Path(args.out) / name).exists()) + ")"
    print(f"wrote {what} {args.out}{files}: {store.z.shape[0]} points in {store.z.shape[1]} dimensions")
    return 0
