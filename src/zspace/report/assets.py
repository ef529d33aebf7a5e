"""Everything a report shows about one run, computed once and kept in the run directory.

``prepare_run`` makes (and on later calls reuses) these files in RUN_DIR (named by
:mod:`zspace.core.layout`)::

    z_test.npz                 encoded test split (zspace.pipeline.zstore)
    analysis/analysis.json     the battery's numbers, analysis/*.png its figures
    analysis/scatter.npz       2-D points of every t-SNE map and plane view, with row indices
    reconstruction.png         test images above their reconstructions
    generated_<sampler>.png    decoded random points, one grid per sampler (and, when the run has a
                               question.json, one for N(0, I) and one for its best fitted sampler);
                               <sampler> is the spec as a file stem (grid_name: uniform:2 -> uniform_2-fa9ea589)
    real_test.png              test images, the reference the generated grids are judged against
    assets.json                the checkpoint epoch and settings these files were made with

When the run has trained further, or the settings differ, since
``assets.json`` was written, everything is made again.

The battery keeps its bulk arrays (t-SNE embeddings, plane projections) only
in memory; ``scatter.npz`` saves the 2-D point sets each result offers
(:meth:`zspace.core.results.Result.scatters`), each subsampled (seeded) to
``max_scatter_points``; ``analysis.json["scatters"]`` says which analysis made which.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from zspace.analysis import BatteryConfig, from_arrays, run_battery
from zspace.core import io
from zspace.core.config import Config
from zspace.core.errors import ZspaceError
from zspace.core.log import get_logger
from zspace.core.layout import REAL_GRID_FILE, RunLayout, grid_name  # noqa: F401  (grid_name: the report's import)
from zspace.core.results import Result
from zspace.core.rows import seeded_subsample
from zspace.pipeline import checkpoint
from zspace.pipeline.encode import encode
from zspace.pipeline.generate import reconstruct
from zspace.pipeline.run import Run, open_run
from zspace.pipeline.zstore import ZStore, load_zstore
from zspace.plots.analysis_figures import draw as draw_analysis
from zspace.plots.grids import save_grid, save_reconstruction_grid
from zspace.science.generation import generate
from zspace.science.question import finding
from zspace.science.samplers import SAMPLERS

log = get_logger(__name__)

#: the grid of real test images shown beside the generated ones (kept for the report's imports)
REAL_GRID = REAL_GRID_FILE
#: version of the files prepare_run writes; a run prepared with another one is prepared again
ASSETS_LAYOUT = 3  # 3: grid names from zspace.core.names (uniform:2 was generated_uniform2.png)
#: points per t-SNE map (of z and of the leading PCA components) in a report
REPORT_TSNE_POINTS = 20000


@dataclasses.dataclass
class ReportConfig(Config):
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
    max_scatter_points : int
        Points per interactive scatter (seeded subsample; up to 165,000 work).
    seed : int
        The one seed of the report: encoding, the battery, the grids and the scatter subsamples.
    device : str
    only : tuple of str or None
        Analyses to run (default: all that apply).
    battery : BatteryConfig
        Settings of the analyses; default: the battery's, with ``REPORT_TSNE_POINTS``
        points in every t-SNE map (``BatteryConfig().with_tsne_points(n)`` for another n).
    """

    samplers: tuple[str, ...] = ("normal", "uniform:2", "uniform:10")
    n_generated: int = 36
    n_reconstructed: int = 16
    n_encode: int | None = None
    max_scatter_points: int = 20000
    seed: int = 0
    device: str = "auto"
    only: tuple[str, ...] | None = None
    battery: BatteryConfig = dataclasses.field(
        default_factory=lambda: BatteryConfig().with_tsne_points(REPORT_TSNE_POINTS))


def scatter_arrays(results: dict[str, Result], max_points: int, seed: int) -> dict[str, np.ndarray]:
    """Every result's 2-D point sets: ``<name>`` (n, 2) float32 and ``<name>.index`` (n,) int64 rows of the input.

    A set of more than ``max_points`` points is cut to a seeded subsample.
    """
    out: dict[str, np.ndarray] = {}
    for result in results.values():
        for name, scatter in result.scatters().items():
            keep = seeded_subsample(len(scatter.points), max_points, seed)
            out[name] = scatter.points[keep].astype(np.float32)
            out[f"{name}.index"] = scatter.index[keep].astype(np.int64)
    return out


def _analysis_done(layout: RunLayout) -> bool:
    path = layout.analysis_summary
    if not (path.exists() and layout.analysis_scatter.exists()):
        return False
    try:
        return bool(json.loads(path.read_text()).get("complete"))
    except json.JSONDecodeError:
        return False


