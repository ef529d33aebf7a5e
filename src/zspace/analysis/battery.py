"""The analysis battery: a registry of analyses and :func:`run_battery`, which runs a selection.

Each step reads checked input (:class:`~zspace.analysis.inputs.LatentInput`) and
returns a result. ``analysis.json`` is rewritten (atomically) after every step,
with ``"complete": false`` until the last one, so an interrupted run keeps what
it finished. Figures are drawn by the caller's ``draw`` function (the
presentation layer's :func:`zspace.plots.analysis_figures.draw`): this layer
computes, it never imports a plotting module.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, Callable, Mapping

from zspace.analysis.axes import AxisDensityConfig, axis_density
from zspace.analysis.clustering import InertiaConfig, inertia_curve
from zspace.analysis.inputs import LatentInput
from zspace.analysis.pca import PcaConfig, pca_analysis
from zspace.analysis.planes import PlanesConfig, plane_views
from zspace.analysis.radius import RadiusConfig, radius_density
from zspace.analysis.scatter2d import Scatter2dConfig, scatter_2d
from zspace.analysis.tsne import TsneConfig, tsne_maps
from zspace.analysis.vae_stats import VaeStatsConfig, vae_statistics
from zspace.core import faults, timing
from zspace.core.config import Config
from zspace.core.errors import ZspaceError
from zspace.core.io import atomic_path, to_jsonable, write_json
from zspace.core.layout import ANALYSIS_FILE
from zspace.core.log import get_logger
from zspace.core.names import safe_stem
from zspace.core.progress import progress
from zspace.core.registry import Registry
from zspace.core.results import Result

log = get_logger(__name__)

#: version of the analysis.json layout documented in docs/analysis.md
SCHEMA = "zspace.analysis/1"


#: draws one analysis result: (name, result, labels array or None) -> {file stem: figure with .savefig}
DrawFunction = Callable[[str, Result, Any], Mapping[str, Any]]


@dataclasses.dataclass
class BatteryConfig(Config):
    """Settings of every analysis, plus the figure options shared by all.

    No seed: :func:`run_battery` takes the one seed of its caller and passes it
    to every seeded analysis (k-means, t-SNE, PCA maps).
    """

    axes: AxisDensityConfig = dataclasses.field(default_factory=AxisDensityConfig)
    radius: RadiusConfig = dataclasses.field(default_factory=RadiusConfig)
    inertia: InertiaConfig = dataclasses.field(default_factory=InertiaConfig)
    pca: PcaConfig = dataclasses.field(default_factory=PcaConfig)
    planes: PlanesConfig = dataclasses.field(default_factory=PlanesConfig)
    tsne: TsneConfig = dataclasses.field(default_factory=TsneConfig)
    vae: VaeStatsConfig = dataclasses.field(default_factory=VaeStatsConfig)
    scatter2d: Scatter2dConfig = dataclasses.field(default_factory=Scatter2dConfig)
    figures: bool = True
    figure_dpi: int = 110

    def with_tsne_points(self, n: int) -> "BatteryConfig":
        """A copy whose t-SNE maps (of z and of the leading PCA components) embed ``n`` points."""
        return dataclasses.replace(self, tsne=dataclasses.replace(self.tsne, sample_size=n),
                                   pca=dataclasses.replace(self.pca, tsne_sample_size=n))


@dataclasses.dataclass(frozen=True)
class Analysis:
    """One entry of the registry.

    Attributes
    ----------
    title : str
        What it is, with its SPEC item.
    run : callable (LatentInput, BatteryConfig, seed, finished results) -> Result
    needs : callable LatentInput -> str or None
        Why the analysis cannot run on this input, or None when it can.
    """

    title: str
    run: Callable[[LatentInput, BatteryConfig, int, dict[str, Result]], Result]
    needs: Callable[[LatentInput], str | None] = lambda latents: None


def _needs_tsne_points(latents: LatentInput) -> str | None:
    minimum = TsneConfig.min_points
    return None if latents.n_points >= minimum else f"t-SNE needs at least {minimum} points"


#: analysis name -> Analysis, in the order they run
ANALYSES: Registry[Analysis] = Registry("analysis", {
    "axes": Analysis("SPEC 4.1 number density along each axis",
                     lambda x, c, seed, done: axis_density(x.z, c.axes)),
    "radius": Analysis("SPEC 4.2 number density against radius, vs chi_d",
                       lambda x, c, seed, done: radius_density(x.z, c.radius)),
    "inertia": Analysis("SPEC 4.3 k-means inertia curve and elbow",
                        lambda x, c, seed, done: inertia_curve(x.z, c.inertia, seed)),
    "pca": Analysis("SPEC 4.5 PCA spectrum and t-SNE of leading components",
                    lambda x, c, seed, done: pca_analysis(x.z, c.pca, c.tsne, seed)),
    "planes": Analysis("SPEC 4.6 plane projections with zoom series",
                       lambda x, c, seed, done: plane_views(x.z, c.planes, done.get("pca"), seed)),
    "tsne": Analysis("SPEC 4.4 t-SNE maps", lambda x, c, seed, done: tsne_maps(x.z, c.tsne, seed), _needs_tsne_points),
    "vae": Analysis("SPEC 4.7 VAE variational statistics",
                    lambda x, c, seed, done: vae_statistics(x.z, x.mu, x.logvar, c.vae),
                    lambda x: None if x.has_vae else "the input has no mu/logvar (not a VAE Z.npz)"),
    "scatter2d": Analysis("SPEC 4.9 labelled scatter of a 2-D latent space",
                          lambda x, c, seed, done: scatter_2d(x.z, x.labels, c.scatter2d),
                          lambda x: None if x.dim == 2 else f"d = {x.dim}, not 2"),
})


def select(only: list[str] | None, latents: LatentInput) -> tuple[list[str], dict[str, str]]:
    """The analyses to run and, for the others that were not asked for explicitly, why they are skipped.

    Raises
    ------
    ZspaceError
        An unknown name, or a name asked for explicitly that cannot run on this input.
    """
    if only:
        unknown = [name for name in only if name not in ANALYSES]
        if unknown:
            raise ZspaceError(f"--only: unknown analysis {', '.join(unknown)}; choose from {', '.join(ANALYSES)}")
        for name in only:
            reason = ANALYSES[name].needs(latents)
            if reason:
                raise ZspaceError(f"--only {name}: cannot run on {latents.source}: {reason}")
        return [name for name in ANALYSES if name in only], {}
    chosen, skipped = [], {}
    for name, analysis in ANALYSES.items():
        reason = analysis.needs(latents)
        if reason:
            skipped[name] = reason
        else:
            chosen.append(name)
    return chosen, skipped


def run_battery(latents: LatentInput, out_dir: str | Path | None = None, config: BatteryConfig | None = None,
                only: list[str] | None = None, draw: DrawFunction | None = None, seed: int = 0,
                on_step: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the selected analyses on checked input and write analysis.json and the PNGs.

    Parameters
    ----------
    latents : LatentInput
        From :func:`~zspace.analysis.inputs.load_latents` or :func:`~zspace.analysis.inputs.from_arrays`.
    out_dir : str or Path, optional
        Where analysis.json and the figures go; nothing is written when None.
    config : BatteryConfig, optional
    only : list of str, optional
        Names from :data:`ANALYSES`; default all that apply to the input.
    draw : callable, optional
        Figures of one result, saved as ``out_dir/<stem>.png`` when ``config.figures``
        (e.g. :func:`zspace.plots.analysis_figures.draw`); no figures when None. A stem goes through
        :func:`zspace.core.names.safe_stem` (the battery's own stems are plain names and stay as they are).
    seed : int, default 0
        Seeds every seeded analysis (subsamples, k-means, t-SNE).
    on_step : callable, optional
        Called with each analysis name just before it starts (a notebook's
        progress display, a benchmark's per-analysis memory meter).

    Returns
    -------
    dict
        ``{"results": {name: Result}, "report": the analysis.json content}``
    """
    cfg = config or BatteryConfig()
    names, skipped = select(only, latents)
    out = Path(out_dir) if out_dir is not None else None
    results: dict[str, Result] = {}
    report: dict[str, Any] = {
        "schema": SCHEMA, "complete": False, "input": latents.summary(),
        "config": {name: to_jsonable(getattr(cfg, name)) for name in names},
        "seed": seed, "analyses": {}, "headlines": {}, "scatters": {}, "skipped": skipped, "figures": {},
        "seconds": {},
    }
    steps = progress(names, desc="analyze", unit="analysis")
    for name in steps:
        steps.set_postfix_str(name)
        if on_step is not None:
            on_step(name)
        start = time.perf_counter()
        with timing.stage(f"analysis: {name}"):
            results[name] = ANALYSES[name].run(latents, cfg, seed, results)
        report["seconds"][name] = round(time.perf_counter() - start, 3)
        report["analyses"][name] = results[name].to_json()
        report["headlines"][name] = to_jsonable(results[name].headline())
        report["scatters"][name] = {key: {"n_points": len(s.points), "replaces_figure": s.replaces_figure}
                                    for key, s in results[name].scatters().items()}
        if out is not None:
            if cfg.figures and draw is not None:
                start = time.perf_counter()
                with timing.stage("figures"):
                    report["figures"][name] = _save_figures(draw(name, results[name], latents.labels), out, cfg.figure_dpi)
                report["seconds"][f"{name}_figures"] = round(time.perf_counter() - start, 3)
            write_json(out / ANALYSIS_FILE, report)
            faults.point("battery.analysis")
        log.info("%s done in %.1f s", name, report["seconds"][name])
    report["complete"] = True
    if out is not None:
        write_json(out / ANALYSIS_FILE, report)
    return {"results": results, "report": report}


def _save_figures(figures: Mapping[str, Any], out: Path, dpi: int) -> list[str]:
    files = []
    for stem, fig in figures.items():
        path = out / f"{safe_stem(stem)}.png"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=dpi)
        files.append(path.name)
    return files
