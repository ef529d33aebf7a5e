"""``celeba:PATH``: CelebA's aligned faces (``img_align_celeba``, 178x218 JPEGs).

PATH is the ``img_align_celeba`` folder or the folder holding it. The
official split file ``list_eval_partition.txt`` (``NAME 0|1|2`` per line:
train, valid, test) is looked for beside the images, in PATH's parent and in
its ``Eval/`` folder; with it the splits are ``train`` (0), ``valid`` (1),
``test`` (2) and ``all``, and images listed in it are cached grouped by
partition so every split is one contiguous slice of the memory map. Images
not listed are skipped (reported). Without it, a seeded 90/10 split is used.

When ``list_attr_celeba.txt`` is found (same places, or ``Anno/``), its 40
binary attributes become ``factors`` (0/1 floats) named by ``factor_names``.

Images are centre-cropped to a square and resized to ``image_size``
(default 96), decoded once on all cores into the uint8 cache.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zspace.core.errors import ZspaceError
from zspace.core.log import get_logger
from zspace.data import cache, imagefiles
from zspace.data.imageset import ImageSet, SourceRequest, seeded_split

log = get_logger(__name__)

DEFAULT_IMAGE_SIZE = 96
PARTITION_FILE = "list_eval_partition.txt"
ATTRIBUTE_FILE = "list_attr_celeba.txt"
PARTITIONS = {"train": 0, "valid": 1, "test": 2}


def find_layout(path: Path) -> tuple[Path, Path | None, Path | None]:
    """(image folder, partition file or None, attribute file or None) for a CelebA PATH."""
    images = path / "img_align_celeba" if (path / "img_align_celeba").is_dir() else path
    places = [images, images.parent, images.parent / "Eval", images.parent / "Anno"]
    partition = next((p / PARTITION_FILE for p in places if (p / PARTITION_FILE).is_file()), None)
    attributes = next((p / ATTRIBUTE_FILE for p in places if (p / ATTRIBUTE_FILE).is_file()), None)
    return images, partition, attributes


def read_partition(path: Path) -> dict[str, int]:
    """``{file name: partition}`` from list_eval_partition.txt."""
    result = {}
    for number, line in enumerate(_read_lines(path), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
            raise ZspaceError(f"{path} line {number} is {line.strip()!r}, not 'NAME 0|1|2'; "
                              "restore the original file or delete it to use a seeded split")
        result[parts[0]] = int(parts[1])
    return result


def read_attributes(path: Path) -> tuple[list[str], dict[str, np.ndarray]]:
    """(attribute names, ``{file name: 0/1 float32 vector}``) from list_attr_celeba.txt."""
    lines = _read_lines(path)
    if len(lines) < 2:
        raise ZspaceError(f"{path} is too short to be a CelebA attribute file; restore it or delete it")
    names = lines[1].split()
    table = {}
    for number, line in enumerate(lines[2:], start=3):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != len(names) + 1:
            raise ZspaceError(f"{path} line {number} has {len(parts) - 1} values for {len(names)} attributes; "
                              "restore the original file or delete it")
        try:
            values = np.asarray(parts[1:], dtype=np.float32)
        except ValueError:
            raise ZspaceError(f"{path} line {number} holds a value that is not a number (attributes are 1 or -1); "
                              "restore the original file or delete it") from None
        table[parts[0]] = (values > 0).astype(np.float32)
    return names, table


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise ZspaceError(f"{path} cannot be read ({exc.strerror or exc}); check its permissions") from None


def load_celeba(request: SourceRequest) -> ImageSet:
    """Loader for ``celeba:PATH``."""
    image_dir, partition_path, attribute_path = find_layout(request.existing_path("folder").resolve())
    if not image_dir.is_dir():
        raise ZspaceError(f"--data {request.spec!r}: {image_dir} is not a folder; pass the img_align_celeba folder")
    names, other_files = imagefiles.list_image_files(image_dir, recursive=False)
    if not names:
        raise ZspaceError(f"CelebA folder {image_dir} holds no images ({other_files} other files); "
                          "pass the img_align_celeba folder of 178x218 JPEGs")
    skipped: list[str] = []
    settings: dict = {}
    partition = None
    if partition_path is not None:
        table = read_partition(partition_path)
        skipped = [f"{image_dir / n}: not listed in {partition_path}" for n in names if n not in table]
        names = sorted((n for n in names if n in table), key=lambda n: (table[n], n))
        if not names:
            raise ZspaceError(f"none of the images in {image_dir} is listed in {partition_path}; "
                              "use the partition file that belongs to these images, or delete it")
        stat = partition_path.stat()
        settings = {"partition": [str(partition_path), stat.st_size, stat.st_mtime_ns]}
    else:
        log.info("no %s near %s: using a seeded 90/10 split", PARTITION_FILE, image_dir)
    image_size = request.image_size or DEFAULT_IMAGE_SIZE
    imagefiles.require_decode_memory(len(names), image_size, 3, f"CelebA folder {image_dir}")
    decoded = cache.load_or_build("celeba", image_dir, names, image_size=image_size, channels=3,
                                  cache_dir=request.cache_dir, settings=settings)
    kept_names = [names[i] for i in decoded.kept]
    if partition_path is not None:
        partition = np.array([table[n] for n in kept_names], dtype=np.int64)
        rows = np.arange(len(kept_names)) if request.split == "all" else \
            np.flatnonzero(partition == PARTITIONS[request.split])
    else:
        if request.split == "valid":
            raise ZspaceError(f"split 'valid' needs {PARTITION_FILE} beside {image_dir}; use train or test")
        rows = seeded_split(len(kept_names), request.split, request.seed)
    if request.n is not None:
        rows = rows[:request.n]
    factors, factor_names = _attributes(attribute_path, [kept_names[i] for i in rows])
    return ImageSet(images=cache.select_rows(decoded, rows, f"{request.split}-{request.seed}"), labels=None,
                    factors=factors, factor_names=factor_names, class_names=None, source=request.spec,
                    split=request.split, skipped=skipped + decoded.skipped)


def _attributes(path: Path | None, names: list[str]) -> tuple[np.ndarray | None, list[str]]:
    if path is None:
        return None, []
    attribute_names, table = read_attributes(path)
    missing = [n for n in names if n not in table]
    if missing:
        log.warning("%s lacks %d of the images (e.g. %s); attributes not used", path, len(missing), missing[0])
        return None, []
    return np.stack([table[n] for n in names]) if names else np.zeros((0, len(attribute_names)), np.float32), \
        attribute_names
