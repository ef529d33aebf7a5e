"""The codes and known factors of one input to ``zspace factors``: a run directory or a Z file / Z directory.

What kind of input a path is, is :func:`zspace.core.inputkind.kind_of`'s rule.
A run gives its encoded training split (cached,
:func:`zspace.science.latents.training_store`); a Z file or Z directory its
codes (:attr:`ZStore.codes <zspace.pipeline.zstore.ZStore.codes>`: a VAE's
mu, an AE's z) and known factors.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from zspace.core.errors import ZspaceError
from zspace.core.inputkind import ZDIR_META, InputKind, kind_of
from zspace.core.layout import CONFIG_FILE
from zspace.pipeline.run import Run, open_run
from zspace.pipeline.zstore import ZStore, load_zstore
from zspace.science.latents import training_store


@dataclasses.dataclass
class FactorInput:
    """Codes and known factors of one input (row-aligned)."""

    codes: np.ndarray            # (N, d) float32: a VAE's mu, an AE's z
    factors: np.ndarray          # (N, K) float64
    factor_names: list[str]
    source: str
    run: Run | None = None


def factor_input(source: str | Path | Run, epoch: int | None = None, device: str = "auto") -> FactorInput:
    """The codes and factors of a run (its encoded training split, cached) or of a Z file or Z directory.

    ``source``: a run directory or an open :class:`~zspace.pipeline.run.Run`,
    or the path of a Z file or Z directory. Known factors are the Z file's
    ``factors`` columns plus its ``labels`` as one discrete factor named
    ``class`` (unless a factor column already equals them, as the shapes
    set's ``kind`` does). A clear error when there is none.
    """
    if isinstance(source, Run):
        return _from_store(training_store(source, epoch, device), str(source.root), source)
    path = Path(source)
    kind = kind_of(path)
    if kind is InputKind.RUN:
        run = open_run(path)
        return _from_store(training_store(run, epoch, device), str(path), run)
    if kind is InputKind.SHARD_DIR:
        raise ZspaceError(f"{path} is a folder but neither a zspace run (no {CONFIG_FILE}) nor a Z directory "
                          f"(no {ZDIR_META}); give a run directory, or a Z file or directory written by zspace encode")
    return _from_store(load_zstore(path), str(path), None)


def _from_store(store: ZStore, source: str, run: Run | None) -> FactorInput:
    """The codes of ``store`` and its known factors (its ``factors`` columns, then its labels as ``class``)."""
    columns, names = [], []
    if store.factors is not None and store.factors.size:
        columns.append(np.asarray(store.factors, dtype=np.float64).reshape(len(store.codes), -1))
        names += list(store.factor_names) or [f"factor_{i}" for i in range(columns[0].shape[1])]
    labels_known = bool(columns) and any(np.array_equal(col, store.labels) for col in columns[0].T) \
        if store.labels is not None else False
    if store.labels is not None and len(np.unique(store.labels)) > 1 and not labels_known:
        columns.append(np.asarray(store.labels, dtype=np.float64).reshape(-1, 1))
        names.append("class")
    if not columns:
        raise ZspaceError(f"{source} knows no factors (no 'factors' or 'labels'); encode a data set that has them "
                          f"(shapes, a labelled folder, CelebA with list_attr_celeba.txt, an IDX set)")
    return FactorInput(codes=np.asarray(store.codes, dtype=np.float32), factors=np.hstack(columns),
                       factor_names=names, source=source, run=run)


__all__ = ["FactorInput", "factor_input"]
