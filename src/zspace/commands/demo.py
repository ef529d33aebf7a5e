"""``zspace demo``: the README's main job on the embedded default data."""

from __future__ import annotations

import argparse

from zspace.commands._common import add_device, default_of
from zspace.demo import DemoConfig, format_summary, run_demo


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("demo", help="train an AE and a VAE, encode, write grids and a summary",
                       description="Train an AE and a VAE on the built-in data, encode the test split, and write "
                                   "reconstruction/generation grids and summary.json. Finished stages are reused.")
    p.add_argument("--out", default="demo-out", help="output directory (default: %(default)s)")
    p.add_argument("--data", default=default_of(DemoConfig, "data"), help="data spec (default: %(default)s)")
    p.add_argument("--quick", action="store_true", help="fewer images and epochs (a few minutes on 2 cores)")
    p.add_argument("--epochs", type=int, default=None)
    add_device(p)
    return p


def run(args: argparse.Namespace) -> int:
    overrides = {"data": args.data, "device": args.device}
    if args.epochs is not None:
        overrides["epochs"] = args.epochs
    config = DemoConfig.quick(**overrides) if args.quick else DemoConfig(**overrides)
    summary = run_demo(args.out, config)
    print(format_summary(summary))
    print(f"demo outputs in {args.out}/ (summary.json, */reconstruction.png, */generated_*.png)")
    return 0
