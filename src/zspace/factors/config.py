"""The settings of :func:`zspace.factors.factors`: the measures' own (``analysis``) and the traversals'."""

from __future__ import annotations

import dataclasses

from zspace.analysis.factors import FactorConfig
from zspace.core.config import Config
from zspace.core.errors import require


@dataclasses.dataclass
class FactorsConfig(Config):
    """Settings of :func:`factors` (the measures' own settings are ``analysis``).

    Parameters
    ----------
    n_axes : int, default 6
        Most informative axes traversed (by their largest normalised MI with any factor).
    n_points : int, default 6
        Encoded points per traversal (rows of a grid).
    n_steps : int, default 9
        Steps per traversal or path (columns of a grid).
    n_pairs : int, default 4
        Pairs of encoded points interpolated.
    graph_points : int, default 4000
        Codes in the k-nearest-neighbour graph of the data paths (a seeded subsample).
    neighbours : int, default 10
        k of that graph.
    """

    analysis: FactorConfig = dataclasses.field(default_factory=FactorConfig)
    n_axes: int = 6
    n_points: int = 6
    n_steps: int = 9
    n_pairs: int = 4
    graph_points: int = 4000
    neighbours: int = 10

    def validate(self) -> None:
        for name in ("n_axes", "n_points", "n_steps", "n_pairs", "neighbours"):
            require(getattr(self, name) >= 1, f"factors: {name} {getattr(self, name)} must be >= 1")
        require(self.n_steps >= 2, f"factors: n_steps {self.n_steps} must be >= 2")
        require(self.graph_points > self.neighbours, "factors: graph_points must exceed neighbours")


__all__ = ["FactorsConfig"]
