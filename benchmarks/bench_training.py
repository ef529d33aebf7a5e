"""Training throughput: zspace's trainer against a minimal PyTorch loop and the seeds' Keras stack, per precision.

For each model (the seeds' CelebA AE 96x96x3/z256, and a 28x28x1/z16 AE), batch 128, BCE summed per image:

* ``minimal loop``: the plainest correct PyTorch loop over the same model and in-memory uint8 data (index,
  convert, forward, backward, Adam step), channels_last, in float32 and in bf16 autocast. The baseline.
* ``zspace``: the trainer's own epoch (``zspace.pipeline.train.Trainer.train_epoch``: seeded shuffle,
  prefetching batch reader, precision policy, loss terms, progress bar) in the same precisions.
* ``keras``: the same model in Keras 3 on TensorFlow (the seeds' stack), ``model.fit`` with the float32 and
  the mixed_bfloat16 policies, run in its own virtual environment (benchmarks/baselines/setup_keras.sh);
  left out, with the reason, when TensorFlow cannot be installed.
* ``pipeline``: zspace's batch reader + tensor conversion alone, from a memory-mapped uint8 .npy.

Runs are interleaved round by round and the best of each system is kept, to damp the noise of a shared
machine. Also measured: FLOP per image of one training step (torch's FlopCounterMode, forward + backward)
and the machine's matmul rate in each precision, giving the share of that rate each system reaches.

    python benchmarks/bench_training.py [--steps 8] [--repeats 3] [--no-keras] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tables import emit  # benchmarks/tables.py

os.environ.setdefault("ZSPACE_PROGRESS", "0")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from zspace.core import rng  # noqa: E402
from zspace.core.device import select_device, use_all_cores  # noqa: E402
from zspace.data import load_images  # noqa: E402
from zspace.models import ModelConfig, build_model  # noqa: E402
from zspace.pipeline.batches import iterate_batches, to_tensor  # noqa: E402
from zspace.pipeline.config import TrainConfig  # noqa: E402
from zspace.pipeline.losses import reconstruction_loss  # noqa: E402
from zspace.pipeline.precision import PRECISIONS, bf16_available, resolve_precision  # noqa: E402
from zspace.pipeline.train import Trainer  # noqa: E402

HERE = Path(__file__).resolve().parent
CASES = [
    ("celeba 96x96x3 AE z256", "shapes:96", ModelConfig(kind="ae", input_shape=(96, 96, 3), z_dim=256)),
    ("28x28x1 AE z16", "shapes", ModelConfig(kind="ae", input_shape=(28, 28, 1), z_dim=16)),
]
KERAS_POLICY = {"fp32": "float32", "bf16": "mixed_bfloat16"}


def minimal_loop(model, images: np.ndarray, batch_size: int, device, dtype) -> float:
    """Images/s of the plainest PyTorch loop (one pass over ``images``), autocast to ``dtype`` when given."""
    opt = torch.optim.Adam(model.parameters(), lr=5e-4)
    perm = np.random.permutation(len(images))
    t0 = time.perf_counter()
    for s in range(0, len(images), batch_size):
        x = torch.from_numpy(images[perm[s:s + batch_size]]).to(device).permute(0, 3, 1, 2).float() / 255
        x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
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
    t0 = time.perf_counter()
    trainer.train_epoch(images, 1)
    if trainer.device.type == "cuda":
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


def flops_per_image(config: ModelConfig, batch_size: int, device) -> float:
    """FLOP of one training step (forward + backward) per image, counted by torch's FlopCounterMode."""
    model = build_model(config).to(device)
    x = torch.rand(batch_size, config.input_shape[2], *config.input_shape[:2], device=device)
    with FlopCounterMode(display=False) as counter:
        logits, _ = model(x)
        reconstruction_loss(logits, x).backward()
    return counter.get_total_flops() / batch_size


def matmul_rate(device, dtype: torch.dtype, n: int = 2048, repeats: int = 5) -> float:
    """FLOP/s of an n x n matrix product in ``dtype`` on ``device``, best of ``repeats``."""
    a = torch.rand(n, n, device=device, dtype=dtype)
    b = torch.rand(n, n, device=device, dtype=dtype)
    torch.mm(a, b)
    best = 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.mm(a, b)
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = max(best, 2 * n ** 3 / (time.perf_counter() - t0))
    return best


def keras_python(skip: bool) -> tuple[str | None, str]:
    """The Keras environment's interpreter, or None and why."""
    if skip:
        return None, "skipped (--no-keras)"
    done = subprocess.run(["bash", str(HERE / "baselines" / "setup_keras.sh")], capture_output=True, text=True)
    if done.returncode != 0:
        return None, "TensorFlow could not be installed: " + " ".join(done.stderr.split())[-300:]
    return done.stdout.strip().splitlines()[-1], ""


