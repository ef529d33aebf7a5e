"""A procedural image set with known generating factors (no download).

Each image shows one filled shape on a black background. The factors, stored
per image in this column order, are drawn independently and uniformly:

=============  =================  ==================================================
``kind``       {0, 1, 2}          circle, square, triangle (also the label)
``x``, ``y``   [0.32, 0.68]       centre (column, row) as a fraction of the width;
                                  the centre of mass of the drawn shape
``size``       [0.10, 0.20]       radius of the circle with the same area, as a
                                  fraction of the width (area = pi * size**2)
``rotation``   [0, 1)             fraction of the shape's symmetry period (1/4 turn
                                  for squares, 1/3 for triangles; no effect on circles)
``brightness`` [0.5, 1.0]         value of the shape's colour
``hue``        [0, 1)             RGB variant only: hue of a fully saturated colour
=============  =================  ==================================================

The three kinds have equal area for equal ``size``, so size and kind are
separate factors. Edges are anti-aliased from the exact signed distance, so
pixels change smoothly with every continuous factor. Image ``i`` of a split
depends only on ``(seed, split, i)``: a smaller ``n`` gives a prefix.

A planted hole (``shapes,hole=1``): the training split leaves out every shape
with ``x`` in the middle third of its range (0.44 <= x < 0.56) and ``size`` in
the upper half of its (size >= 0.15), a sixth of factor space (:func:`in_hole`);
its images are drawn from the same stream with those rows skipped, so the
prefix rule still holds. The test split keeps everything (it is the test split
of plain ``shapes``), and ``in_hole(test.factors)`` marks the held-out region.
"""

from __future__ import annotations

import numpy as np

from zspace.core.errors import ZspaceError
from zspace.data.imageset import ImageSet, SourceRequest, require_fits_in_memory

KIND_NAMES = ["circle", "square", "triangle"]
DEFAULT_SIZE = 28
DEFAULT_TRAIN = 12000
DEFAULT_TEST = 2000
RGB_FROM_SIZE = 64          # sizes from here on default to RGB

X_RANGE = (0.32, 0.68)
SIZE_RANGE = (0.10, 0.20)
BRIGHTNESS_RANGE = (0.5, 1.0)

#: the planted hole of ``hole=1``: x in the middle third of X_RANGE, size in the upper half of SIZE_RANGE
HOLE_X = (X_RANGE[0] + (X_RANGE[1] - X_RANGE[0]) / 3, X_RANGE[0] + 2 * (X_RANGE[1] - X_RANGE[0]) / 3)
HOLE_SIZE = ((SIZE_RANGE[0] + SIZE_RANGE[1]) / 2, SIZE_RANGE[1])

_SYMMETRY = np.array([1, 4, 3])                              # rotations mapping the shape onto itself
_SQUARE_HALF_SIDE = np.sqrt(np.pi) / 2.0                     # (2h)^2 = pi s^2
_TRIANGLE_INRADIUS = np.sqrt(4 * np.pi / (3 * np.sqrt(3))) / 2.0   # circumradius R, area 3*sqrt(3)/4 R^2 = pi s^2
_TRIANGLE_NORMALS = np.stack([np.cos(np.pi / 2 + 2 * np.pi * np.arange(3) / 3),
                              np.sin(np.pi / 2 + 2 * np.pi * np.arange(3) / 3)], axis=1)   # (3, 2)
_SPLIT_STREAM = {"train": 1, "test": 2}
# Distance of the farthest point from the centre, per unit of size: circle, square corner, triangle vertex.
_EXTENT = np.array([1.0, _SQUARE_HALF_SIDE * np.sqrt(2), 2 * _TRIANGLE_INRADIUS])


def factor_names(channels: int) -> list[str]:
    """Factor column names for a grey (1) or RGB (3) set."""
    return ["kind", "x", "y", "size", "rotation", "brightness"] + (["hue"] if channels == 3 else [])


def sample_factors(count: int, channels: int, rng: np.random.Generator) -> np.ndarray:
    """(count, F) float32 factors drawn uniformly from the documented ranges."""
    # One row of uniforms per image (row-major), so the first n rows do not depend on count.
    u = rng.random((count, 7 if channels == 3 else 6))
    low = np.array([0.0, X_RANGE[0], X_RANGE[0], SIZE_RANGE[0], 0.0, BRIGHTNESS_RANGE[0], 0.0])[:u.shape[1]]
    high = np.array([3.0, X_RANGE[1], X_RANGE[1], SIZE_RANGE[1], 1.0, BRIGHTNESS_RANGE[1], 1.0])[:u.shape[1]]
    factors = low + u * (high - low)
    factors[:, 0] = np.minimum(np.floor(factors[:, 0]), 2.0)
    return factors.astype(np.float32)


