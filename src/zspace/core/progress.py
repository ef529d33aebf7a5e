"""Progress bars (tqdm) shown on rank 0 only; silence with ZSPACE_PROGRESS=0."""

from __future__ import annotations

import importlib.util
import os
from typing import Iterable, TypeVar

# tqdm.auto draws widget bars in Jupyter, which need ipywidgets; without it, it warns on every import, so the
# text bars are used instead (they also work in a notebook)
if importlib.util.find_spec("ipywidgets") is not None:
    from tqdm.auto import tqdm
else:
    from tqdm.std import tqdm

from zspace.core.dist import is_main_process

T = TypeVar("T")


def progress_enabled() -> bool:
    """Whether progress bars are drawn in this process."""
    return is_main_process() and os.environ.get("ZSPACE_PROGRESS", "1") != "0"


def progress(iterable: Iterable[T] | None = None, *, desc: str = "", total: int | None = None,
             unit: str = "it", leave: bool = True) -> tqdm:
    """Wrap ``iterable`` in a tqdm bar (or return a manual bar when it is None)."""
    return tqdm(iterable, desc=desc, total=total, unit=unit, leave=leave,
                disable=not progress_enabled(), dynamic_ncols=True)
