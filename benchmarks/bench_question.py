"""SPEC section 5 on Fashion-MNIST: train an AE, a VAE and a tiny-KL VAE (z 64), then ``zspace question``.

Each model trains for ``--epochs`` epochs with the filters (32, 64, 128); the
script records the training wall time (the target is at most 10 minutes per
model on this 2-core machine). Training and scoring run pinned to one core
(``--core``): on a shared machine torch's intra-op threads otherwise cost far
more in synchronisation than they gain.

    python benchmarks/bench_question.py --out /tmp/fm_question [--epochs 3] [--n 5000]

Prints the question tables (markdown) and writes them to OUT/question.md.
Equivalent shell commands::

    zspace train --data fashion-mnist --model ae  --z-dim 64 --filters 32,64,128 --epochs 3 --out OUT/ae
    zspace train --data fashion-mnist --model vae --z-dim 64 --filters 32,64,128 --epochs 3 --fact 1 --out OUT/vae
    zspace train --data fashion-mnist --model vae --z-dim 64 --filters 32,64,128 --epochs 3 --fact 1e-5 --out OUT/vae_tinykl
    zspace question OUT/ae OUT/vae OUT/vae_tinykl --n 5000 --markdown OUT/question.md
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("ZSPACE_PROGRESS", "0")

from zspace.core import io  # noqa: E402
from zspace.models import ModelConfig  # noqa: E402
from zspace.pipeline.train import TrainConfig, train  # noqa: E402
from zspace.science.question import DEFAULT_SAMPLERS, question  # noqa: E402

RUNS = {  # name -> (model kind, KL weight)
    "ae": ("ae", 1.0),
    "vae": ("vae", 1.0),
    "vae_tinykl": ("vae", 1e-5),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--z-dim", type=int, default=64)
    parser.add_argument("--n", type=int, default=5000, help="samples per sampler")
    parser.add_argument("--runs", default=",".join(RUNS), help="subset of: " + ",".join(RUNS))
    parser.add_argument("--core", type=int, default=None, help="pin to this CPU core (default: the last one)")
    parser.add_argument("--data", default="fashion-mnist")
    parser.add_argument("--n-train", type=int, default=None, help="training images (default: all)")
    parser.add_argument("--n-reference", type=int, default=5000)
    parser.add_argument("--samplers", default=",".join(DEFAULT_SAMPLERS))
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        cores = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {args.core if args.core is not None else cores[-1]})
    timings = {}
    run_dirs = []
    for name in args.runs.split(","):
        kind, fact = RUNS[name]
        out = args.out / name
        run_dirs.append(out)
        if (out / "config.json").exists():
            continue
        start = time.perf_counter()
        train(TrainConfig(data=args.data, epochs=args.epochs, fact=fact, seed=0, keep_every=1, device="cpu",
                          n_train=args.n_train),
              ModelConfig(kind=kind, input_shape=(28, 28, 1), z_dim=args.z_dim, filters=(32, 64, 128)), out)
        timings[name] = time.perf_counter() - start
        print(f"trained {name} in {timings[name]:.0f} s", flush=True)
    io.write_json(args.out / "train_seconds.json", timings)
    start = time.perf_counter()
    result = question(run_dirs, samplers=tuple(args.samplers.split(",")), n=args.n, n_reference=args.n_reference,
                      device="cpu")
    seconds = time.perf_counter() - start
    text = result.markdown() + f"\n(zspace question on {len(run_dirs)} runs: {seconds:.0f} s)\n"
    io.write_text(args.out / "question.md", text)
    print(text)
    print(json.dumps(timings))


if __name__ == "__main__":
    main()
