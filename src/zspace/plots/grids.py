"""Image grids: arrays of images in, one PNG out (Pillow, no matplotlib needed)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image

from zspace.core import images as core_images
from zspace.core import io


def tile(images: np.ndarray, ncols: int | None = None, pad: int = 1) -> np.ndarray:
    """Tile images (N, H, W, C) in [0, 1] into one uint8 array, ceil(sqrt(N)) columns unless ``ncols``.

    Empty cells and ``pad``-pixel gutters are white.
    """
    return core_images.tile(core_images.to_uint8(images), ncols or math.ceil(math.sqrt(len(images))), pad=pad)


def save_png(array: np.ndarray, path: str | Path, scale: int = 1) -> Path:
    """Write a uint8 (H, W, C) array as PNG atomically, optionally enlarged by ``scale``."""
    img = Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    with io.atomic_path(path) as tmp:
        img.save(tmp, format="PNG")
    return Path(path)


def save_grid(images: np.ndarray, path: str | Path, ncols: int | None = None) -> Path:
    """Tile ``images`` (N, H, W, C) in [0, 1] and save as PNG; small images are enlarged."""
    scale = max(1, 96 // images.shape[1])
    return save_png(tile(images, ncols), path, scale)


def save_reconstruction_grid(originals: np.ndarray, reconstructions: np.ndarray, path: str | Path,
                             ncols: int = 8) -> Path:
    """Rows of originals, each directly above the row of its reconstructions."""
    rows = []
    for start in range(0, len(originals), ncols):
        block = [originals[start:start + ncols], reconstructions[start:start + ncols]]
        fill = ncols - len(block[0])
        if fill:
            blank = np.ones((fill, *originals.shape[1:]), dtype=originals.dtype)
            block = [np.concatenate([b, blank]) for b in block]
        rows.extend(block)
    return save_grid(np.concatenate(rows), path, ncols)
