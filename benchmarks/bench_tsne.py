"""t-SNE at the seeds' sizes: zspace's maps against openTSNE's and scikit-learn's defaults on the same points.

For each N (a seeded subsample of a 256-d latent-like cloud, as in bench_analysis.py):

* ``zspace``: :func:`zspace.analysis.tsne.embed` with the SPEC default variant (exaggeration 12 for 250 of
  1000 iterations, perplexity 30) and zspace's choices (threads by size, FFT grid ``ints_in_interval`` 2),
  optionally also with the gradient forced to 1 thread or to all cores (``--threads``);
* ``openTSNE defaults``: ``openTSNE.TSNE(n_iter=750, n_jobs=-1)`` (its defaults otherwise: 250 exaggerated +
  750 normal iterations, ``ints_in_interval`` 1) -- the baseline;
* ``scikit-learn``: ``TSNE(perplexity=30, early_exaggeration=12, max_iter=1000)`` where N <= ``--sklearn-max``.

Reported: wall time, final KL divergence (openTSNE's, for zspace and openTSNE), ratios to the baseline.

    python benchmarks/bench_tsne.py --sizes 20000,50000,100000,165000 [--threads 1,2] [--json out.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import openTSNE
from sklearn.manifold import TSNE

from zspace.analysis.tsne import SPEC_VARIANTS, TsneConfig, embed, gradient_threads
from zspace.core.rows import seeded_subsample

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_analysis import latent_like  # noqa: E402


def opentsne_defaults(x: np.ndarray, seed: int) -> tuple[float, float]:
    start = time.perf_counter()
    embedding = openTSNE.TSNE(n_iter=750, n_jobs=-1, random_state=seed).fit(x)
    return time.perf_counter() - start, float(embedding.kl_divergence)


def sklearn_tsne(x: np.ndarray, seed: int) -> tuple[float, float]:
    start = time.perf_counter()
    model = TSNE(perplexity=30, early_exaggeration=12, max_iter=1000, n_jobs=os.cpu_count(), random_state=seed)
    model.fit(x)
    return time.perf_counter() - start, float(model.kl_divergence_)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20000,50000,100000,165000")
    parser.add_argument("--d", type=int, default=256)
    parser.add_argument("--threads", default="", help="also run zspace with these gradient thread counts")
    parser.add_argument("--sklearn-max", type=int, default=20000)
    parser.add_argument("--ints", default="", help="also run zspace with these FFT grids (ints_in_interval)")
    parser.add_argument("--no-baselines", action="store_true", help="zspace only (for tuning runs)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    cloud = latent_like(max(sizes), args.d, args.seed)
    rows = []
    for n in sizes:
        x = np.ascontiguousarray(cloud[seeded_subsample(len(cloud), n, args.seed)])
        row = {"n": n, "zspace_threads": gradient_threads(TsneConfig(), n)}
        ours = embed(x, SPEC_VARIANTS[0], TsneConfig(), args.seed)
        row["zspace"] = {"seconds": ours.seconds, "kl": ours.kl_divergence}
        for threads in (int(t) for t in args.threads.split(",") if t):
            if threads == row["zspace_threads"]:
                continue  # the same run as zspace's own choice
            forced = embed(x, SPEC_VARIANTS[0], dataclasses.replace(TsneConfig(), optimize_n_jobs=threads), args.seed)
            row[f"zspace_{threads}_threads"] = {"seconds": forced.seconds, "kl": forced.kl_divergence}
        for ints in (float(i) for i in args.ints.split(",") if i):
            grid = embed(x, SPEC_VARIANTS[0], dataclasses.replace(TsneConfig(), ints_in_interval=ints), args.seed)
            row[f"zspace_ints{ints:g}"] = {"seconds": grid.seconds, "kl": grid.kl_divergence}
        if args.no_baselines:
            rows.append(row)
            print(json.dumps(row), flush=True)
            continue
        seconds, kl = opentsne_defaults(x, args.seed)
        row["opentsne"] = {"seconds": seconds, "kl": kl}
        if n <= args.sklearn_max:
            seconds, kl = sklearn_tsne(x, args.seed)
            row["sklearn"] = {"seconds": seconds, "kl": kl}
        rows.append(row)
        print(json.dumps(row), flush=True)
    results = {"rows": rows, "d": args.d}
    print(markdown(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return results


def markdown(results: dict) -> str:
    lines = ["| N | system | gradient threads | seconds | KL | time / openTSNE defaults | KL / openTSNE |",
             "|---:|---|---:|---:|---:|---:|---:|"]
    for row in results["rows"]:
        base = row.get("opentsne")
        for key, value in row.items():
            if not isinstance(value, dict):
                continue
            if key.endswith("_threads"):
                label, threads = "zspace (forced threads)", key.split("_")[1]
            elif key.startswith("zspace_ints"):
                label, threads = f"zspace, ints_in_interval {key[len('zspace_ints'):]}", str(row["zspace_threads"])
            else:
                label = {"zspace": "zspace", "opentsne": "openTSNE defaults", "sklearn": "scikit-learn TSNE"}[key]
                threads = str(row["zspace_threads"]) if key == "zspace" else "all"
            ratios = (f"{value['seconds'] / base['seconds']:.2f}x | {value['kl'] / base['kl']:.3f}" if base
                      else "- | -")
            lines.append(f"| {row['n']} | {label} | {threads} | {value['seconds']:.1f} | {value['kl']:.4f} | {ratios} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main(sys.argv[1:])
