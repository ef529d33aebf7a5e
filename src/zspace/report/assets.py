"""Everything a report shows about one run, computed once and kept in the run directory.

``prepare_run`` makes (and on later calls reuses) these files in RUN_DIR::

    z_test.npz                 encoded test split (zspace.zstore)
    analysis/analysis.json     the battery's numbers, analysis/*.png its figures
    analysis/scatter.npz       2-D points of every t-SNE map and plane view, with row indices
    reconstruction.png         test images above their reconstructions
    generated_<sampler>.png    decoded random points, one grid per sampler
    assets.json                the checkpoint epoch and settings these files were made with

When the run has trained further, or the settings differ, since
``assets.json`` was written, everything is made again.

The battery keeps its bulk arrays (t-SNE embeddings, plane projections) only
in memory; ``scatter.npz`` saves the ones the interactive scatters need, each
plane view subsampled (seeded) to ``max_scatter_points``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np

from zspace import io
from zspace.analysis import BatteryConfig, from_arrays, run_battery
from zspace.analysis.base import seeded_subsample
from zspace.encode import encode
from zspace.errors import ZspaceError
from zspace.generate import generate, reconstruct
from zspace.log import get_logger
from zspace.plots.grids import save_grid, save_reconstruction_grid
from zspace.run import Run, open_run
from zspace.zstore import ZStore, load_zstore

log = get_logger(__name__)

SCATTER_FILE = "scatter.npz"


@dataclasses.dataclass
class ReportConfig:
    """What ``prepare_run`` computes for the report.

    Parameters
    ----------
    samplers : tuple of str
        Sampler specs whose decoded grids are shown (SPEC 4.8: normal, uniform [-a, a]).
    n_generated : int
        Images per generated grid.
    n_reconstructed : int
        Test images in the reconstruction grid.
    n_encode : int or None
        Test images encoded and analysed (the first n of the split; None: all).
    tsne_n : int
        Points per t-SNE map (seeded subsample).
    max_scatter_points : int
        Points per interactive plane scatter (seeded subsample; up to 165,000 work).
    seed : int
    device : str
    only : tuple of str or None
        Analyses to run (default: all that apply).
    battery_config : BatteryConfig or None
        Full control of the analyses (then ``tsne_n`` and ``seed`` are not applied to them).
    """

    samplers: tuple[str, ...] = ("normal", "uniform:2", "uniform:10")
    n_generated: int = 36
    n_reconstructed: int = 16
    n_encode: int | None = None
    tsne_n: int = 20000
    max_scatter_points: int = 20000
    seed: int = 0
    device: str = "auto"
    only: tuple[str, ...] | None = None
    battery_config: BatteryConfig | None = None

    def battery(self) -> BatteryConfig:
        if self.battery_config is not None:
            return self.battery_config
        cfg = BatteryConfig(seed=self.seed)
        return dataclasses.replace(cfg, tsne=dataclasses.replace(cfg.tsne, sample_size=self.tsne_n),
                                   pca=dataclasses.replace(cfg.pca, tsne_sample_size=self.tsne_n))


def grid_name(sampler: str) -> str:
    """File name of the generated grid of ``sampler`` (``uniform:2`` -> ``generated_uniform2.png``)."""
    return "generated_" + "".join(ch for ch in sampler if ch.isalnum() or ch in "-_.") + ".png"


def scatter_arrays(results: dict[str, Any], n_points: int, max_points: int, seed: int) -> dict[str, np.ndarray]:
    """The 2-D point sets of the battery's results: ``<name>`` (n, 2) float32 and ``<name>.index`` (n,) int64."""
    out: dict[str, np.ndarray] = {}
    tsne_results = [results.get("tsne"), getattr(results.get("pca"), "tsne", None)]
    for res in filter(None, tsne_results):
        for m in res.maps:
            out[f"tsne_{m.name}"] = m.embedding.astype(np.float32)
            out[f"tsne_{m.name}.index"] = res.sample_index.astype(np.int64)
    keep = seeded_subsample(n_points, max_points, seed)
    planes = results.get("planes")
    for view in (planes.views if planes else []):
        out[f"plane_{view.name}"] = view.points[keep].astype(np.float32)
        out[f"plane_{view.name}.index"] = keep
    if "scatter2d" in results:
        out["latent_2d"] = results["scatter2d"].points[keep].astype(np.float32)
        out["latent_2d.index"] = keep
    return out


