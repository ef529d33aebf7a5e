"""Tuning the two-stage VAE sampler on the demo's models: variants against gmm:10 in the same run.

The demo's three models (AE, VAE, VAE with KL weight 1e-5; Fashion-MNIST, z 64, 3 epochs on 36,000 images:
``zspace.demo.DemoConfig``) are trained into ``--out`` (or reused from there, e.g. ``--out demo-out`` after
``make demo``). For each run the script scores, with zspace's own feature net and the Scorer of ``zspace score``
(``--n`` samples against 5,000 held-out test images), the baseline ``gmm:10`` (the best fitted sampler of the
question), the MAF ``flow`` and N(0, I), then each ``twostage`` variant: the default (PCA whitening, 100 epochs,
decoder noise), shorter training (40 epochs, the default before this benchmark), the decoder mean alone, and
isotropic scaling (one scale for all directions) with 200 epochs. Each row gives the FD as a multiple of the
run's reconstruction floor and of gmm:10's FD, precision/recall, the fitted decoder variance gamma and the
fit's seconds.

    python benchmarks/bench_twostage.py --out /tmp/twostage [--n 5000] [--runs ae,vae,vae_tiny_kl]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("ZSPACE_PROGRESS", "0")

from zspace.demo import DemoConfig, default_data, train_stage  # noqa: E402
from zspace.science.latents import fitted_sampler, training_latents  # noqa: E402
from zspace.science.quality.score import Scorer  # noqa: E402
from zspace.science.samplers.twostage import TwoStageVAESampler  # noqa: E402

MODELS = {model.name: model for model in DemoConfig().models}   # ae, vae, vae_tiny_kl
#: variant name -> TwoStageVAESampler options (the first is the default)
VARIANTS = {
    "default (whiten, 100 epochs)": {},
    "whiten, 40 epochs": {"epochs": 40},
    "decoder mean only": {"decoder_noise": False},
    "isotropic, 200 epochs": {"scaling": "isotropic", "epochs": 200},
}


def bench_run(run_dir: Path, name: str, n: int, seed: int, variants: list[str]) -> list[dict]:
    scorer = Scorer(run_dir, device="cpu", seed=seed)
    z = training_latents(scorer.run, device="cpu")
    floor = scorer.floor.fd
    rows = [{"run": name, "sampler": "reconstruction (floor)", "fd": floor, "precision": scorer.floor.precision,
             "recall": scorer.floor.recall, "gamma": None, "fit_s": 0.0}]
    for spec in ("gmm:10", "flow", "normal"):
        start = time.perf_counter()
        sampler = fitted_sampler(scorer.run, spec, seed=seed, device="cpu")
        fit_s = time.perf_counter() - start
        row, _ = scorer.score_sampler(sampler, spec, n)
        rows.append({"run": name, "sampler": spec, "fd": row.fd, "precision": row.precision, "recall": row.recall,
                     "gamma": None, "fit_s": fit_s})
    for variant in variants:
        options = VARIANTS[variant]
        start = time.perf_counter()
        sampler = TwoStageVAESampler(z.shape[1], **options).fit(z, seed=seed)
        fit_s = time.perf_counter() - start
        row, _ = scorer.score_sampler(sampler, "twostage", n)
        rows.append({"run": name, "sampler": f"twostage: {variant}", "fd": row.fd, "precision": row.precision,
                     "recall": row.recall, "gamma": sampler.gamma, "fit_s": fit_s})
        print(f"{name}: {variant}: FD {row.fd:.2f} in {fit_s:.0f} s", flush=True)
    baseline = next(r["fd"] for r in rows if r["sampler"] == "gmm:10")
    for r in rows:
        r["x_floor"], r["x_gmm"] = r["fd"] / floor, r["fd"] / baseline
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="run directories (reused when trained)")
    parser.add_argument("--n", type=int, default=5000, help="samples per sampler")
    parser.add_argument("--runs", default=",".join(MODELS), help=f"subset of: {','.join(MODELS)}")
    parser.add_argument("--epochs", type=int, default=None, help="training epochs (default: the demo's)")
    parser.add_argument("--n-train", type=int, default=None, help="training images (default: the demo's)")
    parser.add_argument("--variants", type=int, default=len(VARIANTS), help="the first this many variants")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    overrides = {k: v for k, v in (("epochs", args.epochs), ("n_train", args.n_train)) if v}
    config = DemoConfig(device="cpu", **overrides)
    variants = list(VARIANTS)[:args.variants]
    total = time.perf_counter()
    rows = []
    for name in args.runs.split(","):
        train_stage(MODELS[name], config, config.data or default_data(), args.out / name)
        rows += bench_run(args.out / name, name, args.n, args.seed, variants)
    print(f"Runs: the demo's {', '.join(args.runs.split(','))} ({config.data or default_data()}, z {config.z_dim}, "
          f"{config.epochs} epochs on {config.n_train} images); {args.n} samples per sampler against 5000 held-out "
          f"test images, zspace's feature net; seed {args.seed}. Baseline: gmm:10 in the same run. "
          f"Whole script {time.perf_counter() - total:.0f} s.\n")
    print("| run | sampler | FD | x floor | x gmm:10 | precision | recall | gamma | fit s |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        gamma = "-" if r["gamma"] is None else f"{r['gamma']:.4f}"
        print(f"| {r['run']} | {r['sampler']} | {r['fd']:.2f} | {r['x_floor']:.2f} | {r['x_gmm']:.2f} "
              f"| {r['precision']:.3f} | {r['recall']:.3f} | {gamma} | {r['fit_s']:.0f} |")


if __name__ == "__main__":
    main()
