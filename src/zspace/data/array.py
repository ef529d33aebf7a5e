"""``array:FILE.npy``: images from a saved numpy array.

The file holds (N, H, W) or (N, H, W, C) images, C 1 or 3, uint8 (0..255) or
float (0..1 or 0..255). uint8 files are memory-mapped, never copied whole.
Labels may come from a second file: ``array:X.npy,labels=Y.npy`` (N integers).
There is no official split: train/test is a seeded 90/10 split.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zspace.core import npyfiles
from zspace.core.errors import ZspaceError
from zspace.data.imageset import ImageSet, SourceRequest, seeded_split, to_uint8_images


def read_npy(path: Path, what: str) -> np.ndarray:
    """Memory-map a .npy file (no pickles, header checked first), with a one-line error naming it.

    The reading is :func:`zspace.core.npyfiles.open_npy`'s; this adds the
    words for a folder, a missing file and a file that is no .npy at all.
    """
    if path.is_dir():
        raise ZspaceError(f"{what} {path} is a folder; pass a .npy file (or use folder:{path})")
    if path.exists() and not path.is_file():
        raise ZspaceError(f"{what} {path} is not a regular file; save the array to a .npy file with numpy.save")
    try:
        with open(path, "rb") as fh:
            magic = fh.read(6)
    except FileNotFoundError:
        raise ZspaceError(f"{what} {path} does not exist; check the path") from None
    except OSError as exc:
        raise ZspaceError(f"{what} {path} is not a readable .npy file ({' '.join(str(exc).split())}); "
                          "save it with numpy.save") from None
    if magic != b"\x93NUMPY":
        raise ZspaceError(f"{what} {path} is not a .npy file (no NumPy header); save the array with numpy.save")
    try:
        return npyfiles.open_npy(path)
    except ValueError as exc:
        if "pickle" in str(exc) or "Python objects" in str(exc):
            raise ZspaceError(f"{what} {path} holds Python objects, which zspace never unpickles; "
                              "save a numeric (uint8 or float) array") from None
        raise ZspaceError(f"{what} {path} is not a readable .npy file ({exc}); save it with numpy.save") from None


def load_array(request: SourceRequest) -> ImageSet:
    """Loader for ``array:FILE.npy[,labels=FILE.npy]``."""
    path = request.existing_path("file")
    images = to_uint8_images(read_npy(path, "array file"), f"array file {path}")
    labels = None
    if "labels" in request.options:
        label_path = Path(request.options["labels"]).expanduser()
        labels = np.asarray(read_npy(label_path, "labels file"))
        if labels.ndim != 1 or len(labels) != len(images) or not np.issubdtype(labels.dtype, np.integer):
            raise ZspaceError(f"labels file {label_path} holds {labels.dtype} {labels.shape}; it needs "
                              f"{len(images)} integers, one per image in {path.name}")
        labels = labels.astype(np.int64)
    size = images.shape[1]
    if request.image_size is not None and (request.image_size != size or images.shape[2] != size):
        raise ZspaceError(f"array file {path} holds {images.shape[1]}x{images.shape[2]} images; drop the image "
                          f"size option or resize the array to {request.image_size}")
    if request.split != "all":
        index = seeded_split(len(images), request.split, request.seed)
        if request.n is not None:
            index = index[:request.n]   # read only what is kept
        images, labels = images[index], None if labels is None else labels[index]
    return ImageSet(images=images, labels=labels, factors=None, factor_names=[], class_names=None,
                    source=request.spec, split=request.split)
