"""Benchmark of the analysis battery (issue 4): time, memory and quality against named baselines.

Sections (all measured in the same run, on the same synthetic data):

* ``battery``: the whole battery (figures included) on N x d float32 loaded
  from an .npy, time per analysis and peak memory (ru_maxrss) above the
  process before the data existed, compared with 3x the array size.
* ``inertia``: our inertia curve vs scikit-learn ``MiniBatchKMeans`` with its
  defaults (``MiniBatchKMeans(n_clusters=k, random_state=seed)``) for the same
  k values; time ratio and inertia ratio per k (ours / sklearn; < 1 is better).
* ``tsne``: our t-SNE (openTSNE, SPEC default variant) vs scikit-learn
  ``TSNE(perplexity=30, early_exaggeration=12, max_iter=1000)`` on the same
  subsample; time and kNN preservation (k = 10).
* ``scaling``: time of each analysis at several N (no figures).

The data imitate an autoencoder latent cloud: a 40-component Gaussian mixture
with per-axis widths 0.5..2, three off-centre/broad axes (as in SPEC 4.1).

Usage::

    python benchmarks/bench_analysis.py --n 170000 --d 256 --json results.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def rss_peak_mb() -> float:
    """Peak resident memory of this process so far, MiB (Linux ru_maxrss is KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_now_mb() -> float:
    """Current resident memory, MiB."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def cpu_seconds() -> float:
    """User + system CPU time of this process so far, s."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(section):
    """Add wall time, CPU time and the machine's load average to a section's result."""
    def wrapper(*args, **kwargs):
        wall, cpu, load = time.perf_counter(), cpu_seconds(), os.getloadavg()[0]
        result = section(*args, **kwargs)
        result["section_wall_s"] = time.perf_counter() - wall
        result["section_cpu_s"] = cpu_seconds() - cpu
        result["loadavg_1min_start_end"] = [load, os.getloadavg()[0]]
        return result
    return wrapper


def latent_like(n: int, d: int, seed: int = 0, chunk: int = 20000, out: np.ndarray | None = None) -> np.ndarray:
    """An (n, d) float32 cloud shaped like AE latents, built chunk by chunk (no float64 copy).

    ``out``: an (n, d) float32 array to fill (e.g. a memory map of an .npy, for n beyond memory); default a new one.
    """
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((40, d)).astype(np.float32) * 1.5
    widths = rng.uniform(0.5, 2.0, size=d).astype(np.float32)
    shift = np.zeros(d, dtype=np.float32)
    scale = np.ones(d, dtype=np.float32)
    for axis, c, w in ((52, 5.0, 4.0), (130, -2.0, 4.5), (200, 0.5, 5.5)):
        if axis < d:
            shift[axis], scale[axis] = c, w
    z = np.empty((n, d), dtype=np.float32) if out is None else out
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        which = rng.integers(0, 40, size=m)
        z[start:start + m] = (centres[which] + rng.standard_normal((m, d), dtype=np.float32) * widths) * scale + shift
    return z


@timed
def section_battery(z_path: Path, out_dir: Path, baseline_mb: float, array_mb: float) -> dict:
    from zspace.analysis import load_latents, run_battery
    from zspace.plots.analysis_figures import draw

    start = time.perf_counter()
    latents = load_latents(z_path)
    report = run_battery(latents, out_dir, draw=draw)["report"]
    total = time.perf_counter() - start
    peak = rss_peak_mb()
    return {"seconds_total": total, "seconds": report["seconds"], "array_mb": array_mb,
            "rss_before_data_mb": baseline_mb, "rss_peak_mb": peak, "extra_peak_mb": peak - baseline_mb,
            "extra_peak_over_array": (peak - baseline_mb) / array_mb,
            "elbow_k": report["analyses"]["inertia"]["elbow_k"],
            "inertia": report["analyses"]["inertia"]["inertia"],
            "k_values": report["analyses"]["inertia"]["k_values"],
            "seconds_inertia": report["seconds"]["inertia"]}


@timed
def section_inertia(z: np.ndarray, ours: dict | None, seed: int) -> dict:
    from sklearn.cluster import MiniBatchKMeans

    from zspace.analysis import InertiaConfig, inertia_curve

    if ours is None:
        start = time.perf_counter()
        res = inertia_curve(z, InertiaConfig(), seed)
        ours = {"seconds_inertia": time.perf_counter() - start, "inertia": res.inertia, "k_values": res.k_values}
    sk_inertia, start = [], time.perf_counter()
    for k in ours["k_values"]:
        sk_inertia.append(float(MiniBatchKMeans(n_clusters=k, random_state=seed).fit(z).inertia_))
    sk_seconds = time.perf_counter() - start
    ratio = np.array(ours["inertia"]) / np.array(sk_inertia)
    return {"ours_seconds": ours["seconds_inertia"], "sklearn_minibatch_seconds": sk_seconds,
            "speedup": sk_seconds / ours["seconds_inertia"], "k_values": ours["k_values"],
            "inertia_ratio_ours_over_sklearn": ratio.tolist(), "inertia_ratio_max": float(ratio.max()),
            "inertia_ratio_median": float(np.median(ratio))}


@timed
def section_tsne(z: np.ndarray, n: int, seed: int) -> dict:
    from sklearn.manifold import TSNE

    from zspace.analysis import TsneConfig, knn_preservation
    from zspace.analysis.tsne import SPEC_VARIANTS, embed
    from zspace.core.rows import seeded_subsample

    x = np.ascontiguousarray(z[seeded_subsample(len(z), n, seed)])
    cfg = TsneConfig(sample_size=n)
    ours = embed(x, SPEC_VARIANTS[0], cfg, seed)
    start = time.perf_counter()
    y = TSNE(perplexity=30, early_exaggeration=12, max_iter=1000, n_jobs=os.cpu_count(),
             random_state=seed).fit_transform(x)
    sk_seconds = time.perf_counter() - start
    sk_keep = knn_preservation(x, y, k=cfg.knn_k, n_queries=cfg.knn_queries, seed=seed)
    return {"n": n, "ours_seconds": ours.seconds, "ours_knn_preservation": ours.knn_preservation,
            "sklearn_seconds": sk_seconds, "sklearn_knn_preservation": sk_keep,
            "speedup": sk_seconds / ours.seconds}


@timed
def section_scaling(z: np.ndarray, sizes: list[int], seed: int) -> dict:
    from zspace.analysis import BatteryConfig, from_arrays, run_battery

    out = {}
    for n in sizes:
        if n > len(z):
            continue
        cfg = BatteryConfig(figures=False)
        start = time.perf_counter()
        report = run_battery(from_arrays(z[:n]), None, cfg, seed=seed)["report"]
        out[str(n)] = {"total": time.perf_counter() - start, **report["seconds"]}
        print(f"scaling N={n}: {out[str(n)]}", flush=True)
    return out


def print_tables(results: dict) -> None:
    b = results.get("battery")
    if b:
        print(f"\nwhole battery, {results['n']} x {results['d']} float32 ({b['array_mb']:.0f} MiB):")
        print(f"  total {b['seconds_total']:.1f} s (budget 300 s: {b['seconds_total'] / 300:.2f} of it)")
        for name, s in b["seconds"].items():
            print(f"    {name:<20} {s:8.1f} s")
        print(f"  peak memory above the process before the data: {b['extra_peak_mb']:.0f} MiB "
              f"= {b['extra_peak_over_array']:.2f} x the array (budget 3x)")
    i = results.get("inertia")
    if i:
        print(f"\ninertia curve, k = {i['k_values'][0]}..{i['k_values'][-1]} ({len(i['k_values'])} values):")
        print(f"  ours {i['ours_seconds']:.1f} s, sklearn MiniBatchKMeans defaults {i['sklearn_minibatch_seconds']:.1f} s "
              f"-> {i['speedup']:.2f}x faster")
        print(f"  inertia ours / sklearn: median {i['inertia_ratio_median']:.4f}, max {i['inertia_ratio_max']:.4f}")
    t = results.get("tsne")
    if t:
        print(f"\nt-SNE on {t['n']} points (12 / 30 / 1000 it):")
        print(f"  ours (openTSNE) {t['ours_seconds']:.1f} s, kNN kept {t['ours_knn_preservation']:.3f}")
        print(f"  sklearn TSNE    {t['sklearn_seconds']:.1f} s, kNN kept {t['sklearn_knn_preservation']:.3f}"
              f" -> {t['speedup']:.2f}x faster")
    s = {n: row for n, row in results.get("scaling", {}).items() if isinstance(row, dict)}
    s = dict(sorted(s.items(), key=lambda item: int(item[0])))
    if s:
        names = [k for k in next(iter(s.values())) if k != "total"] + ["total"]
        print("\nscaling, seconds per analysis (no figures):")
        print("  " + f"{'N':>8}" + "".join(f"{name:>10}" for name in names))
        for n, row in s.items():
            print("  " + f"{n:>8}" + "".join(f"{row.get(name, float('nan')):>10.1f}" for name in names))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=170000)
    parser.add_argument("--d", type=int, default=256)
    parser.add_argument("--tsne-n", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sections", default="battery,inertia,tsne,scaling")
    parser.add_argument("--scaling-n", default="10000,40000,170000",
                        help="sizes for the scaling table; N equal to --n reuses the battery section's times")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--load-json", type=Path, help="reuse sections measured earlier (same --n, --d, --seed)")
    args = parser.parse_args()
    os.environ.setdefault("MPLBACKEND", "Agg")
    sections = args.sections.split(",")

    import openTSNE  # noqa: F401
    import sklearn.cluster  # noqa: F401
    import torch  # noqa: F401  (imported before the baseline so library memory is not counted)

    import zspace.analysis  # noqa: F401
    import zspace.plots.analysis_figures  # noqa: F401

    baseline = rss_now_mb()
    results = {"n": args.n, "d": args.d, "machine": f"{platform.processor() or platform.machine()}, "
               f"{os.cpu_count()} cores", "python": sys.version.split()[0]}

    def save():
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))

    with tempfile.TemporaryDirectory() as tmp:
        z_path = Path(tmp) / "z.npy"
        z = latent_like(args.n, args.d, args.seed)
        np.save(z_path, z)
        array_mb = z.nbytes / 2**20
        del z
        if "battery" in sections:
            results["battery"] = section_battery(z_path, Path(tmp) / "out", baseline, array_mb)
            save()
            print_tables({"n": args.n, "d": args.d, "battery": results["battery"]})
        z = np.load(z_path)
    if args.load_json and args.load_json.exists():  # sections measured by an earlier invocation
        results.update({k: v for k, v in json.loads(args.load_json.read_text()).items() if k not in results})
    if "inertia" in sections:
        results["inertia"] = section_inertia(z, None, args.seed)  # ours re-timed beside the baseline
        save()
    if "tsne" in sections:
        results["tsne"] = section_tsne(z, args.tsne_n, args.seed)
        save()
    if "scaling" in sections:
        sizes = [int(v) for v in args.scaling_n.split(",")]
        battery = results.get("battery")
        results["scaling"] = section_scaling(z, [n for n in sizes if not (battery and n == args.n)], args.seed)
        if battery and args.n in sizes:
            results["scaling"][str(args.n)] = {"total": battery["seconds_total"], **{
                k: v for k, v in battery["seconds"].items() if not k.endswith("_figures")}}
        save()
    print_tables(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
