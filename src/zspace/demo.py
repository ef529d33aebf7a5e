"""The demo: train an AE and a VAE on the embedded data, encode, draw grids, summarise.

Every stage writes its result to ``OUT`` and is skipped when that result is
already there, so an interrupted demo continues where it stopped.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zspace import io
from zspace.encode import encode
from zspace.generate import generate, reconstruct
from zspace.log import get_logger
from zspace.models import ModelConfig
from zspace.plots.grids import save_grid, save_reconstruction_grid
from zspace.run import open_run
from zspace.train import TrainConfig, resume, train
from zspace.zstore import load_zstore

log = get_logger(__name__)


@dataclass
class DemoModel:
    """One model of the demo: a name (its sub-directory), kind and KL weight."""

    name: str
    kind: str
    fact: float = 0.0


@dataclass
class DemoConfig:
    """What the demo trains. ``quick`` shrinks data and epochs for a run of a few minutes."""

    data: str = "shapes"
    z_dim: int = 16
    filters: tuple[int, ...] = (32, 64, 128)
    epochs: int = 8
    n_train: int | None = None
    batch_size: int = 128
    seed: int = 0
    device: str = "auto"
    samplers: tuple[str, ...] = ("normal", "uniform:2")
    models: list[DemoModel] = field(default_factory=lambda: [DemoModel("ae", "ae"), DemoModel("vae", "vae", 1.0)])

    @classmethod
    def quick(cls, **overrides: Any) -> "DemoConfig":
        return cls(**{"epochs": 3, "n_train": 3000, **overrides})


def _train_stage(model: DemoModel, config: DemoConfig, run_dir: Path) -> None:
    train_config = TrainConfig(data=config.data, epochs=config.epochs, batch_size=config.batch_size, fact=model.fact,
                               seed=config.seed, device=config.device, n_train=config.n_train, keep_every=0)
    model_config = ModelConfig(kind=model.kind, z_dim=config.z_dim, filters=config.filters)
    if not (run_dir / "config.json").exists():
        train(train_config, model_config, run_dir)
        return
    done = open_run(run_dir).latest_epoch() or 0
    if done < config.epochs:
        resume(run_dir, epochs=config.epochs)


def run_demo(out: str | Path, config: DemoConfig | None = None) -> dict[str, Any]:
    """Run every stage into ``out``; return (and write to ``out/summary.json``) the headline numbers."""
    config = config or DemoConfig()
    out = Path(out)
    summary: dict[str, Any] = {"config": dataclasses.asdict(config), "models": {}}
    for model in config.models:
        run_dir = out / model.name
        log.info(f"demo: {model.name} ({model.kind}, fact {model.fact})")
        _train_stage(model, config, run_dir)
        run = open_run(run_dir)
        z_path = run_dir / "z_test.npz"
        if not z_path.exists():
            encode(run, split="test", device=config.device, seed=config.seed).save(z_path)
        store = load_zstore(z_path)
        originals, recos = reconstruct(run, n=16, seed=config.seed, device=config.device)
        save_reconstruction_grid(originals, recos, run_dir / "reconstruction.png")
        for spec in config.samplers:
            _, images = generate(run, spec, n=36, seed=config.seed, device=config.device)
            save_grid(images, run_dir / f"generated_{spec.replace(':', '')}.png", ncols=6)
        last = [r for r in run.metrics() if "event" not in r][-1]
        radius = np.linalg.norm(store.z, axis=1)
        summary["models"][model.name] = {
            "kind": model.kind, "fact": model.fact, "epochs": last["epoch"],
            "train_loss": last["train"], "val_loss": last["val"],
            "z_test_points": int(len(store.z)), "z_dim": int(store.z.shape[1]),
            "radius_mean": float(radius.mean()), "radius_std": float(radius.std()),
            "z_axis_std_mean": float(store.z.std(axis=0).mean()),
        }
    io.write_json(out / "summary.json", summary)
    return summary


def format_summary(summary: dict[str, Any]) -> str:
    """A small text table of the demo's headline numbers."""
    lines = [f"{'model':<8}{'epochs':>7}{'val reco':>11}{'val kl':>9}{'radius mean':>13}{'axis std':>10}"]
    for name, m in summary["models"].items():
        lines.append(f"{name:<8}{m['epochs']:>7}{m['val_loss']['reco']:>11.2f}{m['val_loss']['kl']:>9.2f}"
                     f"{m['radius_mean']:>13.2f}{m['z_axis_std_mean']:>10.3f}")
    return "\n".join(lines)
