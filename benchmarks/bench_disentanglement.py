"""AE, VAE and beta-VAE on the shapes set, trained alike: how well do their codes encode the known factors?

The shapes set knows its generating factors (kind, x, y, size, rotation, brightness). Three models are trained
with the same data, architecture, z dimension, epochs and seed: an AE, a VAE (KL weight 1) and a beta-VAE (KL
weight 4). Each run's training split is encoded (a VAE's mu) and measured by ``zspace factors`` (MIG, DCI, SAP
on the axes and on the PCA directions, and the held-out R^2 / accuracy of a linear read-out of each factor).
The baseline row of the same run is the untrained model (epoch 0 weights are not kept, so: the same AE after
one epoch), which says how much of a score the architecture gives before learning.

    python benchmarks/bench_disentanglement.py [--epochs 10] [--n-train 20000] [--z-dim 8] [--json out.json]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from tables import emit  # benchmarks/tables.py

os.environ.setdefault("ZSPACE_PROGRESS", "0")

from zspace.analysis.factors import factor_analysis  # noqa: E402
from zspace.factors import factor_input  # noqa: E402
from zspace.models import ModelConfig  # noqa: E402
from zspace.pipeline.train import TrainConfig, train  # noqa: E402

MODELS = [("AE", "ae", 0.0), ("VAE (fact 1)", "vae", 1.0), ("beta-VAE (fact 4)", "vae", 4.0)]


def measure(args: argparse.Namespace) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, kind, fact in MODELS:
            for epochs in ([1, args.epochs] if kind == "ae" else [args.epochs]):
                run = Path(tmp) / f"{kind}-{fact}-{epochs}"
                config = TrainConfig(data="shapes", epochs=epochs, n_train=args.n_train, n_val=2000, seed=args.seed,
                                     fact=fact if kind == "vae" else 1.0, device="cpu", keep_every=0)
                t0 = time.perf_counter()
                train(config, ModelConfig(kind=kind, z_dim=args.z_dim), run)
                seconds = time.perf_counter() - t0
                data = factor_input(run, device="cpu")
                t0 = time.perf_counter()
                result = factor_analysis(data.codes, data.factors, data.factor_names, seed=args.seed)
                rows.append({"model": label if epochs == args.epochs else f"{label}, 1 epoch (baseline)",
                             "epochs": epochs, "train_s": seconds, "factors_s": time.perf_counter() - t0,
                             "mig_axes": result.axes.mig, "mig_pca": result.pca.mig,
                             "dci_d_axes": result.axes.dci_disentanglement,
                             "dci_c_axes": result.axes.dci_completeness,
                             "dci_i": result.axes.dci_informativeness, "sap_axes": result.axes.sap,
                             "linear": dict(zip(data.factor_names, map(float, result.linear_r2)))})
    return rows


def markdown(rows: list[dict]) -> str:
    names = list(rows[0]["linear"])
    lines = ["| model | epochs | MIG axes | MIG PCA | DCI D | DCI C | DCI I | SAP | "
             + " | ".join(f"linear {n}" for n in names) + " | train s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|" + "---:|" * len(names) + "---:|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['epochs']} | {r['mig_axes']:.3f} | {r['mig_pca']:.3f} | "
                     f"{r['dci_d_axes']:.3f} | {r['dci_c_axes']:.3f} | {r['dci_i']:.3f} | {r['sap_axes']:.3f} | "
                     + " | ".join(f"{r['linear'][n]:.2f}" for n in names) + f" | {r['train_s']:.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--n-train", type=int, default=20000)
    parser.add_argument("--z-dim", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    return emit(measure(args), markdown, args.json)


if __name__ == "__main__":
    main()
