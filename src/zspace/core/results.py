"""Results as plain data: the base class of every analysis and open-question result.

A result is a dataclass. Fields that hold small summaries go to JSON; fields
that hold bulk arrays for drawing (projected points, embeddings) are declared
with :func:`array_field` and left out of the JSON. A result also says what a
presentation layer needs from it, so nobody has to parse field names:

* :meth:`Result.headline` -- the few numbers that summarise it (a flat dict);
* :meth:`Result.scatters` -- its 2-D point sets for interactive scatters.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from zspace.core.io import to_jsonable


def array_field(default: Any = None) -> Any:
    """A dataclass field kept on the result for plotting but not written to JSON."""
    return dataclasses.field(default=default, repr=False, metadata={"json": False})


@dataclasses.dataclass
class Scatter:
    """One 2-D point set of a result.

    Attributes
    ----------
    points : float32 array, shape (n, 2)
        Coordinates in the plane (z units, or t-SNE units for a map).
    index : int64 array, shape (n,)
        Row of each point in the analysed input.
    replaces_figure : bool
        True when the static figure of the same name shows nothing more than
        this scatter (a t-SNE map), so a page showing the scatter can leave it out.
    """

    points: np.ndarray
    index: np.ndarray
    replaces_figure: bool = False


@dataclasses.dataclass
class Result:
    """Base class of all results: plain data, JSON via :meth:`to_json`."""

    def to_json(self) -> dict[str, Any]:
        """The JSON-safe summary of this result (bulk array fields omitted, also in nested dataclasses)."""
        return json_summary(self)

    def headline(self) -> dict[str, Any]:
        """The few numbers that summarise this result (name -> number); none by default."""
        return {}

    def scatters(self) -> dict[str, Scatter]:
        """Named 2-D point sets for interactive scatters; none by default."""
        return {}


def json_summary(obj: Any) -> Any:
    """Like :func:`zspace.core.io.to_jsonable`, but dataclass fields made with :func:`array_field` are skipped."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: json_summary(getattr(obj, f.name))
                for f in dataclasses.fields(obj) if f.metadata.get("json", True)}
    if isinstance(obj, (list, tuple)):
        return [json_summary(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): json_summary(v) for k, v in obj.items()}
    return to_jsonable(obj)


__all__ = ["Result", "Scatter", "array_field", "json_summary"]
