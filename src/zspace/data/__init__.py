"""Image sources behind one call: ``load_images(spec, split) -> ImageSet``.

Spec grammar (the ``--data`` argument)::

    SPEC    := NAME [":" ARG] ("," KEY "=" VALUE)*
    NAME    := shapes | fashion-mnist | mnist | celeba | folder | array

=====================  ==========================================================
``shapes``             procedural shapes, 28x28 grey (default 12000 train / 2000 test)
``shapes:96``          the same at 96x96 RGB; any size works (grey below 64 px)
``shapes,hole=1``      the same with a planted hole: the training split leaves out a region of factor space
``fashion-mnist``      IDX files; $ZSPACE_DATA, /usr/share/datasets, cache, download
``mnist``              the same for MNIST
``celeba:PATH``        CelebA ``img_align_celeba`` folder (or its parent)
``folder:PATH``        any folder of jpg/png/webp/bmp, labels from sub-folder names
``array:FILE.npy``     (N,H,W) or (N,H,W,C) uint8 or float array
=====================  ==========================================================

Options every source takes: ``n=`` (cap on images after the split, same as
the ``n`` argument), ``seed=`` (split/generation seed), ``size=`` (same as
``image_size``). Source options: ``shapes``: ``train=``, ``test=`` (counts),
``channels=``, ``hole=``; ``folder``: ``channels=``; ``array``: ``labels=FILE.npy``.
Example: ``shapes:96,n=4000``, ``folder:~/pics,size=64``.

Splits: ``train``, ``test``, ``all``. IDX data and CelebA (with
``list_eval_partition.txt``; there also ``valid``) have official splits;
the others get a seeded 90/10 split (same seed, same split). ``n`` keeps the
first n images of the split, so small runs see a stable prefix.

Decoded image files (celeba, folder) are kept as a uint8 .npy cache under
``cache_dir`` ($ZSPACE_CACHE or ~/.cache/zspace), memory-mapped on reuse and
rebuilt when any file's name, size or mtime, or the image size, changes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from zspace.core.errors import ZspaceError
from zspace.core.registry import Registry
from zspace.data import array as _array
from zspace.data import celeba as _celeba
from zspace.data import folder as _folder
from zspace.data import idx as _idx
from zspace.data import shapes as _shapes
from zspace.data.imageset import SPLITS, ImageSet, SourceRequest, default_cache_dir, seeded_split

__all__ = ["ImageSet", "load_images", "SOURCES", "parse_spec", "planted_hole", "default_cache_dir", "seeded_split"]


@dataclass(frozen=True)
class Source:
    """A registered data source: its loader, whether it takes ``:ARG``, its options."""

    load: Callable[[SourceRequest], ImageSet]
    arg: str | None          # what ARG means ("PATH"), None when the source takes none
    arg_required: bool
    options: frozenset[str]
    splits: Collection[str] = field(default_factory=SPLITS.choices)   # names that ``split`` may take


COMMON_OPTIONS = frozenset({"n", "seed", "size"})

#: source name -> Source, in the order of the error message that lists them
SOURCES: Registry[Source] = Registry("data source", {
    "shapes": Source(_shapes.load_shapes, "SIZE", False, frozenset({"train", "test", "channels", "hole"})),
    "fashion-mnist": Source(_idx.load_fashion_mnist, None, False, frozenset()),
    "mnist": Source(_idx.load_mnist, None, False, frozenset()),
    "celeba": Source(_celeba.load_celeba, "PATH", True, frozenset(), SPLITS.choices("valid")),
    "folder": Source(_folder.load_folder, "PATH", True, frozenset({"channels"})),
    "array": Source(_array.load_array, "FILE.npy", True, frozenset({"labels"})),
})

_OPTION = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


def _valid_specs() -> str:
    return ", ".join(name + (f":{s.arg}" if s.arg_required else "") for name, s in SOURCES.items())


def parse_spec(spec: str) -> tuple[str, str | None, dict[str, str]]:
    """Split ``NAME[:ARG][,KEY=VALUE...]`` into (name, arg, options).

    Only trailing comma parts that look like ``key=value`` are options, so a
    path may itself contain commas.
    """
    spec = spec.strip()
    head, colon, rest = spec.partition(":")
    if colon:
        parts = rest.split(",")
    else:   # "NAME,key=value": no argument, only options
        head, comma, rest = spec.partition(",")
        parts = [""] + (rest.split(",") if comma else [])
    name = head.strip().lower()
    if name not in SOURCES:
        raise ZspaceError(f"--data {spec!r}: unknown data source {name!r}; valid: {_valid_specs()}")
    split_at = len(parts)
    while split_at > 1 and _OPTION.match(parts[split_at - 1]):
        split_at -= 1
    arg = ",".join(parts[:split_at]).strip() or None
    options: dict[str, str] = {}
    for part in parts[split_at:]:
        key, _, value = part.partition("=")
        options[key.strip().lower()] = value.strip()
    return name, arg, options


def planted_hole(spec: str, images: ImageSet) -> np.ndarray | None:
    """(N,) bool: which of ``images`` (a split of ``spec``) lie in the region of factor space that the spec's
    training split leaves out (``shapes,hole=1``: :func:`zspace.data.shapes.in_hole`); None when the spec plants
    no hole or the images carry no factors."""
    name, _, options = parse_spec(spec)
    if name != "shapes" or options.get("hole", "0").strip() != "1" or images.factors is None:
        return None
    return _shapes.in_hole(images.factors)


def load_images(spec: str, split: str = "train", *, image_size: int | None = None, seed: int = 0,
                n: int | None = None, cache_dir: str | os.PathLike | None = None) -> ImageSet:
    """Load one split of the image source named by ``spec``.

    Parameters
    ----------
    spec : str
        Source spec, see the module docstring (e.g. ``"shapes"``, ``"celeba:/data/celeba"``).
    split : {"train", "test", "all"}, default "train"
        Which part; sources without an official split use a seeded 90/10 split.
    image_size : int, optional
        Square output size for celeba (default 96) and folder (default: the
        first image's shorter side, at most 96); for shapes the size; for
        IDX and array sources only checked against the stored size.
    seed : int, default 0
        Seed of the train/test split and of the procedural set.
    n : int, optional
        Keep only the first ``n`` images of the split.
    cache_dir : path, optional
        Where decoded images and downloads are kept (default $ZSPACE_CACHE or ~/.cache/zspace).

    Returns
    -------
    ImageSet
        ``images`` of shape (N, H, W, C), uint8.
    """
    name, arg, options = parse_spec(spec)
    source = SOURCES[name]
    if arg is not None and source.arg is None:
        raise ZspaceError(f"--data {spec!r}: {name} takes no ':' argument; write just {name!r}")
    unknown = sorted(set(options) - COMMON_OPTIONS - source.options)
    if unknown:
        allowed = ", ".join(sorted(COMMON_OPTIONS | source.options))
        raise ZspaceError(f"--data {spec!r}: unknown option {unknown[0]!r} for {name}; valid options: {allowed}")
    if split not in source.splits:
        raise ZspaceError(f"split {split!r} is not valid for --data {name}; choose one of {', '.join(source.splits)}")
    request = SourceRequest(spec=spec, name=name, arg=arg, options=options, split=split,
                            image_size=image_size, seed=seed, n=n,
                            cache_dir=Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir())
    request = _merge_common_options(request)
    result = source.load(request)
    if request.n is not None and len(result) > request.n:
        result = result.take(slice(0, request.n))
    return result


def _merge_common_options(request: SourceRequest) -> SourceRequest:
    """Fold ``n=``, ``seed=``, ``size=`` from the spec into the request's fields."""
    from dataclasses import replace

    n = request.int_option("n", request.n)
    if request.n is not None and n != request.n:
        raise ZspaceError(f"--data {request.spec!r}: n={n} in the spec contradicts n={request.n}; give it once")
    size = request.int_option("size", request.image_size, minimum=4)
    if request.image_size is not None and size != request.image_size:
        raise ZspaceError(f"--data {request.spec!r}: size={size} contradicts image size {request.image_size}; "
                          "give it once")
    seed = request.int_option("seed", request.seed, minimum=0)
    if request.n is not None and request.n < 1:
        raise ZspaceError(f"n={request.n} must be at least 1; pass a positive number of images")
    if request.image_size is not None and request.image_size < 4:
        raise ZspaceError(f"image size {request.image_size} is too small; pass 4 or more")
    if seed < 0:
        raise ZspaceError(f"seed {seed} must be >= 0; pass a non-negative split seed")
    return replace(request, n=n, image_size=size, seed=seed)
