"""``zspace demo``: the README's main job: AE, VAE and tiny-KL VAE side by side in one report."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from zspace.commands._common import add_device, at_least
from zspace.demo import DemoConfig, format_summary, run_demo


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("demo", help="train AE, VAE and tiny-KL VAE, answer the open question, write an HTML report",
                       description="On Fashion-MNIST when installed, else the built-in shapes set: train an AE, a "
                                   "VAE and a tiny-KL VAE; ask each the open question (do random points decode "
                                   "badly, and do voids explain it: fitted samplers beside N(0, I) and uniform, "
                                   "scored against held-out images); encode the test split, run the analysis "
                                   "battery and write OUT/report.html, which opens with the answer, and "
                                   "OUT/summary.json. Finished stages are reused when run again.")
    p.add_argument("--out", default="demo-out", help="output directory (default: %(default)s)")
    p.add_argument("--data", default=None, help="data spec (default: fashion-mnist if installed, else shapes)")
    full, quick = DemoConfig(), DemoConfig.quick()
    p.add_argument("--quick", action="store_true",
                   help="fewer images, epochs, models and map points (about 2 minutes; says so when its models are "
                        "too weak to tell the samplers apart)")
    p.add_argument("--epochs", type=at_least(1), default=None,
                   help=f"epochs per model (default: {full.epochs}, --quick {quick.epochs})")
    p.add_argument("--question-samplers", default=None, metavar="SPEC,...",
                   help=f"samplers the question compares (default: {','.join(full.question_samplers)}; "
                        "add flow for zuko's MAF: 35-113 s of fitting per model, measured on 2 cores)")
    add_device(p)
    return p


def run(args: argparse.Namespace) -> int:
    overrides = {"data": args.data, "device": args.device}
    if args.epochs is not None:
        overrides["epochs"] = args.epochs
    if args.question_samplers:
        overrides["question_samplers"] = tuple(s.strip() for s in args.question_samplers.split(",") if s.strip())
    config = DemoConfig.quick(**overrides) if args.quick else DemoConfig(**overrides)
    summary = run_demo(args.out, config)
    print(format_summary(summary))
    print(f"report: {summary['report']}")
    runs = " ".join(shlex.quote(str(Path(args.out) / name)) for name in summary["models"])
    print(f"explore the latent spaces (click a point, see it decoded): zspace explore {runs}")
    return 0
