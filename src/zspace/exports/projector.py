"""Latent points for TensorBoard's Embedding Projector: which rows, their codes, their metadata and images.

A source is a run directory, a Z file / Z directory (``zspace encode``), or a
plain ``.npy`` array / directory of ``.npy`` shards (read by
:func:`zspace.analysis.inputs.load_latents`). At most ``max_points`` rows are
kept, chosen by :func:`zspace.core.rows.seeded_subsample` (sorted, the same
rows for the same seed and N everywhere). The vectors are each image's
deterministic code (:attr:`ZStore.codes <zspace.pipeline.zstore.ZStore.codes>`:
a VAE's ``mu``, an AE's ``z``); a plain array gives its rows as they are.

For a run, the chosen images of ``split`` are encoded with the checkpoint of
``epoch`` (an :class:`~zspace.pipeline.session.InferenceSession`; only those
rows, so a large split costs only the points shown), and they also become
the sprite thumbnails. A Z file holds no images, so it gives no sprite.

Metadata columns: ``index`` (the row's position in its split or file),
``label`` (the class name where ``class_names`` are known, else the integer)
and one column per known generating factor. The files are written by
:func:`zspace.exports.projector_layout.write_projector_layout`.

Which kind of input a source is, is :func:`zspace.core.inputkind.kind_of`'s
rule; which vectors a store's rows give, :attr:`ZStore.codes`'s: every source
becomes the :class:`~zspace.pipeline.zstore.ZStore` of its chosen rows first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from zspace.analysis.inputs import load_latents
from zspace.core.errors import ZspaceError
from zspace.core.inputkind import InputKind, kind_of
from zspace.core.rows import float32_block, seeded_subsample
from zspace.exports.projector_layout import write_projector_layout
from zspace.pipeline.session import open_session
from zspace.pipeline.tensorboard import require_tensorboard
from zspace.pipeline.zstore import ZStore, load_zstore

#: default cap on the points written (the Projector's t-SNE and UMAP slow down far beyond it)
MAX_POINTS = 10000
#: who asks for TensorBoard, in the error when it is missing
_WHAT = "zspace projector"


@dataclass
class ProjectorPoints:
    """The rows of a source chosen for the Projector.

    Attributes
    ----------
    vectors : numpy.ndarray, float32 (n, d)
        The codes of the chosen rows.
    name : str
        What the vectors are: ``"mu"`` (a VAE's codes) or ``"z"``.
    rows : numpy.ndarray, int64 (n,)
        Positions of the chosen rows in the source (sorted).
    columns : dict of str -> list
        Metadata columns in order, n values each.
    images : numpy.ndarray, uint8 (n, H, W, C), or None
        The input images of the rows (a run's split only).
    source : str
        Where the points came from, for messages.
    """

    vectors: np.ndarray
    name: str
    rows: np.ndarray
    columns: dict[str, list[Any]] = field(default_factory=dict)
    images: np.ndarray | None = None
    source: str = ""


def label_names(labels: np.ndarray, class_names: Sequence[str] | None) -> list[Any]:
    """``class_names[label]`` per label when known, else the integer label."""
    names = list(class_names or [])
    return [names[int(v)] if 0 <= int(v) < len(names) else int(v) for v in labels]


def metadata_columns(index: np.ndarray, labels: np.ndarray | None = None, class_names: Sequence[str] | None = None,
                     factors: np.ndarray | None = None, factor_names: Sequence[str] = ()) -> dict[str, list[Any]]:
    """The metadata columns of chosen rows: index, label (when labels are known), one per factor."""
    columns: dict[str, list[Any]] = {"index": [int(i) for i in index]}
    if labels is not None:
        columns["label"] = label_names(labels, class_names)
    if factors is not None:
        for j, name in enumerate(factor_names):
            column = str(name) if str(name) not in columns else f"factor:{name}"
            columns[column] = [f"{v:.6g}" for v in np.asarray(factors[:, j], dtype=np.float64)]
    return columns


def projector_points(source: str | Path, *, max_points: int = MAX_POINTS, seed: int = 0, split: str = "test",
                     epoch: int | None = None, sprite: bool = True, device: str = "auto",
                     precision: str | None = None, batch_size: int = 512) -> ProjectorPoints:
    """Choose at most ``max_points`` rows of ``source`` (seeded by ``seed``) and gather their codes and metadata.

    ``split``, ``epoch``, ``device``, ``precision`` and ``sprite`` apply to a
    run only. Raises a one-line :class:`ZspaceError` for a missing or
    unreadable source, or when TensorBoard is not installed (checked after
    the source opened, before any encoding).
    """
    if max_points < 1:
        raise ZspaceError(f"--max-points {max_points} must be >= 1")
    path = Path(source)
    kind = kind_of(path)  # the one rule of what a path is; brings back a Z directory a killed encode left aside
    if not path.exists():
        raise ZspaceError(f"{path} does not exist; give a run directory (zspace train --out), a Z file or Z directory "
                          "(zspace encode --out) or an .npy array of z")
    if kind is InputKind.RUN:
        return _run_points(path, max_points, seed, split, epoch, sprite, device, precision, batch_size)
    if kind in (InputKind.Z_FILE, InputKind.Z_DIR):
        store = load_zstore(path)
        require_tensorboard(_WHAT)
        rows = seeded_subsample(len(store.z), max_points, seed)
        chosen = ZStore(z=store.z[rows], mu=None if store.mu is None else store.mu[rows],
                        index=np.asarray(store.index[rows]),
                        labels=None if store.labels is None else np.asarray(store.labels[rows]),
                        factors=None if store.factors is None else np.asarray(store.factors[rows]),
                        factor_names=store.factor_names)
        return _points(chosen, rows, store.meta.get("class_names"), None, str(path))
    latents = load_latents(path)
    require_tensorboard(_WHAT)
    rows = seeded_subsample(latents.n_points, max_points, seed)
    chosen = ZStore(z=latents.z[rows], mu=None if latents.mu is None else latents.mu[rows], index=rows,
                    labels=None if latents.labels is None else latents.labels[rows])
    return _points(chosen, rows, None, None, latents.source)


def _points(chosen: ZStore, rows: np.ndarray, class_names: Sequence[str] | None, images: np.ndarray | None,
            source: str) -> ProjectorPoints:
    """The Projector's points of the chosen rows ``chosen`` of a source (``rows``: their positions in it).

    The vectors are :attr:`ZStore.codes <zspace.pipeline.zstore.ZStore.codes>` (a VAE's mu, an AE's z), named
    after the array they are.
    """
    codes = chosen.codes
    return ProjectorPoints(
        vectors=float32_block(codes, slice(None)), name="z" if codes is chosen.z else "mu", rows=rows,
        columns=metadata_columns(chosen.index, chosen.labels, class_names, chosen.factors, chosen.factor_names),
        images=images, source=source)


def _run_points(root: Path, max_points: int, seed: int, split: str, epoch: int | None, sprite: bool, device: str,
                precision: str | None, batch_size: int) -> ProjectorPoints:
    session = open_session(root, epoch, device, precision)  # checks the checkpoint before anything is encoded
    run = session.run
    data = run.data_split(split)
    if len(data.images) == 0:
        raise ZspaceError(f"the {split} split of {run.train_config.data} holds no images; choose another --split")
    require_tensorboard(_WHAT)
    rows = seeded_subsample(len(data.images), max_points, seed)
    images = np.asarray(data.images[rows])
    arrays = session.encode(images, batch_size, seed, desc="encoding for the projector")
    class_names = data.class_names or run.config.get("data", {}).get("class_names")
    chosen = ZStore(z=arrays["z"], mu=arrays.get("mu"), index=rows,
                    labels=None if data.labels is None else data.labels[rows],
                    factors=None if data.factors is None else data.factors[rows], factor_names=data.factor_names)
    return _points(chosen, rows, class_names, images if sprite else None, f"{root} ({split} split)")


def write_projector(points: ProjectorPoints, out: str | Path) -> list[str]:
    """Write ``points`` as a Projector layout into directory ``out`` (replaced whole); return the file names."""
    return write_projector_layout(out, points.vectors, points.name, points.columns, points.images)


__all__ = ["MAX_POINTS", "ProjectorPoints", "label_names", "metadata_columns", "projector_points", "write_projector"]
