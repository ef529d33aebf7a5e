"""Which axes encode which factors at CelebA size: factor_analysis against plain disentanglement_lib-style code.

Data: an N x d float32 latent-like cloud (``latent_like`` of bench_analysis.py) and K binary attributes,
CelebA-like: attribute k = [projection_k(z standardised) + 0.5 noise > its (1 - rate_k) quantile], rates
uniform in 0.05..0.5; the first half of the attributes follow one axis each, the second half a dense random
direction.

Sections, all in the same run:

* ``zspace``: :func:`zspace.analysis.factor_analysis` on all N rows (50k subsample for the measures, PCA on
  all N) with each DCI importance model (``gbt``, ``lasso``) and ``--seeds`` seeds; wall time per part
  and the spread (std over seeds) of every score.
* ``baseline``: the plain disentanglement_lib formulas (``utils.discrete_mutual_info`` /
  ``_histogram_discretize`` loops of ``mutual_info_score``, ``sap_score`` with ``LinearSVC(C=0.01,
  class_weight="balanced")`` per direction and attribute, ``dci`` with ``GradientBoostingClassifier()`` per
  attribute) on the axes of a seeded subsample of ``--baseline-n`` rows, 80% train / 20% test; DCI on
  ``--baseline-dci-factors`` attributes only (one GradientBoostingClassifier on 256 columns takes seconds),
  its time scaled to all K. zspace runs on the same rows, the same split and the same attributes for the
  agreement columns. The baseline MI loop is also timed at zspace's 50k rows on ``--baseline-mi-columns``
  directions and scaled to d.

    python benchmarks/bench_factors.py --n 170000 --d 256 --k 40 [--seeds 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from tables import emit  # benchmarks/tables.py

os.environ.setdefault("ZSPACE_PROGRESS", "0")

import numpy as np  # noqa: E402
import scipy.stats  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_analysis import latent_like  # noqa: E402

from zspace.analysis import FactorConfig, factor_analysis  # noqa: E402
from zspace.core.rows import seeded_subsample  # noqa: E402

PARTS = {"prepare": ("prepare",), "MI (axes)": ("mi",), "MIG + SAP (axes)": ("mig_sap",), "DCI (axes)": ("dci",),
         "linear probe": ("linear",), "PCA basis (fit + MI + MIG/SAP + DCI)": ("pca_fit", "pca_mi", "pca_mig_sap",
                                                                                "pca_dci"),
         "total": ("total",)}
SCORES = ["mig_axes", "mig_pca", "sap_axes", "sap_pca", "dci_d_axes", "dci_c_axes", "dci_i_axes", "dci_d_pca",
          "dci_c_pca", "dci_i_pca", "linear_r2_mean"]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def celeba_like(z: np.ndarray, k: int, seed: int) -> np.ndarray:
    """K binary attributes (0/1 float32) of the rows of z (see the module docstring)."""
    rng = np.random.default_rng(seed + 1)
    n, d = z.shape
    sample = z[seeded_subsample(n, 20000, seed)].astype(np.float64)
    mean, std = sample.mean(axis=0).astype(np.float32), sample.std(axis=0).astype(np.float32)
    proj = np.zeros((d, k), dtype=np.float32)
    half = k // 2
    proj[rng.choice(d, half, replace=d < half), np.arange(half)] = 1.0
    proj[:, half:] = rng.standard_normal((d, k - half)) / np.sqrt(d)
    scores = np.empty((n, k), dtype=np.float32)
    for start in range(0, n, 20000):
        rows = slice(start, min(start + 20000, n))
        scores[rows] = ((z[rows] - mean) / std) @ proj
    scores += 0.5 * rng.standard_normal((n, k), dtype=np.float32)
    rates = rng.uniform(0.05, 0.5, k)
    cuts = np.array([np.quantile(scores[:, j], 1 - rates[j]) for j in range(k)], dtype=np.float32)
    return (scores > cuts).astype(np.float32)


# ------------------------------------------------------------------------------------------------------------------
# the plain disentanglement_lib-style baseline (variables as rows, as in its code)


def dl_discretize(target: np.ndarray, num_bins: int = 20) -> np.ndarray:
    discretized = np.zeros_like(target)
    for i in range(target.shape[0]):
        discretized[i, :] = np.digitize(target[i, :], np.histogram(target[i, :], num_bins)[1][:-1])
    return discretized


def dl_mutual_info(mus: np.ndarray, ys: np.ndarray) -> np.ndarray:
    from sklearn.metrics import mutual_info_score

    m = np.zeros([mus.shape[0], ys.shape[0]])
    for i in range(mus.shape[0]):
        for j in range(ys.shape[0]):
            m[i, j] = mutual_info_score(ys[j, :], mus[i, :])
    return m


def dl_mig(mus: np.ndarray, ys: np.ndarray) -> float:
    from sklearn.metrics import mutual_info_score

    m = dl_mutual_info(dl_discretize(mus), ys)
    entropy = np.array([mutual_info_score(y, y) for y in ys])
    sorted_m = np.sort(m, axis=0)[::-1]
    return float(np.mean(np.divide(sorted_m[0, :] - sorted_m[1, :], entropy[:])))


def dl_sap(mus: np.ndarray, ys: np.ndarray, mus_test: np.ndarray, ys_test: np.ndarray) -> float:
    from sklearn.svm import LinearSVC

    score_matrix = np.zeros([mus.shape[0], ys.shape[0]])
    for i in range(mus.shape[0]):
        for j in range(ys.shape[0]):
            classifier = LinearSVC(C=0.01, class_weight="balanced")
            classifier.fit(mus[i, :, np.newaxis], ys[j, :])
            score_matrix[i, j] = np.mean(classifier.predict(mus_test[i, :, np.newaxis]) == ys_test[j, :])
    sorted_matrix = np.sort(score_matrix, axis=0)
    return float(np.mean(sorted_matrix[-1, :] - sorted_matrix[-2, :]))


def dl_dci(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray) -> dict:
    from sklearn.ensemble import GradientBoostingClassifier

    importance_matrix = np.zeros([x_train.shape[0], y_train.shape[0]])
    test_acc = []
    for i in range(y_train.shape[0]):
        model = GradientBoostingClassifier()
        model.fit(x_train.T, y_train[i, :])
        importance_matrix[:, i] = np.abs(model.feature_importances_)
        test_acc.append(np.mean(model.predict(x_test.T) == y_test[i, :]))
    per_code = 1. - scipy.stats.entropy(importance_matrix.T + 1e-11, base=importance_matrix.shape[1])
    code_importance = importance_matrix.sum(axis=1) / importance_matrix.sum()
    per_factor = 1. - scipy.stats.entropy(importance_matrix + 1e-11, base=importance_matrix.shape[0])
    factor_importance = importance_matrix.sum(axis=0) / importance_matrix.sum()
    return {"d": float(np.sum(per_code * code_importance)), "c": float(np.sum(per_factor * factor_importance)),
            "i": float(np.mean(test_acc))}


def split(n: int, seed: int, test_fraction: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """zspace's split of the rows used (a seeded permutation, the first share held out)."""
    order = np.random.default_rng(np.random.SeedSequence([seed, 1])).permutation(n)
    n_test = round(test_fraction * n)
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def section_baseline(z: np.ndarray, attrs: np.ndarray, n_b: int, dci_factors: list[int], mi_columns: int,
                     max_points: int, seed: int) -> dict:
    rows = seeded_subsample(len(z), n_b, seed)
    x, y = z[rows], attrs[rows]
    names = [f"attr{j}" for j in range(attrs.shape[1])]
    train, test = split(len(rows), seed)
    mus, ys = x.T.astype(np.float64), y.T.astype(np.int64)
    out: dict = {"n": len(rows), "k": attrs.shape[1], "dci_factors": dci_factors}
    start = time.perf_counter()
    out["mig"] = dl_mig(mus, ys)
    out["mi_mig_seconds"] = time.perf_counter() - start
    log(f"baseline MIG {out['mig']:.4f} in {out['mi_mig_seconds']:.1f} s")
    start = time.perf_counter()
    out["sap"] = dl_sap(mus[:, train], ys[:, train], mus[:, test], ys[:, test])
    out["sap_seconds"] = time.perf_counter() - start
    log(f"baseline SAP {out['sap']:.4f} in {out['sap_seconds']:.1f} s")
    start = time.perf_counter()
    out["dci"] = dl_dci(mus[:, train], ys[dci_factors][:, train], mus[:, test], ys[dci_factors][:, test])
    out["dci_seconds_measured"] = time.perf_counter() - start
    out["dci_seconds_all_k"] = out["dci_seconds_measured"] * attrs.shape[1] / len(dci_factors)
    log(f"baseline DCI {out['dci']} in {out['dci_seconds_measured']:.1f} s")
    # zspace on the same rows, split and attributes (n_bins, split and test share as the baseline)
    cfg = FactorConfig(max_points=len(rows), dci_max_train=len(train))
    ours = factor_analysis(x, y, names, cfg, seed=seed)
    ours_dci = factor_analysis(x, y[:, dci_factors], [names[j] for j in dci_factors], cfg, seed=seed)
    out["zspace"] = {"mig": ours.axes.mig, "sap": ours.axes.sap, "mi_seconds": ours.seconds["mi"],
                     "mig_sap_seconds": ours.seconds["mig_sap"], "dci_seconds_all_k": ours.seconds["dci"],
                     "dci": {"d": ours_dci.axes.dci_disentanglement, "c": ours_dci.axes.dci_completeness,
                             "i": ours_dci.axes.dci_informativeness}}
    # the MI loop at zspace's row count, on a few directions, scaled to all d
    big_rows = seeded_subsample(len(z), max_points, seed)
    big, big_y = z[big_rows], attrs[big_rows].T.astype(np.int64)
    cols = min(mi_columns, z.shape[1])
    start = time.perf_counter()
    dl_mutual_info(dl_discretize(big[:, :cols].T.astype(np.float64)), big_y)
    out["mi_seconds_at_max_points_all_d"] = (time.perf_counter() - start) * z.shape[1] / cols
    out["mi_max_points"] = len(big)
    log(f"baseline MI loop at {len(big)} rows: {out['mi_seconds_at_max_points_all_d']:.0f} s for all d (scaled)")
    return out


