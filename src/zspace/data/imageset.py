"""The one data type every source returns, and the helpers all sources share.

A source loader takes a :class:`SourceRequest` (the parsed ``--data`` spec plus
the keyword arguments of :func:`zspace.data.load_images`) and returns an
:class:`ImageSet`. Splitting, capping and option checks live here so that the
loaders do not repeat them.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from zspace.core.errors import ZspaceError
from zspace.core.registry import Registry

#: Share of images that goes to the test split for sources without an official split.
TEST_FRACTION = 0.1

#: split name -> what it holds (every source has these; a source may add its own, as CelebA's "valid")
SPLITS: Registry[str] = Registry("split", {"train": "the training part", "test": "the held-out part",
                                           "all": "train and test together"})


@dataclass
class ImageSet:
    """Images with optional labels and generating factors.

    Attributes
    ----------
    images : ndarray of shape (N, H, W, C), uint8, C in {1, 3}
        Pixel values 0..255. May be a read-only ``np.memmap`` into the cache.
    labels : ndarray of shape (N,), int64, or None
        Class label per image (IDX labels, folder names, shape kind).
    factors : ndarray of shape (N, F), float32, or None
        Generating factors (``shapes``) or attributes (CelebA), one row per image.
    factor_names : list of str, length F
        Names of the factor columns; ``[]`` when there are none.
    class_names : list of str or None
        ``class_names[label]`` is the name of a label value, when known.
    source : str
        The spec string the set was loaded from.
    split : str
        ``"train"``, ``"test"``, ``"all"`` (CelebA also ``"valid"``).
    skipped : list of str
        ``"path: reason"`` for every file that could not be read.
    """

    images: np.ndarray
    labels: np.ndarray | None
    factors: np.ndarray | None
    factor_names: list[str]
    class_names: list[str] | None
    source: str
    split: str
    skipped: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(H, W, C) of one image."""
        return tuple(int(s) for s in self.images.shape[1:])  # type: ignore[return-value]

    def take(self, index: slice | np.ndarray) -> "ImageSet":
        """The same set restricted to ``index`` (a slice keeps memmaps as views)."""
        return ImageSet(
            images=self.images[index],
            labels=None if self.labels is None else self.labels[index],
            factors=None if self.factors is None else self.factors[index],
            factor_names=list(self.factor_names),
            class_names=self.class_names,
            source=self.source,
            split=self.split,
            skipped=list(self.skipped),
        )


@dataclass(frozen=True)
class SourceRequest:
    """Everything a loader needs: the parsed spec and the caller's arguments.

    ``arg`` is the part after ``NAME:`` (a path or a size), ``options`` the
    ``key=value`` pairs after it, already checked against the source's list.
    """

    spec: str
    name: str
    arg: str | None
    options: dict[str, str]
    split: str
    image_size: int | None
    seed: int
    n: int | None
    cache_dir: Path

    def int_option(self, key: str, default: int | None, *, minimum: int = 1) -> int | None:
        """Option ``key`` as an int >= ``minimum`` (``default`` when absent)."""
        raw = self.options.get(key)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise ZspaceError(f"--data {self.spec!r}: option {key}={raw!r} must be an integer >= {minimum}")
        return value

    def require_arg(self, what: str) -> str:
        """The ``NAME:ARG`` argument, or an error saying what to write."""
        if not self.arg:
            raise ZspaceError(f"--data {self.spec!r} needs {what}: write {self.name}:{what.upper().replace(' ', '_')}")
        return self.arg

    def existing_path(self, what: str) -> Path:
        """The argument as a path that exists, or a one-line error naming it."""
        path = Path(os.path.expanduser(self.require_arg(what)))
        if not path.exists():
            raise ZspaceError(f"--data {self.spec!r}: {what} {path} does not exist; check the path")
        return path


def default_cache_dir() -> Path:
    """$ZSPACE_CACHE, else $XDG_CACHE_HOME/zspace, else ~/.cache/zspace."""
    if os.environ.get("ZSPACE_CACHE"):
        return Path(os.environ["ZSPACE_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "zspace"


def require_fits_in_memory(n_bytes: int, what: str, fix: str) -> None:
    """Raise ZspaceError when ``what`` (``n_bytes`` of it) cannot fit in this machine's memory.

    Checked before a large array is allocated, so that an absurd size is a
    one-line error instead of a MemoryError. No check where the OS does not
    report its memory (no ``os.sysconf``).
    """
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return
    if n_bytes > memory:
        raise ZspaceError(f"{what} need {n_bytes / 2**30:.3g} GiB, more than this machine's "
                          f"{memory / 2**30:.3g} GiB of memory; {fix}")


def require_images_fit(n: int, shape, option: str) -> None:
    """Raise ZspaceError when ``n`` float32 images of ``shape`` (H, W, C) cannot fit in this machine's memory.

    ``option`` names the count in the message and the fix (``--n`` on the command line, ``n`` in Python).
    """
    require_fits_in_memory(n * 4 * math.prod(shape), f"{option} {n}: {n} float32 images of "
                           f"{'x'.join(map(str, shape))}", f"lower {option}")


def seeded_split(n_total: int, split: str, seed: int, test_fraction: float = TEST_FRACTION) -> np.ndarray:
    """Sorted indices of ``split`` in a seeded train/test split of ``n_total`` items.

    The same ``(n_total, seed)`` always gives the same split; train and test
    are disjoint and together cover ``range(n_total)``. Indices are sorted so
    that reading them from a memmap walks the file forwards.
    """
    if split == "all":
        return np.arange(n_total)
    n_test = int(round(n_total * test_fraction)) if n_total >= 2 else 0
    n_test = max(n_test, 1) if n_total >= 2 else 0
    order = np.random.default_rng([seed, 0x5E1D]).permutation(n_total)
    chosen = order[:n_test] if split == "test" else order[n_test:]
    return np.sort(chosen)


def to_uint8_images(array: np.ndarray, what: str) -> np.ndarray:
    """(N, H, W) or (N, H, W, C) uint8/float array -> (N, H, W, C) uint8, C in {1, 3}.

    Floats in [0, 1] are scaled by 255; floats in [0, 255] are rounded. A uint8
    input is returned as a view (a memmap stays a memmap).
    """
    if array.ndim == 3:
        array = array[..., None]
    if array.ndim != 4 or array.shape[-1] not in (1, 3):
        raise ZspaceError(f"{what}: shape {tuple(array.shape)} is not (N, H, W) or (N, H, W, C) with C 1 or 3; "
                          "save the images in one of those layouts")
    if array.shape[0] == 0:
        raise ZspaceError(f"{what}: holds no images (N = 0); pass a non-empty array")
    if array.shape[1] == 0 or array.shape[2] == 0:
        raise ZspaceError(f"{what}: images of {array.shape[1]}x{array.shape[2]} pixels hold nothing; "
                          "save images of at least 1x1 pixels")
    if array.dtype == np.uint8:
        return array
    if not np.issubdtype(array.dtype, np.floating):
        raise ZspaceError(f"{what}: dtype {array.dtype} is not supported; save uint8 (0..255) or float (0..1) images")
    array = np.asarray(array, dtype=np.float32)
    if not np.isfinite(array).all():
        raise ZspaceError(f"{what}: contains NaN or infinite values; clean the array before using it")
    low, high = float(array.min()), float(array.max())
    if low < 0.0 or high > 255.0:
        raise ZspaceError(f"{what}: float values span [{low:g}, {high:g}]; scale them to [0, 1] or [0, 255]")
    scale = 255.0 if high <= 1.0 else 1.0
    return np.clip(np.rint(array * scale), 0, 255).astype(np.uint8)
