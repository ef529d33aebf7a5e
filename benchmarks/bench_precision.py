"""Evidence for the default precision: bf16 against fp32 in speed and validation loss, and for inference.

Training: the same runs (same seed, data, model and epochs) in fp32 and in bf16 autocast, for AE and VAE on
Fashion-MNIST (when installed) and the built-in shapes set, over several seeds, plus the seeds' CelebA-sized
96x96x3 model on ``shapes:96``. Reported: training images/s (mean of the epochs after the first), the speed
ratio bf16 / fp32, and the relative difference of the final validation loss.

Inference: the bf16 runs encoded (test split) and scored (FD of ``normal`` samples) once in fp32 and once in
bf16: the relative RMS difference of the codes, the relative FD difference, and the encoding speed ratio.

The rule of issue 13: ``auto`` may pick bf16 where it is >= 1.3x faster and the validation loss after the
same epochs is within 1% of float32.

    python benchmarks/bench_precision.py [--seeds 0,1,2] [--epochs 3] [--n-train 10000] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("ZSPACE_PROGRESS", "0")

import numpy as np  # noqa: E402

from zspace.data.idx import is_available  # noqa: E402
from zspace.models import ModelConfig  # noqa: E402
from zspace.pipeline.config import TrainConfig  # noqa: E402
from zspace.pipeline.encode import encode  # noqa: E402
from zspace.pipeline.precision import cpu_has_native_bf16  # noqa: E402
from zspace.pipeline.run import open_run  # noqa: E402
from zspace.pipeline.train import train  # noqa: E402
from zspace.science.quality.features import FeatureNetConfig  # noqa: E402
from zspace.science.quality.score import score  # noqa: E402

SPEED_RULE, LOSS_RULE = 1.3, 0.01


def train_pair(root: Path, name: str, train_config: TrainConfig, model_config: ModelConfig) -> dict:
    """Train the same run in fp32 and bf16; their speed and final validation loss."""
    out = {}
    for precision in ("fp32", "bf16"):
        run_dir = root / f"{name}-{precision}"
        train(TrainConfig(**{**train_config.to_dict(), "precision": precision}), model_config, run_dir)
        records = [r for r in open_run(run_dir).metrics() if "event" not in r]
        speeds = [r["images_per_s"] for r in records[1:]] or [records[0]["images_per_s"]]
        out[precision] = {"images_per_s": float(np.mean(speeds)), "val_total": records[-1]["val"]["total"],
                          "run": str(run_dir)}
    out["speed_ratio"] = out["bf16"]["images_per_s"] / out["fp32"]["images_per_s"]
    out["val_rel_diff"] = (out["bf16"]["val_total"] - out["fp32"]["val_total"]) / out["fp32"]["val_total"]
    return out


def inference_check(run_dir: str, n_encode: int, n_score: int) -> dict:
    """Encode and score a bf16 run in fp32 and in bf16 inference."""
    stores, seconds, fds = {}, {}, {}
    features = FeatureNetConfig(max_train_images=5000, epochs=1)
    for precision in ("fp32", "bf16"):
        t0 = time.perf_counter()
        stores[precision] = encode(run_dir, split="test", n=n_encode, device="cpu", precision=precision)
        seconds[precision] = time.perf_counter() - t0
        fds[precision] = score(run_dir, "normal", n=n_score, n_reference=n_score, device="cpu", save=False,
                               precision=precision, feature_config=features).sampler.fd
    a, b = stores["fp32"].codes, stores["bf16"].codes
    return {"codes_rel_rms": float(np.sqrt(np.mean((a - b) ** 2)) / np.sqrt(np.mean(a ** 2))),
            "fd_fp32": fds["fp32"], "fd_bf16": fds["bf16"], "fd_rel_diff": (fds["bf16"] - fds["fp32"]) / fds["fp32"],
            "encode_speed_ratio": seconds["fp32"] / seconds["bf16"]}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--n-train", type=int, default=10000)
    parser.add_argument("--n-val", type=int, default=2000)
    parser.add_argument("--big-n-train", type=int, default=2000, help="images of the 96x96x3 runs")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if not cpu_has_native_bf16():
        print("this CPU has no native bf16: nothing to compare (auto stays fp32)")
        return {}
    datasets = [d for d in ("fashion-mnist", "shapes") if d == "shapes" or is_available(d)]
    small = ModelConfig(z_dim=16, filters=(32, 64, 128))
    rows, inference = [], []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for data in datasets:
            for kind in ("ae", "vae"):
                for seed in (int(s) for s in args.seeds.split(",")):
                    config = TrainConfig(data=data, epochs=args.epochs, n_train=args.n_train, n_val=args.n_val,
                                         fact=1.0 if kind == "vae" else 0.0, seed=seed, keep_every=0, device="cpu")
                    name = f"{data}-{kind}-s{seed}"
                    pair = train_pair(root, name, config, ModelConfig(**{**small.to_dict(), "kind": kind}))
                    rows.append({"data": data, "kind": kind, "seed": seed, "model": "28x28 z16", **pair})
                    print(f"{name}: speed x{pair['speed_ratio']:.2f}, val loss {pair['val_rel_diff']:+.2%}",
                          flush=True)
                    if seed == 0:
                        inference.append({"run": name, **inference_check(pair["bf16"]["run"], 2000, 1000)})
        for kind in ("ae", "vae"):
            config = TrainConfig(data="shapes:96", epochs=2, n_train=args.big_n_train, n_val=500,
                                 fact=1.0 if kind == "vae" else 0.0, seed=0, keep_every=0, device="cpu")
            pair = train_pair(root, f"shapes96-{kind}", config, ModelConfig(kind=kind, input_shape=(96, 96, 3)))
            rows.append({"data": "shapes:96", "kind": kind, "seed": 0, "model": "96x96x3 z256", **pair})
            print(f"shapes96-{kind}: speed x{pair['speed_ratio']:.2f}, val loss {pair['val_rel_diff']:+.2%}",
                  flush=True)
    results = {"rows": rows, "inference": inference}
    print(markdown(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return results


def markdown(results: dict) -> str:
    lines = ["| data | model | kind | seed | fp32 img/s | bf16 img/s | bf16 / fp32 | val loss fp32 | val loss bf16 "
             "| difference | meets the rule |", "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in results["rows"]:
        meets = r["speed_ratio"] >= SPEED_RULE and abs(r["val_rel_diff"]) <= LOSS_RULE
        lines.append(f"| {r['data']} | {r['model']} | {r['kind']} | {r['seed']} | {r['fp32']['images_per_s']:.0f} "
                     f"| {r['bf16']['images_per_s']:.0f} | {r['speed_ratio']:.2f}x | {r['fp32']['val_total']:.2f} "
                     f"| {r['bf16']['val_total']:.2f} | {r['val_rel_diff']:+.2%} | {'yes' if meets else 'no'} |")
    if results["inference"]:
        lines += ["", "| run (trained in bf16) | codes: relative RMS difference bf16 vs fp32 | FD fp32 | FD bf16 "
                      "| FD difference | encoding speed bf16 / fp32 |", "|---|---:|---:|---:|---:|---:|"]
        for r in results["inference"]:
            lines.append(f"| {r['run']} | {r['codes_rel_rms']:.2e} | {r['fd_fp32']:.3f} | {r['fd_bf16']:.3f} "
                         f"| {r['fd_rel_diff']:+.2%} | {r['encode_speed_ratio']:.2f}x |")
    return "\n".join(lines)


if __name__ == "__main__":
    main(sys.argv[1:])
