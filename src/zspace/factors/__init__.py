"""Factor work on a run or a Z file: which directions of z encode which known factors, and what moving along them
decodes to (``zspace factors``, docs/factors.md).

Layer 4, beside ``plots`` (docs/architecture.md): it reads a run's cached
encoded training split (``science.latents``) or a Z file, measures with
:mod:`zspace.analysis.factors` (arrays in, numbers out), plans and decodes
the traversals, and writes ``factors.json``; the figures are drawn by
:mod:`zspace.plots.factor_figures`, passed in by the caller.

* :mod:`.input`: the codes and known factors of an input (:func:`factor_input`);
* :mod:`.traversals`: the latent points of every decoded picture, and the
  void profiles of the interpolation paths (:func:`plan_traversals`);
* :mod:`.outcome`: :func:`factors` (compute) and :func:`write_factors` (the command);
* :mod:`.config`: :class:`FactorsConfig`.
"""

from __future__ import annotations

from zspace.factors.config import FactorsConfig
from zspace.factors.input import FactorInput, factor_input
from zspace.factors.outcome import DrawFactors, FactorsOutcome, factors, factors_out, write_factors
from zspace.factors.traversals import (
    PathProfileSummary,
    TraversalPlan,
    attribute_vectors,
    axis_traversals,
    direction_traversals,
    interpolation_paths,
    most_informative_axes,
    path_void_profiles,
    plan_traversals,
)

__all__ = ["FactorsConfig", "FactorInput", "TraversalPlan", "PathProfileSummary", "FactorsOutcome", "DrawFactors",
           "factor_input", "factors", "factors_out", "write_factors", "plan_traversals", "most_informative_axes",
           "axis_traversals", "direction_traversals", "attribute_vectors", "interpolation_paths",
           "path_void_profiles"]
