"""Generating the built-in shapes set: batched rendering against one image at a time.

The default set (``shapes``: 12000 + 2000 images of 28x28x1) is generated on every load, never cached or
downloaded, so it must be quick: target under 5 s on 2 cores. :func:`zspace.data.shapes.render` computes a
window around each shape, one vectorised pass per batch of 512 images and kind (what
tests/data/test_data_shapes.py counts); the baseline in the same run is the same code with batches of one
image. Reported: wall time (best of ``--repeats``) and images per second.

    python benchmarks/bench_data.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from zspace.data.shapes import DEFAULT_TEST, DEFAULT_TRAIN, render, sample_factors

#: (name, count, image size, channels)
SETS = [("shapes (default, train + test)", DEFAULT_TRAIN + DEFAULT_TEST, 28, 1), ("shapes:96", 2000, 96, 3)]


def best_seconds(factors: np.ndarray, size: int, channels: int, batch: int, repeats: int) -> float:
    """Shortest wall time of ``repeats`` renderings of ``factors``, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        render(factors, size, channels, batch=batch)
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline-n", type=int, default=2000, help="images rendered one at a time (extrapolated)")
    args = parser.parse_args(argv)
    print("| set | images | batched s | images/s | one at a time, images/s | speed-up | target < 5 s |")
    print("|---|---|---|---|---|---|---|")
    for name, count, size, channels in SETS:
        factors = sample_factors(count, channels, np.random.default_rng(0))
        batched = best_seconds(factors, size, channels, 512, args.repeats)
        few = factors[:args.baseline_n]
        single = best_seconds(few, size, channels, 1, 1) / len(few) * count
        target = ("yes" if batched < 5 else "no") if size == 28 else ""
        print(f"| {name} | {count} | {batched:.2f} | {count / batched:.0f} | {count / single:.0f} | "
              f"{single / batched:.1f}x | {target} |")


if __name__ == "__main__":
    main()
