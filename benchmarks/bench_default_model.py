"""What a demo model's minutes buy: the reconstruction floor and the best fitted sampler per training budget.

For each configuration (z_dim, filters, training images, epochs) an AE (and,
with ``--kinds ae,vae``, a VAE) is trained on Fashion-MNIST exactly as the
demo trains its models, then asked the demo's question (N(0, I), full-gauss
and gmm:10, ``--n`` points against ``--n`` held-out images, the demo's feature
net). Printed per configuration: the training wall time, the floor FD (the
model's own reconstructions), the best fitted sampler's FD, N(0, I)'s FD as a
multiple of the floor, and the floor as a share of the shuffled-pixel ceiling
(what :func:`zspace.science.question.too_weak_to_tell` reads). The default is
chosen by the floor and the best fitted sampler within the demo's time budget;
the baseline row is the previous default (z 16, 30,000 images x 5 epochs).

    python benchmarks/bench_default_model.py --out /tmp/sweep [--configs z16-30k-5,z64-60k-3] [--json F]

A configuration is written ``z<z_dim>-<images k>k-<epochs>[-w<first filter>]`` (w32: filters 32, 64, 128).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from pathlib import Path

os.environ.setdefault("ZSPACE_PROGRESS", "0")

from zspace.models import ModelConfig  # noqa: E402
from zspace.pipeline.run import open_run  # noqa: E402
from zspace.pipeline.train import TrainConfig, train  # noqa: E402
from zspace.science.quality.features import FeatureNetConfig  # noqa: E402
from zspace.science.question import answer_json, answer_run  # noqa: E402

DEFAULT_CONFIGS = "z16-30k-5,z32-30k-5,z64-30k-5,z32-60k-3,z64-60k-3,z64-30k-8"


def parse(spec: str) -> dict:
    """``z64-60k-3[-w32]`` -> z_dim, n_train, epochs, filters."""
    m = re.fullmatch(r"z(\d+)-(\d+)k-(\d+)(?:-w(\d+))?", spec)
    if not m:
        raise SystemExit(f"--configs: {spec!r} is not z<z_dim>-<images k>k-<epochs>[-w<width>]")
    width = int(m.group(4) or 32)
    return {"z_dim": int(m.group(1)), "n_train": int(m.group(2)) * 1000, "epochs": int(m.group(3)),
            "filters": (width, 2 * width, 4 * width)}


def measure(spec: str, kind: str, out: Path, n: int) -> dict:
    """Train one model of configuration ``spec`` and ask it the question; the numbers of one table row."""
    c = parse(spec)
    run_dir = out / f"{kind}-{spec}"
    start = time.perf_counter()
    if not (run_dir / "config.json").exists():
        train(TrainConfig(data="fashion-mnist", epochs=c["epochs"], batch_size=128, fact=1.0, seed=0,
                          n_train=c["n_train"], n_val=2000, keep_every=0),
              ModelConfig(kind=kind, z_dim=c["z_dim"], filters=c["filters"]), run_dir)
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    answer = answer_json(answer_run(open_run(run_dir), samplers=("normal", "full-gauss", "gmm:10"), n=n,
                                    n_reference=n, n_paths=0, seed=0,
                                    feature_config=FeatureNetConfig(max_train_images=30000)))
    question_s = time.perf_counter() - start
    fd = {r["sampler"]: r["fd"] for r in answer["rows"]}
    floor, ceiling = answer["floor"]["fd"], answer["ceiling"]["fd"]
    best = min(("full-gauss", "gmm:10"), key=fd.get)
    return {"config": spec, "kind": kind, **c, "train_s": round(train_s, 1), "question_s": round(question_s, 1),
            "floor_fd": round(floor, 2), "best": best, "best_fd": round(fd[best], 2),
            "best_x_floor": round(fd[best] / floor, 2), "normal_x_floor": round(fd["normal"] / floor, 2),
            "floor_share_of_ceiling": round(floor / ceiling, 3)}


def markdown(rows: list[dict]) -> str:
    head = ["config", "kind", "train (s)", "floor FD", "best fitted", "best FD", "best / floor",
            "N(0, I) / floor", "floor / shuffled", "floor / baseline floor"]
    base = {r["kind"]: r["floor_fd"] for r in rows if r["config"] == rows[0]["config"]}
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        lines.append("| " + " | ".join(str(x) for x in (
            r["config"], r["kind"], r["train_s"], r["floor_fd"], r["best"], r["best_fd"], f"{r['best_x_floor']}x",
            f"{r['normal_x_floor']}x", r["floor_share_of_ceiling"], f"{r['floor_fd'] / base[r['kind']]:.2f}x")) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--configs", default=DEFAULT_CONFIGS, help="first one is the baseline")
    parser.add_argument("--kinds", default="ae")
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    rows = []
    for spec in args.configs.split(","):
        for kind in args.kinds.split(","):
            rows.append(measure(spec, kind, args.out, args.n))
            print(json.dumps(rows[-1]), flush=True)
            if args.json:
                Path(args.json).write_text(json.dumps(rows, indent=1))
    print(markdown(rows))


if __name__ == "__main__":
    main()
