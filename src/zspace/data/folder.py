"""``folder:PATH``: any folder of images, searched recursively.

Files ending in .jpg, .jpeg, .png, .webp or .bmp (any case) are used; other
files and hidden ones are ignored. When every image lies in a sub-folder, the
first sub-folder level names the class (``cats/x.png`` -> label of "cats",
classes sorted by name); otherwise there are no labels.

Defaults chosen here: ``image_size`` is the shorter side of the first readable
image, capped at 96, so a folder of 28x28 digits stays 28x28 and a folder of
photos becomes 96x96; ``channels`` (option ``channels=1|3``) is 1 when that
first image is grey, else 3 (grey images are expanded, colour ones converted).
The split is a seeded 90/10 split over the images that decoded.
"""

from __future__ import annotations

import numpy as np

from zspace.core.errors import ZspaceError
from zspace.data import cache, imagefiles
from zspace.data.imageset import ImageSet, SourceRequest, seeded_split


def load_folder(request: SourceRequest) -> ImageSet:
    """Loader for ``folder:PATH[,channels=C]``."""
    root = request.existing_path("folder").resolve()
    if not root.is_dir():
        hint = f"array:{root}" if root.suffix == ".npy" else f"folder:{root.parent}"
        raise ZspaceError(f"--data {request.spec!r}: {root} is a file, not a folder; use {hint}")
    relpaths, other_files = imagefiles.list_image_files(root, recursive=True)
    if not relpaths:
        raise ZspaceError(f"folder {root} holds no images ({other_files} other files; looked for "
                          f"{', '.join(imagefiles.IMAGE_EXTENSIONS)}); point --data folder: at a folder of images")
    image_size, channels = _default_shape(request, root, relpaths)
    imagefiles.require_decode_memory(len(relpaths), image_size, channels, f"folder {root}")
    decoded = cache.load_or_build("folder", root, relpaths, image_size=image_size, channels=channels,
                                  cache_dir=request.cache_dir)
    labels, class_names = _folder_labels([relpaths[i] for i in decoded.kept])
    rows = seeded_split(len(decoded.kept), request.split, request.seed)
    if request.n is not None:
        rows = rows[:request.n]
    return ImageSet(images=cache.select_rows(decoded, rows, f"{request.split}-{request.seed}"),
                    labels=None if labels is None else labels[rows], factors=None, factor_names=[],
                    class_names=class_names, source=request.spec, split=request.split,
                    skipped=list(decoded.skipped))


def _default_shape(request: SourceRequest, root, relpaths: list[str]) -> tuple[int, int]:
    """(image_size, channels): from the request, else from the first readable image."""
    channels = request.int_option("channels", None)
    if channels is not None and channels not in (1, 3):
        raise ZspaceError(f"--data {request.spec!r}: channels={channels} must be 1 (grey) or 3 (RGB)")
    if request.image_size is not None and channels is not None:
        return request.image_size, channels
    probe = next((p for p in (imagefiles.probe_image(root / rel) for rel in relpaths[:1000]) if p), None)
    if probe is None:
        raise ZspaceError(f"folder {root}: none of the first {min(len(relpaths), 1000)} image files can be read; "
                          "check that they are valid images")
    width, height, probe_channels = probe
    size = request.image_size or min(width, height, imagefiles.MAX_DEFAULT_SIZE)
    return size, channels or probe_channels


def _folder_labels(relpaths: list[str]) -> tuple[np.ndarray | None, list[str] | None]:
    """Labels from the first path component when every file lies in a sub-folder."""
    if not relpaths or any("/" not in rel for rel in relpaths):
        return None, None
    tops = [rel.split("/", 1)[0] for rel in relpaths]
    class_names = sorted(set(tops))
    index = {name: i for i, name in enumerate(class_names)}
    return np.array([index[t] for t in tops], dtype=np.int64), class_names
