"""Figures of the latent-space analyses: result objects in, matplotlib Figures out.

Nothing here computes statistics; every number drawn comes from a result of
:mod:`zspace.analysis`. :data:`FIGURES` maps an analysis name to a function
``(result, labels) -> {file stem: Figure}``; ``labels`` (N,) colours point
clouds when given.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from matplotlib.figure import Figure

from zspace.analysis.axes import AxisDensityResult
from zspace.analysis.clustering import InertiaResult
from zspace.analysis.pca import PcaResult
from zspace.analysis.planes import PlanesResult, PlaneView
from zspace.analysis.radius import RadiusResult
from zspace.analysis.scatter2d import Scatter2dResult
from zspace.analysis.tsne import TsneResult
from zspace.analysis.vae_stats import VaeStatsResult
from zspace.core.registry import Registry
from zspace.core.results import Result

#: largest number of distinct labels drawn with a categorical colour map
_MAX_CATEGORIES = 20


def axis_density_figure(result: AxisDensityResult) -> Figure:
    """All per-axis number densities in one plot; flagged axes drawn bold and named."""
    fig = Figure(figsize=(10, 5.5), constrained_layout=True)
    ax = fig.add_subplot()
    centres = result.bin_edges[:-1] + result.bin_width / 2
    density = result.counts / (result.n_points * result.bin_width)
    flagged = {f.axis for f in result.flagged}
    for j, row in enumerate(density):
        if j not in flagged:
            ax.plot(centres, row, color="0.55", lw=0.5, alpha=0.5)
    for j in sorted(flagged):
        ax.plot(centres, density[j], lw=1.5, label=f"axis {j}")
    ax.set_xlabel("z component value")
    ax.set_ylabel(f"density (points per unit z / N), bin {result.bin_width:g}")
    ax.set_title(f"Number density along each of the {len(density)} axes ({len(flagged)} flagged)")
    if flagged and len(flagged) <= 15:
        ax.legend(fontsize=8)
    return fig


def radius_figure(result: RadiusResult) -> Figure:
    """Histograms of R = ||z|| beside the chi_d expectation, one panel per bin width."""
    hists = result.histograms
    fig = Figure(figsize=(6 * len(hists), 4.5), constrained_layout=True)
    for i, h in enumerate(hists):
        ax = fig.add_subplot(1, len(hists), i + 1)
        centres = h.bin_edges[:-1] + h.bin_width / 2
        ax.step(centres, h.counts, where="mid", label="z points")
        ax.plot(centres, h.chi_expected_counts, "--", label=f"N(0, I) in d = {result.dim} (chi)")
        ax.axvline(h.peak_radius, color="C3", lw=0.8, label=f"peak {h.peak_radius:.2f}")
        upper = max(result.max, result.chi_mean + 5 * result.chi_std) * 1.05
        ax.set_xlim(0, upper)
        ax.set_xlabel("radius R = ||z||")
        ax.set_ylabel(f"points per bin of {h.bin_width:g}")
        ax.legend(fontsize=8)
    fig.suptitle(f"Radius distribution; W1 to chi = {result.wasserstein1_to_chi:.3g}, KS = {result.ks_to_chi:.3g}")
    return fig


def inertia_figure(result: InertiaResult) -> Figure:
    """Inertia against k with the elbow marked."""
    fig = Figure(figsize=(7, 4.5), constrained_layout=True)
    ax = fig.add_subplot()
    ax.plot(result.k_values, result.inertia, "o-", ms=3)
    ax.axvline(result.elbow_k, color="C3", lw=0.8, label=f"elbow k = {result.elbow_k} (Kneedle)")
    ax.set_xlabel("number of clusters k")
    ax.set_ylabel("inertia (sum of squared distances)")
    ax.legend()
    return fig


def pca_variance_figure(result: PcaResult) -> Figure:
    """Explained variance ratio per component (log scale) and its cumulative sum."""
    fig = Figure(figsize=(10, 4.5), constrained_layout=True)
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    number = np.arange(1, result.dim + 1)
    ax1.semilogy(number, np.maximum(result.explained_variance_ratio, 1e-12), ".-", ms=3)
    ax1.set_xlabel("principal component")
    ax1.set_ylabel("explained variance ratio")
    ax2.plot(number, np.cumsum(result.explained_variance_ratio))
    ax2.set_xlabel("number of leading components")
    ax2.set_ylabel("cumulative explained variance ratio")
    ax2.set_ylim(0, 1.02)
    return fig


def map_figure(points: np.ndarray, labels: np.ndarray | None, title: str,
               xlabel: str = "", ylabel: str = "") -> Figure:
    """A 2-D point cloud, coloured by label when given."""
    fig = Figure(figsize=(6.5, 6), constrained_layout=True)
    ax = fig.add_subplot()
    _scatter(ax, points, labels)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return fig


def tsne_figures(result: TsneResult, labels: np.ndarray | None = None, prefix: str = "tsne") -> dict[str, Figure]:
    """One figure per t-SNE map, coloured by ``labels[sample_index]`` when given."""
    sub_labels = labels[result.sample_index] if labels is not None else None
    return {f"{prefix}_{m.name}": map_figure(
        m.embedding, sub_labels,
        f"t-SNE {m.name} ({m.input_dim}-d input, {result.n_points_embedded} points, {m.n_iter} it); "
        f"kNN kept {m.knn_preservation:.2f}") for m in result.maps}


def pca_figures(result: PcaResult, labels: np.ndarray | None = None) -> dict[str, Figure]:
    """The variance spectrum and the t-SNE maps of leading components."""
    figs = {"pca_variance": pca_variance_figure(result)}
    if result.tsne is not None:
        figs.update(tsne_figures(result.tsne, labels, prefix="tsne"))
    return figs


def plane_figure(view: PlaneView, labels: np.ndarray | None = None, n_total: int | None = None) -> Figure:
    """A plane view: the whole cloud, then each zoom square with its point count (counts over all n_total points).

    ``labels`` are per input row (N,); the view's shown points are rows ``view.rows``.
    """
    panels = 1 + len(view.half_widths)
    cols = min(3, panels)
    rows = -(-panels // cols)
    fig = Figure(figsize=(4.2 * cols, 4 * rows), constrained_layout=True)
    unit = "PC" if view.kind == "pca" else "axis "
    xlabel, ylabel = f"{unit}{view.first}", f"{unit}{view.second}"
    ax = fig.add_subplot(rows, cols, 1)
    labels = labels[view.rows] if labels is not None else None
    _scatter(ax, view.points, labels)
    shown = len(view.points)
    n_total = n_total or shown
    ax.set_title(f"all {shown} points" if shown == n_total else f"{shown} of {n_total} points (seeded sample)",
                 fontsize=9)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    reach = np.abs(view.points).max(axis=1)
    for i, (h, count) in enumerate(zip(view.half_widths, view.counts_inside)):
        ax = fig.add_subplot(rows, cols, i + 2)
        inside = reach <= h
        _scatter(ax, view.points[inside], labels[inside] if labels is not None else None)
        ax.set_xlim(-h, h)
        ax.set_ylim(-h, h)
        ax.set_aspect("equal")
        ax.set_title(f"[-{h:g}, {h:g}]^2: {count} points" + ("" if shown == n_total else " of all"), fontsize=9)
        ax.set_xlabel(xlabel)
    fig.suptitle(f"{xlabel} vs {ylabel}")
    return fig


def plane_figures(result: PlanesResult, labels: np.ndarray | None = None) -> dict[str, Figure]:
    """One figure per plane view."""
    return {f"plane_{v.name}": plane_figure(v, labels, result.n_points) for v in result.views}


def scatter2d_figure(result: Scatter2dResult) -> Figure:
    """The points of a 2-D latent space, coloured by label."""
    return map_figure(result.points, result.labels, f"2-D latent space, {result.n_points} points", "z0", "z1")


def vae_figure(result: VaeStatsResult) -> Figure:
    """Counts of logvar components per interval and Var(mu_j) per dimension with the activity threshold."""
    fig = Figure(figsize=(11, 4.5), constrained_layout=True)
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    names = [f"[{iv.lo:g}, {iv.hi:g})" for iv in result.logvar_intervals]
    ax1.bar(range(len(names)), [iv.count for iv in result.logvar_intervals])
    ax1.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
    ax1.set_ylabel("components (of N x d)")
    ax1.set_title(f"logvar: min {result.logvar.min:.3g}, mean {result.logvar.mean:.3g}, max {result.logvar.max:.3g}")
    ax2.semilogy(np.maximum(np.sort(result.mu_variance)[::-1], 1e-12), ".-", ms=3)
    ax2.axhline(result.active_unit_threshold, color="C3", lw=0.8)
    ax2.set_xlabel("dimension (sorted)")
    ax2.set_ylabel("Var over data of mu_j")
    ax2.set_title(f"{result.active_units} of {result.dim} active units (> {result.active_unit_threshold:g})")
    return fig


def _scatter(ax, points: np.ndarray, labels: np.ndarray | None) -> None:
    size = 0.5 if len(points) > 20000 else 2.0
    if labels is None or len(points) == 0:
        ax.scatter(points[:, 0], points[:, 1], s=size, lw=0, color="C0", rasterized=True)
        return
    values = np.unique(labels)
    if len(values) <= _MAX_CATEGORIES:
        for i, v in enumerate(values):
            sel = labels == v
            ax.scatter(points[sel, 0], points[sel, 1], s=size, lw=0, color=f"C{i % 10}" if len(values) <= 10
                       else None, rasterized=True, label=str(v))
        ax.legend(markerscale=6 / max(size, 0.5), fontsize=7, loc="upper right")
    else:
        art = ax.scatter(points[:, 0], points[:, 1], c=labels, s=size, lw=0, cmap="viridis", rasterized=True)
        ax.figure.colorbar(art, ax=ax, label="label")


#: analysis name -> (result, labels) -> {file stem: Figure}
FIGURES: Registry[Callable[..., dict[str, Figure]]] = Registry("figure set", {
    "axes": lambda r, labels=None: {"axis_density": axis_density_figure(r)},
    "radius": lambda r, labels=None: {"radius": radius_figure(r)},
    "inertia": lambda r, labels=None: {"inertia": inertia_figure(r)},
    "tsne": tsne_figures,
    "pca": pca_figures,
    "planes": plane_figures,
    "vae": lambda r, labels=None: {"vae_stats": vae_figure(r)},
    "scatter2d": lambda r, labels=None: {"scatter2d": scatter2d_figure(r)},
})


def draw(name: str, result: Result, labels: np.ndarray | None = None) -> dict[str, Figure]:
    """The figures of analysis ``name`` of the battery: {file stem: figure}; none for an unknown name."""
    figures = FIGURES.get(name)
    return figures(result, labels) if figures is not None else {}
