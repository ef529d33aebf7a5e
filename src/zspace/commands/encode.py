"""``zspace encode``: write the latent points of a data split to a Z file (.npz) or a Z directory.

Which existing ``--out`` is refused without ``--force``: for one process,
anything there (as for every command that writes). For a sharded encode
(torchrun with N > 1 processes, or ``--shard i/N``) only a Z store of
another encode: a sharded Z directory still being written (no top-level
meta.json, e.g. after a kill) is resumed, its complete shards of the same
encode kept, and a complete one of the same encode is left as it is; so the
same command run again (a requeued cluster job) encodes only what is missing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from zspace.commands._common import add_model_use_options, add_run_dir, add_seed, at_least
from zspace.core import dist, io, zshards
from zspace.core.errors import ZspaceError
from zspace.core.inputkind import ZDIR_META
from zspace.data import SPLITS
from zspace.pipeline.encode import encode, parse_shard, writes_shards
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
                   help=".npz file, or a directory for large N (z.npy written as encoding goes; on N processes "
                        "one shard per process, in DIR/shards/)")
    p.add_argument("--shard", type=_shard, default=None, metavar="i/N",
                   help="encode only part i of N (0 <= i < N) into the Z directory --out, in one process (one "
                        "cluster job per part); whichever part finishes last writes DIR/meta.json")
    add_model_use_options(p, force=True)
    return p


def _shard(text: str) -> tuple[int, int]:
    try:
        return parse_shard(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    what = "Z directory" if is_zdir_path(args.out) else "Z file"
    sharded = writes_shards(args.out, args.shard)
    if not args.force and not sharded:
        out = Path(args.out)
        if is_zdir_path(out) and zshards.is_sharded(out) and not (out / ZDIR_META).exists():
            raise ZspaceError(f"{zshards.incomplete_reason(out)}; or pass --force to replace it with this "
                              "one-process encode")
        io.refuse_overwrite(args.out, what)
    store = encode(open_run(args.run_dir), args.data, args.split, epoch=args.epoch, batch_size=args.batch_size,
                   device=args.device, seed=args.seed, n=args.n, precision=args.precision, out=args.out,
                   shard=args.shard, force=args.force)
    if sharded:
        return _report_shards(args, store)
    if store is None:  # a torchrun process other than rank 0: rank 0 writes the whole store
        return 0
    files = ""
    if what == "Z directory":
        files = " (" + ", ".join(name for name in ZDIR_FILES if (Path(args.out) / name).exists()) + ")"
    print(f"wrote {what} {args.out}{files}: {store.z.shape[0]} points in {store.z.shape[1]} dimensions")
    return 0


def _report_shards(args: argparse.Namespace, store) -> int:
    """One line for a sharded encode: the whole store when it is complete, else (``--shard``) how far it is."""
    if store is not None:
        count = args.shard[1] if args.shard else dist.world_size()
        print(f"wrote Z directory {args.out} ({count} shard{'s' if count != 1 else ''} in {zshards.SHARDS_DIR}/, "
              f"meta.json): {store.z.shape[0]} points in {store.z.shape[1]} dimensions")
    elif args.shard is not None:
        index, count = args.shard
        done = len(zshards.written_shards(args.out).get(count, []))
        print(f"shard {index}/{count} of Z directory {args.out} is written: {done} of {count} shards are complete; "
              "the last one to finish writes its meta.json")
    return 0
