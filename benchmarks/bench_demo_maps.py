"""The demo's t-SNE maps: what each cheaper choice costs in time and in map quality, on a demo model's codes.

Baseline: the maps as the demo made them before (FFT gradient, ``--points``
points, 1000 iterations, each map its own neighbour search), measured in
the same run. Each other row changes one or more choices:

* ``bh``: Barnes-Hut gradient instead of FFT (``TsneConfig.gradient_method``);
* ``shared``: one neighbour search for both perplexities (``SharedAffinities``);
* fewer points (a seeded subsample) or fewer iterations (250 exaggerated + the rest).

Per row: wall time of the z maps (both SPEC variants) and of one PCA-input map,
the final KL divergence of each z map (openTSNE's; only comparable between rows
with the same points) and the kNN preservation (k 10; comparable across
sizes): the share of each point's 10 nearest codes kept as its 10 nearest on the map.

    python benchmarks/bench_demo_maps.py --z /tmp/demo/ae/z_test.npz [--json F]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from zspace.analysis.tsne import SPEC_VARIANTS, SharedAffinities, TsneConfig, embed
from zspace.core.rows import seeded_subsample

#: label -> (points, iterations, gradient method, shared neighbour search)
ROWS = {
    "before: fft, 3000 pts, 1000 it": (3000, 1000, "fft", False),
    "bh": (3000, 1000, "bh", False),
    "bh + shared": (3000, 1000, "bh", True),
    "bh + shared, 2000 pts": (2000, 1000, "bh", True),
    "bh + shared, 2000 pts, 750 it": (2000, 750, "bh", True),
    "bh + shared, 1500 pts, 750 it": (1500, 750, "bh", True),
}


def measure(z: np.ndarray, points: int, iterations: int, method: str, shared: bool, seed: int = 0) -> dict:
    x = np.ascontiguousarray(z[seeded_subsample(len(z), points, seed)], dtype=np.float32)
    cfg = TsneConfig(sample_size=points, gradient_method=method)
    variants = [dataclasses.replace(v, n_iter=iterations) for v in SPEC_VARIANTS]
    start = time.perf_counter()
    affinities = SharedAffinities(x, cfg, seed, [v.perplexity for v in variants]) if shared else None
    maps = [embed(x, v, cfg, seed, affinities=affinities.for_perplexity(v.perplexity) if shared else None)
            for v in variants]
    z_maps = time.perf_counter() - start
    centred = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    start = time.perf_counter()
    embed(np.ascontiguousarray(centred @ vt[:2].T), variants[0], cfg, seed, name="pca2")
    pca_map = time.perf_counter() - start
    return {"z_maps_s": round(z_maps, 1), "pca_map_s": round(pca_map, 1),
            "kl": [round(m.kl_divergence, 3) for m in maps], "knn_kept": [round(m.knn_preservation, 3) for m in maps]}


def markdown(results: dict[str, dict]) -> str:
    base = next(iter(results.values()))
    lines = ["| choice | z maps (s) | / before | PCA map (s) | / before | KL perp 30, 10 | kNN kept perp 30, 10 |",
             "|---|---|---|---|---|---|---|"]
    for label, r in results.items():
        lines.append(f"| {label} | {r['z_maps_s']} | {r['z_maps_s'] / base['z_maps_s']:.2f}x | {r['pca_map_s']} | "
                     f"{r['pca_map_s'] / base['pca_map_s']:.2f}x | {r['kl'][0]}, {r['kl'][1]} | "
                     f"{r['knn_kept'][0]}, {r['knn_kept'][1]} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--z", required=True, help="a Z file (zspace encode / a demo run's z_test.npz)")
    parser.add_argument("--rows", default=";".join(ROWS), help="subset of the row labels, separated by ';'")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    with np.load(args.z) as f:
        z = f["mu"] if "mu" in f.files else f["z"]
    results = {}
    for label in args.rows.split(";"):
        results[label] = measure(z, *ROWS[label])
        print(label, results[label], flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    print(markdown(results))


if __name__ == "__main__":
    main()
