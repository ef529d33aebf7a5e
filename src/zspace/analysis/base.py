"""Pieces shared by every analysis: the result base class and row chunking.

A result is a dataclass. Fields that hold small summaries go to
``analysis.json``; fields that hold bulk arrays for drawing (projected points,
embeddings) are declared with :func:`array_field` and are left out of the JSON.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterator

import numpy as np

from zspace.io import to_jsonable

#: rows per chunk in the streaming passes; 16384 x 256 float32 is 16 MiB
CHUNK_ROWS = 16384


def array_field(default: Any = None) -> Any:
    """A dataclass field kept on the result for plotting but not written to JSON."""
    return dataclasses.field(default=default, repr=False, metadata={"json": False})


@dataclasses.dataclass
class AnalysisResult:
    """Base class of all analysis results: plain data, JSON via :meth:`to_json`."""

    def to_json(self) -> dict[str, Any]:
        """The JSON-safe summary of this result (bulk array fields omitted, also in nested dataclasses)."""
        return json_summary(self)


def json_summary(obj: Any) -> Any:
    """Like :func:`zspace.io.to_jsonable`, but dataclass fields made with :func:`array_field` are skipped."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: json_summary(getattr(obj, f.name))
                for f in dataclasses.fields(obj) if f.metadata.get("json", True)}
    if isinstance(obj, (list, tuple)):
        return [json_summary(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): json_summary(v) for k, v in obj.items()}
    return to_jsonable(obj)


def row_chunks(n_rows: int, chunk_rows: int = CHUNK_ROWS) -> Iterator[slice]:
    """Slices that cover ``range(n_rows)`` in consecutive blocks of ``chunk_rows``."""
    for start in range(0, n_rows, chunk_rows):
        yield slice(start, min(start + chunk_rows, n_rows))


def seeded_subsample(n_rows: int, size: int | None, seed: int) -> np.ndarray:
    """Sorted row indices of a seeded sample without replacement; all rows if ``size`` >= ``n_rows``.

    Returns
    -------
    numpy.ndarray of int64, shape (min(size, n_rows),)
    """
    if size is None or size >= n_rows:
        return np.arange(n_rows, dtype=np.int64)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_rows, size=size, replace=False)).astype(np.int64)