def prepare_run(run: Run | str | Path, config: ReportConfig | None = None) -> Run:
    """Compute (or reuse) every file of the module docstring for ``run``."""
    config = config or ReportConfig()
    run = run if isinstance(run, Run) else open_run(run)
    layout = run.layout
    stamp = io.to_jsonable({"layout": ASSETS_LAYOUT, "epoch": run.latest_epoch(), "config": config.to_dict()})
    stamp_path = layout.assets_stamp
    fresh = stamp_path.exists() and json.loads(stamp_path.read_text()) == stamp
    if not fresh:
        if run.latest_epoch() is not None:  # a damaged checkpoint stops here, before old assets are removed
            checkpoint.verify_checkpoint(run.checkpoints_dir, run.latest_epoch())
        _remove_assets(layout, config)
    z_path = layout.z_test
    if not z_path.exists():
        encode(run, split="test", device=config.device, seed=config.seed, n=config.n_encode).save(z_path)
    if not _analysis_done(layout):
        store = load_zstore(z_path)
        latents = from_arrays(store.z, store.mu, store.logvar, store.labels, source=str(z_path))
        battery = run_battery(latents, layout.analysis, config.battery, list(config.only) if config.only else None,
                              draw=draw_analysis, seed=config.seed)
        io.save_npz(layout.analysis_scatter,
                    **scatter_arrays(battery["results"], config.max_scatter_points, config.seed))
    if not layout.reconstruction.exists():
        originals, recos = reconstruct(run, n=config.n_reconstructed, seed=config.seed, device=config.device)
        save_reconstruction_grid(originals, recos, layout.reconstruction)
    for sampler in (*config.samplers, *answer_samplers(question_answer(layout.root))):
        path = layout.generated_grid(sampler)
        if not path.exists():
            _, images = generate(run, sampler, n=config.n_generated, seed=config.seed, device=config.device)
            save_grid(images, path, ncols=6)
    if not layout.real_grid.exists():
        test = run.data_split("test").images
        pixels = np.asarray(test[seeded_subsample(len(test), config.n_generated, config.seed)])  # uint8 0..255
        save_grid(pixels.astype(np.float32) / 255.0, layout.real_grid, ncols=6)
    if not fresh:
        io.write_json(stamp_path, stamp)
    return run


def question_answer(root: Path) -> dict[str, Any] | None:
    """``RUN_DIR/question.json`` written by ``zspace question`` (or the demo), when present."""
    path = RunLayout(root).question
    return json.loads(path.read_text()) if path.exists() else None


def run_holes_summary(root: Path) -> dict[str, Any] | None:
    """``RUN_DIR/holes.json`` written by ``zspace holes``, when present."""
    path = RunLayout(root).holes
    return json.loads(path.read_text()) if path.exists() else None


def answer_samplers(answer: dict[str, Any] | None) -> tuple[str, ...]:
    """The samplers the Answer section shows for a run's question.json content: N(0, I) and its best fitted one
    (none without a question)."""
    if answer is None:
        return ()
    best = finding(answer)["best"]["sampler"]
    # a question.json written by hand or by another version may name samplers this zspace cannot draw from
    return tuple(s for s in dict.fromkeys(("normal", best)) if s.partition(":")[0] in SAMPLERS)


def _remove_assets(layout: RunLayout, config: ReportConfig) -> None:
    for path in (layout.assets_stamp, layout.z_test, layout.reconstruction, layout.real_grid):
        path.unlink(missing_ok=True)
    for grid in layout.generated_grids():
        grid.unlink(missing_ok=True)
    shutil.rmtree(layout.analysis, ignore_errors=True)


@dataclasses.dataclass
class RunAssets:
    """What the report reads back for one run."""

    run: Run
    name: str
    store: ZStore
    analysis: dict[str, Any]
    scatters: dict[str, np.ndarray]
    question: dict[str, Any] | None = None  # RUN_DIR/question.json, when the run was asked
    holes: dict[str, Any] | None = None     # RUN_DIR/holes.json, when zspace holes measured the run


def load_assets(run: Run, name: str | None = None) -> RunAssets:
    """Read the files :func:`prepare_run` wrote; ``name`` labels the run (default: its directory name)."""
    layout = run.layout
    if not _analysis_done(layout):
        raise ZspaceError(f"run {run.root} has no finished analysis; prepare it first (zspace report {run.root} does)")
    with np.load(layout.analysis_scatter, allow_pickle=False) as f:
        scatters = {k: f[k] for k in f.files}
    return RunAssets(run=run, name=name or run.root.name or str(run.root), store=load_zstore(layout.z_test),
                     analysis=json.loads(layout.analysis_summary.read_text()), scatters=scatters,
                     question=question_answer(run.root), holes=run_holes_summary(run.root))