def in_hole(factors: np.ndarray) -> np.ndarray:
    """(N,) bool: whether each row of shapes factors (N, F) lies in the planted hole of ``hole=1``
    (HOLE_X[0] <= x < HOLE_X[1] and size >= HOLE_SIZE[0])."""
    x, size = factors[:, 1], factors[:, 3]
    return (x >= np.float32(HOLE_X[0])) & (x < np.float32(HOLE_X[1])) & (size >= np.float32(HOLE_SIZE[0]))


def _factors_outside_hole(count: int, channels: int, rng: np.random.Generator) -> np.ndarray:
    """The first ``count`` rows of the stream of ``rng`` that lie outside the hole (N, F) float32; rows are drawn in
    chunks, and chunks of one stream concatenate to the same rows, so a smaller count gives a prefix."""
    kept, have = [], 0
    while have < count:
        chunk = sample_factors(int((count - have) * 1.25) + 16, channels, rng)
        chunk = chunk[~in_hole(chunk)]
        kept.append(chunk)
        have += len(chunk)
    return np.concatenate(kept)[:count] if kept else sample_factors(0, channels, rng)


def factor_colours(factors: np.ndarray, channels: int) -> np.ndarray:
    """(N, C) colour in [0, 1] from the brightness (and hue) columns."""
    brightness = factors[:, 5:6].astype(np.float64)
    if channels == 1:
        return brightness
    hue = factors[:, 6:7].astype(np.float64)
    # Fully saturated HSV -> RGB in closed form: each channel is a clipped triangle wave of the hue.
    rgb = np.clip(np.abs(np.mod(hue * 6.0 + np.array([0.0, 4.0, 2.0]), 6.0) - 3.0) - 1.0, 0.0, 1.0)
    return brightness * rgb


def render(factors: np.ndarray, image_size: int, channels: int, batch: int = 512) -> np.ndarray:
    """Draw the shapes described by ``factors`` (N, F) -> (N, S, S, C) uint8."""
    count = factors.shape[0]
    out = np.zeros((count, image_size, image_size, channels), dtype=np.uint8)
    if count == 0:
        return out
    colours = (factor_colours(factors, channels) * 255.0).astype(np.float32)
    kinds = factors[:, 0].astype(np.int64)
    # Only a square window around each shape is computed (about 40 % of the pixels): wide
    # enough for the farthest vertex plus the anti-aliased edge and rounding of the origin.
    extent_px = factors[:, 3] * _EXTENT[kinds] * image_size
    window = int(min(image_size, np.ceil(2 * extent_px.max() + 3)))
    origin = np.clip(np.floor(factors[:, 1:3] * image_size - window / 2), 0, image_size - window).astype(np.int64)
    offsets = np.arange(window, dtype=np.float32) + 0.5
    for start in range(0, count, batch):
        stop = min(start + batch, count)
        coverage = np.empty((stop - start, window, window), dtype=np.float32)
        for k, signed_distance in enumerate((_circle, _square, _triangle)):
            rows = np.flatnonzero(kinds[start:stop] == k)
            if len(rows):
                coverage[rows] = _coverage(factors[start + rows], origin[start + rows], k, signed_distance,
                                           offsets, image_size)
        pixels = coverage[..., None] * colours[start:stop, None, None, :]
        pixels += 0.5   # round half up; values are >= 0
        pixels = pixels.astype(np.uint8)
        for i in range(start, stop):
            x0, y0 = origin[i]
            out[i, y0:y0 + window, x0:x0 + window] = pixels[i - start]
    return out


