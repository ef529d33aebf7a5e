"""``zspace factors``: measure how the codes of an input encode its known factors, decode the traversals, write it.

:func:`factors` computes (arrays and results, nothing written);
:func:`write_factors` is the whole command -- where the output goes is checked
first, then :func:`factors`, then ``factors.json`` and the figures. The
command line and the notebook (``LabRun.factors``) both call
:func:`write_factors`, with the drawing of :mod:`zspace.plots.factor_figures`
passed in (``plots`` sits beside this unit, so neither imports the other).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

import numpy as np

from zspace.analysis.factors import FactorResult, factor_analysis
from zspace.core import io
from zspace.core.errors import ZspaceError
from zspace.core.inputkind import InputKind, kind_of
from zspace.core.layout import FACTORS_FILE, RunLayout
from zspace.factors.config import FactorsConfig
from zspace.factors.input import FactorInput, factor_input
from zspace.factors.traversals import TraversalPlan, plan_traversals
from zspace.pipeline.run import Run
from zspace.pipeline.session import open_session


@dataclasses.dataclass
class FactorsOutcome:
    """What :func:`factors` computed: the measures, the traversal plan and (for a run) the decoded images.

    ``images`` maps "axis", "direction", "attribute" to float32 arrays
    (groups, points, steps, H, W, C) and "path_straight", "path_data" to
    (pairs, steps, H, W, C), all in [0, 1]. ``summary_path`` is where
    :func:`write_factors` wrote ``factors.json`` (None when nothing was written).
    """

    data: FactorInput
    result: FactorResult
    plan: TraversalPlan
    images: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    summary_path: Path | None = None

    def to_json(self) -> dict:
        """The content of ``factors.json`` (docs/factors.md), without the figure names."""
        return {"source": self.data.source, "n_points": int(len(self.data.codes)),
                "factor_names": list(self.result.factor_names), "known_factors": self.data.factor_names,
                "measures": self.result.to_json(),
                "traversals": self.plan.to_json()}


#: ``draw(outcome, out) -> file names``: saves the figures of an outcome into directory ``out``
#: (:func:`zspace.plots.factor_figures.save_factor_figures`)
DrawFactors = Callable[[FactorsOutcome, Path], list[str]]


def factors(source: str | Path | Run, config: FactorsConfig | None = None, *, seed: int = 0,
            epoch: int | None = None, device: str = "auto", precision: str | None = None,
            decode: bool = True) -> FactorsOutcome:
    """Measure how the codes of ``source`` encode its known factors, and decode the traversals (runs only).

    ``source`` is a run (directory or open :class:`~zspace.pipeline.run.Run`),
    a Z file or a Z directory (:func:`~zspace.factors.input.factor_input`).
    ``seed`` seeds the measures' subsample and split, the traversal points and
    the interpolated pairs. ``epoch``, ``device`` and ``precision`` (default:
    the run's training precision) choose the checkpoint and how it decodes.
    """
    config = config or FactorsConfig()
    data = factor_input(source, epoch, device)
    result = factor_analysis(data.codes, data.factors, data.factor_names, config.analysis, seed=seed)
    plan = plan_traversals(data, result, config, seed)
    outcome = FactorsOutcome(data=data, result=result, plan=plan)
    if decode and data.run is not None:
        session = open_session(data.run, epoch, device, precision)
        groups = {"axis": plan.axis_points, "direction": plan.direction_points, "attribute": plan.attribute_points,
                  "path_straight": plan.paths["straight"], "path_data": plan.paths["data"]}
        for name, points in groups.items():
            if points.size == 0:
                continue
            flat = points.reshape(-1, points.shape[-1])
            decoded = session.decode(flat, desc=f"decoding {name}")
            outcome.images[name] = decoded.reshape(*points.shape[:-1], *decoded.shape[1:])
    return outcome


def factors_out(source: str | Path | Run, out: str | Path | None = None) -> Path:
    """Where ``zspace factors`` writes: ``out``, or ``RUN_DIR/factors`` for a run; a Z file needs ``out``."""
    if out is not None:
        return Path(out)
    if isinstance(source, Run):
        return source.layout.factors
    if kind_of(source) is InputKind.RUN:
        return RunLayout(Path(source)).factors
    raise ZspaceError("zspace factors Z_FILE needs --out DIR (only a run directory has a default)")


def write_factors(source: str | Path | Run, out: str | Path | None = None, config: FactorsConfig | None = None, *,
                  seed: int = 0, epoch: int | None = None, device: str = "auto", precision: str | None = None,
                  figures: bool = True, draw: DrawFactors | None = None) -> FactorsOutcome:
    """``zspace factors``: :func:`factors` of ``source``, written to ``out/factors.json`` with its figures.

    ``out`` defaults to ``RUN_DIR/factors`` for a run (where ``zspace report``
    looks); a Z file or Z directory needs one, which is checked before any
    work. With ``figures`` the traversals are decoded (runs only) and
    ``draw`` saves the figures into ``out`` (their names go into
    ``factors.json`` as ``"figures"``); without ``draw`` none are drawn.
    Returns the outcome, ``summary_path`` set.
    """
    out = factors_out(source, out)
    drawn = figures and draw is not None
    outcome = factors(source, config, seed=seed, epoch=epoch, device=device, precision=precision, decode=drawn)
    summary = outcome.to_json()
    if drawn:
        summary["figures"] = draw(outcome, out)
    outcome.summary_path = out / FACTORS_FILE
    io.write_json(outcome.summary_path, summary)
    return outcome


__all__ = ["FactorsOutcome", "DrawFactors", "factors", "factors_out", "write_factors"]
