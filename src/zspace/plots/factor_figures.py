"""Figures of ``zspace factors``: the MI heat map (numbers in, Figure out) and traversal grids (images in, PNG out).

:func:`save_factor_figures` saves all of them for one outcome of
:func:`zspace.factors.factors`; the command line and the notebook pass it to
:func:`zspace.factors.write_factors`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from zspace.core import io
from zspace.core.names import unique_stems
from zspace.plots.grids import save_grid

#: resolution of the saved MI heat maps, dots per inch
FIGURE_DPI = 110


def mi_heatmap(mi: np.ndarray, factor_names: list[str], title: str, max_directions: int = 32) -> Figure:
    """Heat map of normalised mutual information (d directions x K factors), the most informative directions first.

    ``mi`` is (d, K) in [0, 1] (MI divided by the factor's entropy). Only the
    ``max_directions`` directions with the largest MI with any factor are drawn.
    """
    mi = np.asarray(mi, dtype=float)
    order = np.argsort(-mi.max(axis=1), kind="stable")[:max_directions]
    shown = mi[order].T  # (K, shown)
    fig = Figure(figsize=(max(4.0, 0.32 * len(order) + 2.5), max(2.5, 0.3 * len(factor_names) + 1.5)),
                 layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(shown, aspect="auto", vmin=0.0, vmax=1.0, cmap="viridis")
    ax.set_yticks(range(len(factor_names)), factor_names, fontsize=8)
    ax.set_xticks(range(len(order)), [str(int(i)) for i in order], fontsize=7, rotation=90)
    ax.set_xlabel("direction (most informative first)")
    ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax, label="MI / H(factor)")
    return fig


def save_traversal_grids(images: np.ndarray, names: list[str], out: Path, prefix: str) -> list[str]:
    """One PNG per traversal group: ``images`` (G, P, S, H, W, C) -> OUT/PREFIX-STEM.png, P rows of S steps.

    STEM is the group's name made a file stem by :func:`zspace.core.names.unique_stems`: the name itself when it
    is a plain lower-case name, else a readable form plus a hash of the name, so no two groups share a file.
    """
    written = []
    for group, stem in zip(images, unique_stems([str(name) for name in names])):
        path = out / f"{prefix}-{stem}.png"
        save_grid(group.reshape(-1, *group.shape[2:]), path, ncols=group.shape[1])
        written.append(path.name)
    return written


def save_path_grid(images: np.ndarray, path: Path) -> str:
    """Interpolations ``images`` (pairs, steps, H, W, C) -> one PNG, a row per pair."""
    save_grid(images.reshape(-1, *images.shape[2:]), path, ncols=images.shape[1])
    return path.name


def save_factor_figures(outcome: Any, out: Path, dpi: int = FIGURE_DPI) -> list[str]:
    """Save every figure of a :class:`zspace.factors.FactorsOutcome` into directory ``out``; return the file names.

    ``mi-axes.png`` and ``mi-pca.png`` (the MI heat maps, at ``dpi``), then
    the grids of the decoded images the outcome holds (a run's only):
    ``traverse-axisA.png`` per traversed axis, ``direction-F.png`` and
    ``attribute-F.png`` per factor, ``paths-straight.png`` and ``paths-data.png``.
    """
    files = []
    names = list(outcome.result.factor_names)
    for scores in (outcome.result.axes, outcome.result.pca):
        fig = mi_heatmap(scores.mi, names, f"MI with each factor, {scores.basis} ({outcome.data.source})")
        path = out / f"mi-{scores.basis}.png"
        with io.atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=dpi)
        files.append(path.name)
    images, plan = outcome.images, outcome.plan
    if "axis" in images:
        files += save_traversal_grids(images["axis"], [f"axis{a}" for a in plan.axes], out, "traverse")
    if "direction" in images:
        files += save_traversal_grids(images["direction"], plan.direction_factors, out, "direction")
    if "attribute" in images:
        files += save_traversal_grids(images["attribute"], plan.attribute_factors, out, "attribute")
    for kind in ("straight", "data"):
        if f"path_{kind}" in images:
            files.append(save_path_grid(images[f"path_{kind}"], out / f"paths-{kind}.png"))
    return files