def section_zspace(z: np.ndarray, attrs: np.ndarray, models: list[str], seeds: list[int]) -> dict:
    names = [f"attr{j}" for j in range(attrs.shape[1])]
    out: dict = {}
    for model in models:
        runs = []
        for seed in seeds:
            load = os.getloadavg()[0]
            r = factor_analysis(z, attrs, names, FactorConfig(importance=model), seed=seed)
            runs.append({"seed": seed, "seconds": r.seconds, "headline": r.headline(), "loadavg_start": load,
                         "n_used": r.n_used, "n_dci_train": r.n_dci_train, "n_test": r.n_test,
                         "discrete": int(sum(r.discrete))})
            log(f"zspace {model} seed {seed}: {r.seconds['total']:.1f} s, {json.dumps(r.headline())}")
        out[model] = runs
    return out


# ------------------------------------------------------------------------------------------------------------------
# tables


def markdown(results: dict) -> str:
    lines = [f"Data: {results['n']} x {results['d']} float32, {results['k']} binary attributes; "
             f"{results['cores']} cores, load average {results['loadavg_start']:.2f} at the start."]
    z = results.get("zspace", {})
    if z:
        first = next(iter(z.values()))[0]
        lines += ["", f"zspace `factor_analysis`: {first['n_used']} rows used (seeded subsample; PCA fitted on all "
                      f"{results['n']}), held out {first['n_test']}, DCI models trained on {first['n_dci_train']} "
                      f"rows per attribute; {first['discrete']} of {results['k']} attributes detected discrete. "
                      f"Seconds per part, mean (max) over {len(next(iter(z.values())))} seeds:", "",
                  "| part | " + " | ".join(f"importance={m}" for m in z) + " |",
                  "|---|" + "---:|" * len(z)]
        for part, keys in PARTS.items():
            cells = []
            for runs in z.values():
                values = [sum(r["seconds"][k] for k in keys) for r in runs]
                cells.append(f"{np.mean(values):.1f} ({np.max(values):.1f})")
            lines.append(f"| {part} | " + " | ".join(cells) + " |")
        lines += ["", "Scores, mean +- std over seeds (the seed moves the subsample, the split and the DCI "
                      "training rows):", "",
                  "| score | " + " | ".join(f"importance={m}" for m in z) + " |", "|---|" + "---:|" * len(z)]
        for score in SCORES:
            cells = []
            for runs in z.values():
                values = np.array([r["headline"][score] for r in runs])
                cells.append(f"{values.mean():.4f} +- {values.std(ddof=1) if len(values) > 1 else 0.0:.4f}")
            lines.append(f"| {score} | " + " | ".join(cells) + " |")
    b = results.get("baseline")
    if b:
        ours = b["zspace"]
        k_dci = len(b["dci_factors"])
        lines += ["", f"Against plain disentanglement_lib-style code on the axes of {b['n']} rows (same rows, split "
                      f"and attributes; DCI on {k_dci} attributes, GradientBoostingClassifier time scaled to all "
                      f"{b['k']}):", "",
                  "| part | disentanglement_lib style (s) | zspace (s) | speed-up |", "|---|---:|---:|---:|"]
        rows = [("MI + MIG (mutual_info_score loops)", b["mi_mig_seconds"], ours["mi_seconds"]),
                ("SAP (LinearSVC per direction x attribute)", b["sap_seconds"], ours["mig_sap_seconds"]),
                (f"DCI (GradientBoostingClassifier x {b['k']}, scaled)", b["dci_seconds_all_k"],
                 ours["dci_seconds_all_k"])]
        for name, base, mine in rows:
            lines.append(f"| {name} | {base:.1f} | {mine:.2f} | {base / max(mine, 1e-9):.0f}x |")
        if z and "gbt" in z:
            mi_ours = np.mean([r["seconds"]["mi"] for r in z["gbt"]])
            lines.append(f"| MI loop at {b['mi_max_points']} rows, all d (scaled from a few directions) | "
                         f"{b['mi_seconds_at_max_points_all_d']:.0f} | {mi_ours:.2f} | "
                         f"{b['mi_seconds_at_max_points_all_d'] / mi_ours:.0f}x |")
        lines += ["", "| score | disentanglement_lib style | zspace | difference |", "|---|---:|---:|---:|",
                  f"| MIG | {b['mig']:.4f} | {ours['mig']:.4f} | {ours['mig'] - b['mig']:+.4f} |",
                  f"| SAP (LinearSVC vs nearest class mean) | {b['sap']:.4f} | {ours['sap']:.4f} | "
                  f"{ours['sap'] - b['sap']:+.4f} |"]
        for key, name in (("d", "disentanglement"), ("c", "completeness"), ("i", "informativeness")):
            lines.append(f"| DCI {name} ({k_dci} attributes; GBC vs HistGB gain) | {b['dci'][key]:.4f} | "
                         f"{ours['dci'][key]:.4f} | {ours['dci'][key] - b['dci'][key]:+.4f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=170000)
    parser.add_argument("--d", type=int, default=256)
    parser.add_argument("--k", type=int, default=40)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--models", default="gbt,lasso", help="DCI importance models to time")
    parser.add_argument("--baseline-n", type=int, default=2000)
    parser.add_argument("--baseline-dci-factors", type=int, default=8)
    parser.add_argument("--baseline-mi-columns", type=int, default=16)
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    z = latent_like(args.n, args.d, args.seed)
    attrs = celeba_like(z, args.k, args.seed)
    results: dict = {"n": args.n, "d": args.d, "k": args.k, "loadavg_start": os.getloadavg()[0],
                     "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()}
    start = time.perf_counter()
    results["zspace"] = section_zspace(z, attrs, [m for m in args.models.split(",") if m], list(range(args.seeds)))
    if not args.no_baseline:
        half = args.k // 2
        wanted = min(args.baseline_dci_factors, args.k)
        dci_factors = sorted(set(list(range(min(half, (wanted + 1) // 2)))
                                 + list(range(half, half + wanted // 2))))  # axis-aligned and dense ones
        results["baseline"] = section_baseline(z, attrs, args.baseline_n, dci_factors, args.baseline_mi_columns,
                                               FactorConfig.max_points, args.seed)
    results["seconds"] = time.perf_counter() - start
    return emit(results, markdown, args.json)


if __name__ == "__main__":
    main(sys.argv[1:])