def keras_round(python: str, images_path: str, config: ModelConfig, batch_size: int, policy: str) -> dict:
    """One Keras measurement in a fresh process: {"images_per_s": [...], "tf", "keras", ...}."""
    cmd = [python, str(HERE / "baselines" / "keras_ae.py"), "--images", images_path, "--z-dim", str(config.z_dim),
           "--filters", ",".join(map(str, config.filters)), "--batch-size", str(batch_size), "--repeats", "1",
           "--policy", policy]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"keras baseline failed: {done.stderr[-500:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(args: argparse.Namespace) -> dict:
    device = select_device(args.device)
    cores = use_all_cores() if device.type == "cpu" else 0
    precisions = [p for p in args.precisions.split(",") if p == "fp32" or bf16_available(device) or p == "fp16"]
    python, keras_note = keras_python(args.no_keras or device.type != "cpu")
    results = {"device": str(device), "threads": torch.get_num_threads(), "cores": cores, "torch": torch.__version__,
               "precisions": precisions, "keras_note": keras_note, "cases": [],
               "matmul_flops": {p: matmul_rate(device, PRECISIONS[p] or torch.float32) for p in precisions}}
    for name, spec, config in CASES:
        n = args.steps * args.batch_size
        images = np.ascontiguousarray(load_images(spec, "train", n=n).images)
        assert images.shape[1:] == config.input_shape, (images.shape, config.input_shape)
        case = {"name": name, "flops_per_image": flops_per_image(config, args.batch_size, device), "rates": {}}
        systems = {}
        for p in precisions:
            rng.seed_everything(0)
            model = build_model(config).to(device, memory_format=torch.channels_last)
            trainer = Trainer(TrainConfig(batch_size=args.batch_size, epochs=1, device=str(device), precision=p),
                              config, device, resolve_precision(device, p))
            dtype = PRECISIONS[p]
            systems[f"minimal {p}"] = lambda m=model, d=dtype: minimal_loop(m, images, args.batch_size, device, d)
            systems[f"zspace {p}"] = lambda t=trainer: zspace_epoch(t, images)
            minimal_loop(model, images[:args.batch_size], args.batch_size, device, dtype)  # warm-up
            zspace_epoch(trainer, images[:args.batch_size])
        with tempfile.TemporaryDirectory() as tmp:
            images_path = os.path.join(tmp, "images.npy")
            np.save(images_path, images)
            if python:
                for p in precisions:
                    if p in KERAS_POLICY:
                        systems[f"keras {p}"] = (lambda pol=KERAS_POLICY[p]:
                                                 keras_round(python, images_path, config, args.batch_size, pol))
            rates: dict[str, list[float]] = {key: [] for key in systems}
            for _ in range(args.repeats):
                for key, fn in systems.items():
                    out = fn()
                    if isinstance(out, dict):
                        case.setdefault("keras_versions", {"tf": out["tf"], "keras": out["keras"]})
                        rates[key] += out["images_per_s"]
                    else:
                        rates[key].append(out)
        case["rates"] = rates
        case["pipeline"] = max(pipeline(np.concatenate([images] * 8), args.batch_size, device)
                               for _ in range(args.repeats))
        results["cases"].append(case)
    return results


def markdown(results: dict) -> str:
    """The tables of the measurement, ratios against the baselines of the same run."""
    lines = [f"Device {results['device']}, torch {results['torch']}, {results['threads']} threads. "
             f"Matmul rate (2048^3, best of 5): "
             + ", ".join(f"{p} {v / 1e9:.0f} GFLOP/s" for p, v in results["matmul_flops"].items()) + ".",
             ""]
    if results["keras_note"]:
        lines += [f"Keras: {results['keras_note']}", ""]
    lines += ["| model | system | img/s (best) | vs minimal loop, same precision | vs Keras fp32 | vs Keras best "
              "| GFLOP/img | share of matmul rate |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for case in results["cases"]:
        best = {k: max(v) for k, v in case["rates"].items() if v}
        keras = [v for k, v in best.items() if k.startswith("keras")]
        keras_best = max(keras) if keras else None
        for key, rate in best.items():
            precision = key.split()[-1]
            minimal = best.get(f"minimal {precision}")
            flop_share = case["flops_per_image"] * rate / results["matmul_flops"][precision]
            cells = [case["name"], key, f"{rate:.1f}",
                     f"{rate / minimal:.2f}x" if minimal and not key.startswith("minimal") else "",
                     f"{rate / best['keras fp32']:.2f}x" if "keras fp32" in best else "-",
                     f"{rate / keras_best:.2f}x" if keras_best else "-",
                     f"{case['flops_per_image'] / 1e9:.3f}", f"{flop_share:.0%}"]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append(f"| {case['name']} | pipeline (memmap reader, no model) | {case['pipeline']:.0f} | | | | | |")
    versions = next((c["keras_versions"] for c in results["cases"] if "keras_versions" in c), None)
    if versions:
        lines += ["", f"Keras {versions['keras']} on TensorFlow {versions['tf']}, `model.fit`, same model, batch "
                      "and data as float32 in [0, 1]."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8, help="batches per timed pass")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--precisions", default="fp32,bf16")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--no-keras", action="store_true", help="leave the Keras baseline out")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args(argv)
    return emit(measure(args), markdown, args.json)


if __name__ == "__main__":
    main(sys.argv[1:])
