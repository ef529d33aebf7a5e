"""The files of TensorBoard's Embedding Projector: a flat directory ``tensorboard --logdir DIR`` opens.

:func:`write_projector_layout` writes ``tensors.tsv`` (one point per line,
float32 written with 9 significant digits, which reads back exactly),
``metadata.tsv`` (a header line when there is more than one column),
``sprite.png`` (optional) and ``projector_config.pbtxt`` (TensorBoard's
``ProjectorConfig`` in protobuf text format, paths relative to it).
Everything goes through :mod:`zspace.core.io` into a temporary directory
renamed into place. TensorBoard (the optional extra) is imported inside the
writer only; check it first with
:func:`zspace.pipeline.tensorboard.require_tensorboard`. Which points, codes
and metadata go in is :mod:`zspace.exports.projector`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from zspace.core import io
from zspace.core.errors import ZspaceError
from zspace.core.images import tile

#: the largest side of a sprite image the Projector loads (a WebGL texture), in pixels
SPRITE_MAX_SIDE = 8192
#: the files of a projector layout (a directory holding anything else is never replaced)
PROJECTOR_FILES = ("tensors.tsv", "metadata.tsv", "sprite.png", "projector_config.pbtxt")


def check_projector_out(out: str | Path, force: bool) -> None:
    """Refuse an ``out`` that holds something, unless ``force`` and it is an earlier projector layout.

    An empty directory is fine. A one-line :class:`ZspaceError` names the fix.
    """
    out = Path(out)
    if not out.exists() and not out.is_symlink():
        return
    if out.is_dir() and not out.is_symlink():
        held = sorted(child.name for child in out.iterdir())
        if not held:
            return
        if not force:
            raise ZspaceError(f"--out {out} already exists and is not empty; choose another --out or pass --force "
                              f"to replace it")
        others = [name for name in held if name not in PROJECTOR_FILES]
        if others:
            shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
            raise ZspaceError(f"--out {out} holds files that are not part of a projector layout ({shown}); "
                              f"--force replaces only projector layouts: choose a new --out")
        return
    raise ZspaceError(f"--out {out} exists and is not a directory; choose another --out")


def sprite_image(images: np.ndarray, max_side: int = SPRITE_MAX_SIDE) -> tuple[np.ndarray, tuple[int, int]]:
    """The Projector's sprite of uint8 images (N, H, W, C): a square of ceil(sqrt(N)) x ceil(sqrt(N)) thumbnails.

    Thumbnails are the images themselves, or shrunk (Pillow, box filter,
    aspect kept) when the sprite would be larger than ``max_side`` pixels
    on a side. Returns (sprite uint8 (S*h, S*w, C), (w, h) of one thumbnail).
    """
    from PIL import Image

    n, h, w, c = images.shape
    per_side = max(1, math.ceil(math.sqrt(n)))
    scale = min(1.0, (max_side // per_side) / max(h, w))
    if scale < 1.0:
        th, tw = max(1, int(h * scale)), max(1, int(w * scale))
        small = np.empty((n, th, tw, c), dtype=np.uint8)
        for i in range(n):
            img = Image.fromarray(images[i, ..., 0] if c == 1 else images[i])
            small[i] = np.asarray(img.resize((tw, th), Image.BOX)).reshape(th, tw, c)
        images, h, w = small, th, tw
    return tile(images, ncols=per_side, nrows=per_side, pad=0, fill=0), (w, h)


def _tsv_cell(value: Any) -> str:
    # a tab or a line break inside a value would shift the columns or the rows
    return " ".join(str(value).split()) or "-"


def metadata_tsv(columns: dict[str, Sequence[Any]]) -> str:
    """The text of metadata.tsv: one line per point; a header line of the column names when there are several."""
    names = list(columns)
    rows = zip(*(columns[name] for name in names))
    lines = ["\t".join(_tsv_cell(v) for v in row) for row in rows]
    if len(names) > 1:
        lines.insert(0, "\t".join(_tsv_cell(name) for name in names))
    return "\n".join(lines) + "\n"


def write_projector_layout(out: str | Path, vectors: np.ndarray, name: str, columns: dict[str, Sequence[Any]],
                           images: np.ndarray | None = None) -> list[str]:
    """Write the Projector layout of ``vectors`` (N, d) into directory ``out``, all files appearing at once.

    ``columns``: metadata column name -> N values (none: no metadata.tsv).
    ``images``: uint8 (N, H, W, C) thumbnails for the sprite, or None. An
    existing ``out`` is replaced (check it first with :func:`check_projector_out`).
    Returns the names of the files written.
    """
    from google.protobuf import text_format
    from PIL import Image
    from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

    out = Path(out)
    vectors = np.asarray(vectors, dtype=np.float32)
    n = len(vectors)
    if any(len(values) != n for values in columns.values()) or (images is not None and len(images) != n):
        raise ValueError(f"metadata columns and images must have the {n} rows of the vectors")
    config = ProjectorConfig()
    embedding = config.embeddings.add()
    embedding.tensor_name = name
    embedding.tensor_path = "tensors.tsv"
    embedding.tensor_shape.extend([n, int(vectors.shape[1])])
    written = ["tensors.tsv"]
    io.remove_stale_temporaries(out)
    with io.atomic_dir(out) as tmp:
        with io.atomic_path(tmp / "tensors.tsv") as path:
            np.savetxt(path, vectors, fmt="%.9g", delimiter="\t")
        if columns:
            io.write_text(tmp / "metadata.tsv", metadata_tsv(columns))
            embedding.metadata_path = "metadata.tsv"
            written.append("metadata.tsv")
        if images is not None:
            sprite, (w, h) = sprite_image(images)
            with io.atomic_path(tmp / "sprite.png") as path:
                Image.fromarray(sprite[..., 0] if sprite.shape[-1] == 1 else sprite).save(path, format="PNG")
            embedding.sprite.image_path = "sprite.png"
            embedding.sprite.single_image_dim.extend([w, h])
            written.append("sprite.png")
        io.write_text(tmp / "projector_config.pbtxt", text_format.MessageToString(config))
        written.append("projector_config.pbtxt")
    return written


__all__ = ["SPRITE_MAX_SIDE", "PROJECTOR_FILES", "check_projector_out", "sprite_image", "metadata_tsv",
           "write_projector_layout"]
