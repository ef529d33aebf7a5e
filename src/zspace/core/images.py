"""Image arrays as pixels: float [0, 1] to uint8, and many images tiled into one (the one tiler of zspace)."""

from __future__ import annotations

import math

import numpy as np


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Float images in [0, 1] (any shape) as uint8 levels 0..255, clipped and rounded to the nearest level."""
    return (np.clip(images, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def tile(images: np.ndarray, ncols: int, nrows: int | None = None, pad: int = 0, fill: int = 255) -> np.ndarray:
    """Tile uint8 images (N, H, W, C) row by row into one uint8 (nrows*(H+pad)+pad, ncols*(W+pad)+pad, C) array.

    ``nrows`` defaults to the rows the N images need; empty cells and the
    ``pad``-pixel gutters hold ``fill``.
    """
    n, h, w, c = images.shape
    nrows = max(1, math.ceil(n / ncols)) if nrows is None else nrows
    if n > nrows * ncols:
        raise ValueError(f"{n} images do not fit in {nrows} x {ncols} cells")
    grid = np.full((nrows * (h + pad) + pad, ncols * (w + pad) + pad, c), fill, dtype=np.uint8)
    for i in range(n):
        r, col = divmod(i, ncols)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        grid[y:y + h, x:x + w] = images[i]
    return grid


__all__ = ["tile", "to_uint8"]
