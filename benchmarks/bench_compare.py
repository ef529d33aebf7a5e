"""zspace compare: its cost against a naive Gram-matrix CKA, what the RBF subsample costs in accuracy, and AE vs VAE.

Three tables.

1. **Speed** on synthetic pairs of related spaces (x: 10 Gaussian clusters in d dimensions; y = tanh(x W) plus
   noise, so the linear and RBF CKA differ), N x d for each N of ``--sizes`` and d of ``--dims``: the wall time
   of :func:`zspace.analysis.compare.compare_spaces` (all four measures, and its linear + RBF CKA part alone)
   against the **baseline measured in the same run**: naive numpy CKA from n x n float64 Gram matrices (Kornblith
   et al.'s reference form: ``K = X X^T``, and ``K = exp(-D^2 / (2 sigma^2))`` with sigma the median of the
   n(n-1)/2 pairwise distances; each centred as HKH by its row and column means; CKA =
   ``<Kc, Lc> / (|Kc| |Lc|)``). The baseline runs up to ``--baseline-max`` rows (2 x 8 N^2 bytes of Gram
   matrices: 6.4 GB at 20,000). Peak memory: the sampled peak of VmRSS above its level before the call.
   The |difference| columns say how far zspace's numbers are from the baseline's (float32 kernels; sigma's
   median from a seeded subsample of 2,000 rows instead of all pairs).
2. **What the subsample moves**: RBF CKA beyond ``max_rows`` is computed on a seeded subsample. On
   ``--subsample-n`` rows the exact value (``max_rows`` = N, the same one-pass kernel sums) against
   the default 20,000-row subsample under ``--subsample-seeds`` seeds: their mean, spread and largest
   |difference| to the exact value.
3. **Science**: an AE (seed 0), a second AE (seed 1) and a VAE trained alike on Fashion-MNIST (``--epochs``
   epochs of ``--n-train`` images, z_dim ``--z-dim``), their test split (10,000 images) encoded (a VAE's mu),
   and every pair compared; then the first AE's earlier checkpoints (it keeps every epoch) against its final
   one (``--epoch-a K``); ``chance`` = the value when the rows are paired at random.

    python benchmarks/bench_compare.py [--sizes 5000,20000] [--dims 64,256] [--baseline-max 20000]
        [--subsample-n 40000] [--subsample-seeds 3] [--epochs 3] [--n-train 10000] [--science-only] [--json out.json]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from memory import timed  # noqa: E402
from tables import emit  # benchmarks/tables.py  # noqa: E402

os.environ.setdefault("ZSPACE_PROGRESS", "0")

from zspace.analysis.compare import MEASURES, CompareConfig, compare_spaces  # noqa: E402
from zspace.science.compare import compare  # noqa: E402


# ----------------------------------------------------------------------------- data and the baseline


def related_pair(n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """x (n, d): 10 Gaussian clusters; y (n, d) = tanh(x W / 2) + 0.3 noise, float32."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((10, d)) * 2.0
    x = centres[rng.integers(0, 10, n)] + rng.standard_normal((n, d))
    y = np.tanh(x @ rng.standard_normal((d, d)) / np.sqrt(d) / 2) + 0.3 * rng.standard_normal((n, d))
    return x.astype(np.float32), y.astype(np.float32)


def _centre_gram(gram: np.ndarray) -> np.ndarray:
    """HKH of a symmetric K, in place: K - row means - column means + grand mean."""
    means = gram.mean(axis=0)
    gram -= means[None, :]
    gram -= means[:, None]
    gram += means.mean()
    return gram


