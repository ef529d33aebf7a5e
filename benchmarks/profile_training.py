"""Where a training step's time goes: torch.profiler over zspace's trainer, per operator, in one precision.

    python benchmarks/profile_training.py --precision bf16 [--steps 6] [--rows 15]

Prints the operators with the largest self CPU time (the same model and batch as bench_training.py's
CelebA case) and the share of the step they take.
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("ZSPACE_PROGRESS", "0")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch.profiler import ProfilerActivity, profile  # noqa: E402

from zspace.core.device import use_all_cores  # noqa: E402
from zspace.data import load_images  # noqa: E402
from zspace.models import ModelConfig  # noqa: E402
from zspace.pipeline.config import TrainConfig  # noqa: E402
from zspace.pipeline.precision import resolve_precision  # noqa: E402
from zspace.pipeline.train import Trainer  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--precision", default="bf16")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--rows", type=int, default=15)
    args = parser.parse_args(argv)
    use_all_cores()
    device = torch.device("cpu")
    config = ModelConfig(kind="ae", input_shape=(96, 96, 3), z_dim=256)
    images = np.ascontiguousarray(load_images("shapes:96", "train", n=128 * args.steps).images)
    trainer = Trainer(TrainConfig(precision=args.precision, device="cpu"), config, device,
                      resolve_precision(device, args.precision, config))
    trainer.train_epoch(images[:128], 1)  # warm-up: oneDNN primitive caches
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        trainer.train_epoch(images, 1)
    averages = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in averages)
    print(f"{args.precision}: {len(images)} images, self CPU time {total / 1e6:.2f} s "
          f"({len(images) / (total / 1e6):.0f} img/s of CPU time summed over threads)")
    print("| operator | self CPU s | share | calls |")
    print("|---|---:|---:|---:|")
    for e in sorted(averages, key=lambda e: e.self_cpu_time_total, reverse=True)[:args.rows]:
        print(f"| {e.key} | {e.self_cpu_time_total / 1e6:.3f} | {e.self_cpu_time_total / total:.1%} | {e.count} |")


if __name__ == "__main__":
    main(sys.argv[1:])