def _analysis_done(analysis_dir: Path) -> bool:
    path = analysis_dir / "analysis.json"
    if not (path.exists() and (analysis_dir / SCATTER_FILE).exists()):
        return False
    try:
        return bool(json.loads(path.read_text()).get("complete"))
    except json.JSONDecodeError:
        return False


def prepare_run(run: Run | str | Path, config: ReportConfig | None = None) -> Run:
    """Compute (or reuse) every file of the module docstring for ``run``."""
    config = config or ReportConfig()
    run = run if isinstance(run, Run) else open_run(run)
    root = run.root
    stamp = io.to_jsonable({"epoch": run.latest_epoch(), "config": dataclasses.asdict(config)})
    stamp_path = root / "assets.json"
    fresh = stamp_path.exists() and json.loads(stamp_path.read_text()) == stamp
    if not fresh:
        _remove_assets(root, config)
    z_path = root / "z_test.npz"
    if not z_path.exists():
        encode(run, split="test", device=config.device, seed=config.seed, n=config.n_encode).save(z_path)
    analysis_dir = root / "analysis"
    if not _analysis_done(analysis_dir):
        store = load_zstore(z_path)
        latents = from_arrays(store.z, store.mu, store.logvar, store.labels, source=str(z_path))
        battery = run_battery(latents, analysis_dir, config.battery(), list(config.only) if config.only else None)
        io.save_npz(analysis_dir / SCATTER_FILE,
                    **scatter_arrays(battery["results"], latents.n_points, config.max_scatter_points, config.seed))
    if not (root / "reconstruction.png").exists():
        originals, recos = reconstruct(run, n=config.n_reconstructed, seed=config.seed, device=config.device)
        save_reconstruction_grid(originals, recos, root / "reconstruction.png")
    for sampler in config.samplers:
        path = root / grid_name(sampler)
        if not path.exists():
            _, images = generate(run, sampler, n=config.n_generated, seed=config.seed, device=config.device)
            save_grid(images, path, ncols=6)
    if not fresh:
        io.write_json(stamp_path, stamp)
    return run


def _remove_assets(root: Path, config: ReportConfig) -> None:
    import shutil

    for name in ("assets.json", "z_test.npz", "reconstruction.png", *(grid_name(s) for s in config.samplers)):
        (root / name).unlink(missing_ok=True)
    shutil.rmtree(root / "analysis", ignore_errors=True)


@dataclasses.dataclass
class RunAssets:
    """What the report reads back for one run."""

    run: Run
    name: str
    store: ZStore
    analysis: dict[str, Any]
    scatters: dict[str, np.ndarray]


def load_assets(run: Run, name: str | None = None) -> RunAssets:
    """Read the files :func:`prepare_run` wrote; ``name`` labels the run (default: its directory name)."""
    analysis_dir = run.root / "analysis"
    if not _analysis_done(analysis_dir):
        raise ZspaceError(f"run {run.root} has no finished analysis; prepare it first (zspace report {run.root} does)")
    with np.load(analysis_dir / SCATTER_FILE, allow_pickle=False) as f:
        scatters = {k: f[k] for k in f.files}
    return RunAssets(run=run, name=name or run.root.name or str(run.root), store=load_zstore(run.root / "z_test.npz"),
                     analysis=json.loads((analysis_dir / "analysis.json").read_text()), scatters=scatters)