def _gram_linear(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    return x @ x.T


def _gram_rbf(x: np.ndarray) -> np.ndarray:
    """exp(-D^2 / (2 sigma^2)), sigma = the median distance over all distinct pairs (float64, n x n)."""
    x = x.astype(np.float64)
    norms = np.einsum("ij,ij->i", x, x)
    gram = x @ x.T
    gram *= -2.0
    gram += norms[:, None]
    gram += norms[None, :]
    np.maximum(gram, 0.0, out=gram)
    upper = gram[np.triu_indices(len(x), k=1)]
    sigma = float(np.sqrt(np.median(upper)))  # the median of the squared distances is that of the distances squared
    del upper
    gram *= -0.5 / sigma ** 2
    return np.exp(gram, out=gram)


def naive_cka(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """The baseline: linear and RBF CKA from full n x n float64 Gram matrices."""
    out = {}
    for name, gram in (("linear_cka", _gram_linear), ("rbf_cka", _gram_rbf)):
        kx = _centre_gram(gram(x))
        ky = _centre_gram(gram(y))
        out[name] = float(np.vdot(kx, ky) / (np.linalg.norm(kx) * np.linalg.norm(ky)))
        del kx, ky
    return out


# ----------------------------------------------------------------------------- measuring


def available_bytes() -> int:
    with open("/proc/meminfo") as fh:
        return next(int(line.split()[1]) * 1024 for line in fh if line.startswith("MemAvailable:"))


def speed(args: argparse.Namespace) -> list[dict]:
    rows = []
    for n in args.sizes:
        for d in args.dims:
            x, y = related_pair(n, d, args.seed)
            result, seconds, peak = timed(lambda: compare_spaces(x, y, seed=args.seed))
            row = {"n": n, "d": d, "zspace_s": seconds, "zspace_peak": peak,
                   "zspace_cka_s": result.seconds["linear_cka"] + result.seconds["rbf_cka"],
                   "measure_s": dict(result.seconds), "values": result.headline()}
            need = 3 * 8 * n * n  # two Gram matrices and the temporaries of one
            if n <= args.baseline_max and available_bytes() > 1.5 * need:
                base, base_s, base_peak = timed(lambda: naive_cka(x, y))
                row.update(baseline_s=base_s, baseline_peak=base_peak,
                           diff={k: abs(base[k] - result.headline()[k]) for k in base})
            else:
                row["baseline_s"] = None
            rows.append(row)
            print(f"speed n={n} d={d}: {row}", file=sys.stderr, flush=True)
    return rows


def subsample_effect(args: argparse.Namespace) -> dict:
    x, y = related_pair(args.subsample_n, args.subsample_d, args.seed + 1)
    exact_config = CompareConfig(max_rows=args.subsample_n, knn_search_rows=args.subsample_n)
    # the exact RBF CKA needs no k-NN; k-NN and linear run too but are cheap beside it
    exact, exact_s, _ = timed(lambda: compare_spaces(x, y, exact_config, seed=args.seed))
    draws = []
    for seed in range(args.subsample_seeds):
        sub, sub_s, _ = timed(lambda: compare_spaces(x, y, CompareConfig(), seed=seed))
        draws.append({"seed": seed, "rbf_cka": sub.rbf_cka, "rows": sub.rows_used["rbf_cka"],
                      "seconds": sub.seconds["rbf_cka"]})
    values = np.array([draw["rbf_cka"] for draw in draws])
    return {"n": args.subsample_n, "d": args.subsample_d, "exact": exact.rbf_cka,
            "exact_s": exact.seconds["rbf_cka"], "draws": draws, "mean": float(values.mean()),
            "sd": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
            "max_abs_diff": float(np.abs(values - exact.rbf_cka).max())}


def science(args: argparse.Namespace) -> dict:
    from zspace.models import ModelConfig
    from zspace.pipeline.train import TrainConfig, train

    models = [("AE seed 0", "ae", 0), ("AE seed 1", "ae", 1), ("VAE seed 0", "vae", 0)]
    with tempfile.TemporaryDirectory() as tmp:
        runs, train_s = {}, {}
        for label, kind, seed in models:
            out = Path(tmp) / label.replace(" ", "-")
            start = time.perf_counter()
            keep_every = 1 if label == "AE seed 0" else 0   # its checkpoints are compared with its final one
            train(TrainConfig(data="fashion-mnist", epochs=args.epochs, n_train=args.n_train, n_val=1000, seed=seed,
                              keep_every=keep_every, device="cpu"),
                  ModelConfig(kind=kind, z_dim=args.z_dim, filters=(32, 64)), out)
            train_s[label], runs[label] = time.perf_counter() - start, out
        pairs = [("AE seed 0", "AE seed 1", None), ("AE seed 0", "VAE seed 0", None),
                 ("AE seed 1", "VAE seed 0", None)]
        pairs += [("AE seed 0", "AE seed 0", epoch) for epoch in range(1, args.epochs)]
        rows = []
        for first, second, epoch in pairs:
            result, seconds, _ = timed(lambda: compare(runs[first], runs[second], epoch_a=epoch, device="cpu",
                                                       seed=args.seed))
            label = first if epoch is None else f"{first}, epoch {epoch}"
            rows.append({"a": label, "b": second if epoch is None else f"{second}, epoch {args.epochs} (final)",
                         "rows": result.rows, "values": result.headline(), "chance": dict(result.chance),
                         "seconds": seconds})
    return {"train_s": train_s, "pairs": rows, "epochs": args.epochs, "n_train": args.n_train, "z_dim": args.z_dim}


def measure(args: argparse.Namespace) -> dict:
    if args.science_only:
        return {"speed": None, "subsample": None, "science": science(args)}
    return {"speed": speed(args), "subsample": subsample_effect(args),
            "science": science(args) if args.epochs > 0 else None}


# ----------------------------------------------------------------------------- tables


def _gb(value: int) -> str:
    return f"{value / 2 ** 30:.2f} GB"


def markdown(results: dict) -> str:
    lines = [] if results["speed"] is None else _cost_lines(results)
    return "\n".join(lines + _science_lines(results["science"]))


def _cost_lines(results: dict) -> list[str]:
    lines = ["### Speed: zspace compare against naive n x n Gram-matrix CKA (same run, same arrays)", "",
             "| N | d | zspace, all 4 measures | of which linear + RBF CKA | naive numpy linear + RBF CKA | "
             "CKA speed-up | peak memory zspace / naive | abs diff linear / RBF CKA |",
             "|---:|---:|---:|---:|---:|---:|---|---|"]
    for r in results["speed"]:
        if r["baseline_s"] is None:
            base = speedup = "not run (memory)"
            memory, diff = f"{_gb(r['zspace_peak'])} / -", "-"
        else:
            base, speedup = f"{r['baseline_s']:.1f} s", f"{r['baseline_s'] / r['zspace_cka_s']:.1f}x"
            memory = f"{_gb(r['zspace_peak'])} / {_gb(r['baseline_peak'])}"
            diff = f"{r['diff']['linear_cka']:.1e} / {r['diff']['rbf_cka']:.1e}"
        lines.append(f"| {r['n']:,} | {r['d']} | {r['zspace_s']:.1f} s | {r['zspace_cka_s']:.1f} s | {base} | "
                     f"{speedup} | {memory} | {diff} |")
    lines += ["", "Per measure (zspace, seconds): " + "; ".join(
        f"{r['n']:,} x {r['d']}: " + ", ".join(f"{k} {r['measure_s'][k]:.1f}" for k in MEASURES)
        for r in results["speed"]), ""]
    s = results["subsample"]
    lines += [f"### RBF CKA: exact on {s['n']:,} rows against the default 20,000-row subsample (d = {s['d']})", "",
              "| | RBF CKA | seconds |", "|---|---:|---:|",
              f"| exact, all {s['n']:,} rows | {s['exact']:.4f} | {s['exact_s']:.1f} |"]
    lines += [f"| subsample of {d['rows']:,}, seed {d['seed']} | {d['rbf_cka']:.4f} | {d['seconds']:.1f} |"
              for d in s["draws"]]
    lines += ["", f"Subsample mean {s['mean']:.4f}, sd over seeds {s['sd']:.4f}, largest |subsample - exact| "
              f"{s['max_abs_diff']:.4f}.", ""]
    return lines


def _science_lines(sc: dict) -> list[str]:
    lines = []
    if sc:
        lines += [f"### AE vs AE vs VAE, and an AE's epochs against its last, on Fashion-MNIST ({sc['epochs']} "
                  f"epochs of {sc['n_train']:,} images, "
                  f"z_dim {sc['z_dim']}; the test split, (chance) = rows paired at random)", "",
                  "| A | B | rows | linear CKA | RBF CKA | Procrustes error | k-NN overlap (k=10) | seconds |",
                  "|---|---|---:|---:|---:|---:|---:|---:|"]
        for p in sc["pairs"]:
            v, c = p["values"], p["chance"]
            lines.append(f"| {p['a']} | {p['b']} | {p['rows']:,} | {v['linear_cka']:.3f} ({c['linear_cka']:.4f}) | "
                         f"{v['rbf_cka']:.3f} ({c['rbf_cka']:.4f}) | {v['procrustes_error']:.3f} | "
                         f"{v['knn_overlap']:.3f} ({c['knn_overlap']:.4f}) | {p['seconds']:.1f} |")
        lines += ["", "Training seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in sc["train_s"].items()) + "."]
    return lines


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ints = lambda text: [int(v) for v in text.split(",")]  # noqa: E731
    parser.add_argument("--sizes", type=ints, default=[5000, 20000])
    parser.add_argument("--dims", type=ints, default=[64, 256])
    parser.add_argument("--baseline-max", type=int, default=20000)
    parser.add_argument("--subsample-n", type=int, default=40000)
    parser.add_argument("--subsample-d", type=int, default=32)
    parser.add_argument("--subsample-seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3, help="0: no science table")
    parser.add_argument("--n-train", type=int, default=10000)
    parser.add_argument("--z-dim", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--science-only", action="store_true", help="only the third table (trains its models)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    return emit(measure(args), markdown, args.json)


if __name__ == "__main__":
    main()