def _coverage(f: np.ndarray, origin: np.ndarray, kind: int, signed_distance, offsets: np.ndarray,
              image_size: int) -> np.ndarray:
    """(B, W, W) float32 share of each window pixel covered by shapes of one ``kind``."""
    scale = np.float32(1.0 / image_size)
    dx = (origin[:, 0, None, None].astype(np.float32) + offsets[None, None, :]) * scale - f[:, 1, None, None]
    dy = (origin[:, 1, None, None].astype(np.float32) + offsets[None, :, None]) * scale - f[:, 2, None, None]
    angle = f[:, 4].astype(np.float64) * (2 * np.pi / _SYMMETRY[kind])
    cos = np.cos(angle).astype(np.float32)[:, None, None]
    sin = np.sin(angle).astype(np.float32)[:, None, None]
    u = cos * dx + sin * dy                                    # shape-frame coordinates, (B, W, W)
    v = cos * dy - sin * dx
    distance = signed_distance(u, v, f[:, 3, None, None])      # signed distance to the edge, width units
    distance *= -float(image_size)
    distance += 0.5
    return np.clip(distance, 0.0, 1.0, out=distance)


def _circle(u, v, size):
    return np.hypot(u, v) - size


def _square(u, v, size):
    return np.maximum(np.abs(u), np.abs(v)) - size * _SQUARE_HALF_SIDE


def _triangle(u, v, size):
    edges = [u * nx + v * ny for nx, ny in _TRIANGLE_NORMALS]
    return np.maximum(np.maximum(edges[0], edges[1]), edges[2]) - size * _TRIANGLE_INRADIUS


def make_shapes(count: int, *, image_size: int = DEFAULT_SIZE, channels: int | None = None,
                seed: int = 0, split: str = "train", hole: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``count`` images of one split and their factors: ((N, S, S, C) uint8, (N, F) float32).

    ``hole``: the training split leaves out the planted hole (:func:`in_hole`); the test split is unchanged."""
    channels = channels or (3 if image_size >= RGB_FROM_SIZE else 1)
    rng = np.random.default_rng([seed, _SPLIT_STREAM[split]])
    if hole and split == "train":
        factors = _factors_outside_hole(count, channels, rng)
    else:
        factors = sample_factors(count, channels, rng)
    return render(factors, image_size, channels), factors


def load_shapes(request: SourceRequest) -> ImageSet:
    """Loader for ``shapes[:SIZE][,train=N][,test=N][,channels=C][,hole=1]``."""
    size = DEFAULT_SIZE
    if request.arg is not None:
        try:
            size = int(request.arg)
        except ValueError:
            size = 0
        if size < 8:
            raise ZspaceError(f"--data {request.spec!r}: shapes size {request.arg!r} must be an integer >= 8, "
                              "e.g. shapes:28 or shapes:96")
        if request.image_size is not None and request.image_size != size:
            raise ZspaceError(f"--data {request.spec!r}: size {size} contradicts image size {request.image_size}; "
                              "give it once")
    elif request.image_size is not None:
        size = request.image_size
    channels = request.int_option("channels", 3 if size >= RGB_FROM_SIZE else 1)
    if channels not in (1, 3):
        raise ZspaceError(f"--data {request.spec!r}: channels={channels} must be 1 (grey) or 3 (RGB)")
    hole = request.int_option("hole", 0, minimum=0)
    if hole not in (0, 1):
        raise ZspaceError(f"--data {request.spec!r}: hole={hole} must be 0 or 1 (1: the training split leaves out "
                          "the planted hole)")
    counts = {"train": request.int_option("train", DEFAULT_TRAIN), "test": request.int_option("test", DEFAULT_TEST)}
    parts = ["train", "test"] if request.split == "all" else [request.split]
    total = sum(counts[part] if request.n is None else min(counts[part], request.n) for part in parts)
    require_fits_in_memory(total * size * size * channels, f"--data {request.spec!r}: {total} images of "
                           f"{size}x{size}x{channels}", "choose a smaller size or fewer images (n=, train=, test=)")
    images, factors = [], []
    remaining = request.n
    for part in parts:
        count = counts[part] if remaining is None else min(counts[part], remaining)
        if count <= 0:
            break
        part_images, part_factors = make_shapes(count, image_size=size, channels=channels,
                                                seed=request.seed, split=part, hole=bool(hole))
        images.append(part_images)
        factors.append(part_factors)
        if remaining is not None:
            remaining -= count
    all_factors = np.concatenate(factors)
    return ImageSet(images=np.concatenate(images), labels=all_factors[:, 0].astype(np.int64),
                    factors=all_factors, factor_names=factor_names(channels), class_names=list(KIND_NAMES),
                    source=request.spec, split=request.split)
