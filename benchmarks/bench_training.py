"""Trainer throughput vs a minimal hand-written PyTorch loop, and data pipeline vs training.

For each model (the seeds' CelebA model 96x96x3/z256 and the 28x28 model):

* ``minimal loop``: the plainest correct PyTorch loop over the same model,
  batch size, loss and in-memory uint8 data (index, convert, forward,
  backward, Adam step). This is the baseline.
* ``zspace trainer``: the trainer's own epoch (``zspace.pipeline.train.Trainer.train_epoch``:
  seeded shuffle, prefetching batch reader, precision policy, loss terms,
  progress bar), with the model in channels_last as the trainer builds it.
* ``data pipeline``: zspace's batch reader + tensor conversion alone, reading
  from a memory-mapped uint8 .npy cache (what CelebA training reads), with no
  model: how many images/s it can deliver.

Runs are interleaved (baseline, trainer, baseline, trainer) and the best of
each is kept, to damp the noise of a shared machine. Prints a markdown table.

    python benchmarks/bench_training.py [--steps 8] [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("ZSPACE_PROGRESS", "0")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from zspace.core import rng  # noqa: E402
from zspace.core.device import select_device, use_all_cores  # noqa: E402
from zspace.data import load_images  # noqa: E402
from zspace.models import ModelConfig, build_model  # noqa: E402
from zspace.pipeline.batches import iterate_batches, to_tensor  # noqa: E402
from zspace.pipeline.config import TrainConfig  # noqa: E402
from zspace.pipeline.losses import reconstruction_loss  # noqa: E402
from zspace.pipeline.train import Trainer  # noqa: E402

CASES = [
    ("celeba-like 96x96x3 AE z256", "shapes:96", ModelConfig(kind="ae", input_shape=(96, 96, 3), z_dim=256)),
    ("28x28x1 AE z16", "shapes", ModelConfig(kind="ae", input_shape=(28, 28, 1), z_dim=16)),
]


def minimal_loop(model, images: np.ndarray, batch_size: int, device) -> float:
    """Images/s of the plainest PyTorch loop: one pass over ``images``."""
    opt = torch.optim.Adam(model.parameters(), lr=5e-4)
    perm = np.random.permutation(len(images))
    t0 = time.perf_counter()
    for s in range(0, len(images), batch_size):
        x = torch.from_numpy(images[perm[s:s + batch_size]]).to(device).permute(0, 3, 1, 2).float() / 255
        logits, _ = model(x)
        loss = reconstruction_loss(logits, x)
        opt.zero_grad()
        loss.backward()
        opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return len(images) / (time.perf_counter() - t0)


def zspace_epoch(trainer: Trainer, images: np.ndarray) -> float:
    """Images/s of the zspace trainer's epoch over ``images``."""
    device = trainer.device
    t0 = time.perf_counter()
    trainer.train_epoch(images, 1)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return len(images) / (time.perf_counter() - t0)


def pipeline(images: np.ndarray, batch_size: int, device) -> float:
    """Images/s of zspace's batch reader + conversion from a memory-mapped .npy, no model."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "cache.npy")
        np.save(path, images)
        cached = np.load(path, mmap_mode="r")
        t0 = time.perf_counter()
        order = np.random.permutation(len(cached))
        for _, batch in iterate_batches(cached, batch_size, order):
            to_tensor(batch, device)
        return len(cached) / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=8, help="batches per timed pass")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()
    device = select_device("auto")
    cores = use_all_cores() if device.type == "cpu" else 0
    print(f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()} (cores {cores})\n")
    rows = []
    for name, spec, config in CASES:
        n = args.steps * args.batch_size
        images = np.ascontiguousarray(load_images(spec, "train", n=n).images)
        assert images.shape[1:] == config.input_shape, (images.shape, config.input_shape)
        rng.seed_everything(0)
        base_model = build_model(config).to(device)
        trainer = Trainer(TrainConfig(batch_size=args.batch_size, epochs=1, device=str(device)), config, device)
        warm = images[: args.batch_size]
        minimal_loop(base_model, warm, args.batch_size, device)
        zspace_epoch(trainer, warm)
        base, ours = [], []
        for _ in range(args.repeats):
            base.append(minimal_loop(base_model, images, args.batch_size, device))
            ours.append(zspace_epoch(trainer, images))
        pipe = max(pipeline(np.concatenate([images] * 8), args.batch_size, device) for _ in range(args.repeats))
        rows.append((name, max(base), max(ours), pipe))
    print("| model | minimal loop img/s | zspace trainer img/s | trainer / loop | pipeline img/s | pipeline / trainer |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, base, ours, pipe in rows:
        print(f"| {name} | {base:.1f} | {ours:.1f} | {ours / base:.3f}x | {pipe:.0f} | {pipe / ours:.0f}x |")


if __name__ == "__main__":
    main()
