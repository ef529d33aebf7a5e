"""MNIST-format IDX files: reading, finding and downloading (MNIST, Fashion-MNIST).

Lookup order for a data set NAME (``mnist`` or ``fashion-mnist``); the first
directory holding both the images and the labels file of the split wins:

1. ``$ZSPACE_DATA/NAME``, then ``$ZSPACE_DATA`` itself;
2. ``/usr/share/datasets/NAME`` (Debian ``dataset-fashion-mnist``);
3. ``CACHE_DIR/NAME`` (``$ZSPACE_CACHE`` or ``~/.cache/zspace``);
4. otherwise the four files are downloaded into ``CACHE_DIR/NAME`` from the
   mirrors (``$ZSPACE_MNIST_MIRROR``: comma-separated base URLs, replaces the
   built-in list), each checked against its published checksum before it is
   renamed into place.

Each file may be gzip-compressed or raw (``...-ubyte.gz`` or ``...-ubyte``).
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zspace.core.errors import ZspaceError
from zspace.core.io import atomic_path
from zspace.core.log import get_logger
from zspace.core.npyfiles import MAX_DEFLATE_RATIO
from zspace.core.progress import progress
from zspace.data.imageset import ImageSet, SourceRequest

log = get_logger(__name__)

#: Root of system-wide data packages; a module constant so tests can point it elsewhere.
SYSTEM_DATA_DIR = Path("/usr/share/datasets")
DOWNLOAD_TIMEOUT_S = 30.0

# IDX type codes (third magic byte) -> numpy dtype; multi-byte types are big-endian.
IDX_DTYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


@dataclass(frozen=True)
class IdxDataset:
    """Where an IDX data set lives and how to verify its files."""

    name: str
    files: dict[str, tuple[str, str]]   # split -> (images file, labels file), official .gz names
    checksums: dict[str, str]           # file name -> "md5:HEX" or "sha256:HEX"
    mirrors: tuple[str, ...]
    class_names: list[str]


_SPLIT_FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
                "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}

IDX_DATASETS: dict[str, IdxDataset] = {
    "mnist": IdxDataset(
        name="mnist",
        files=_SPLIT_FILES,
        checksums={"train-images-idx3-ubyte.gz": "md5:f68b3c2dcbeaaa9fbdd348bbdeb94873",
                   "train-labels-idx1-ubyte.gz": "md5:d53e105ee54ea40749a09fcbcd1e9432",
                   "t10k-images-idx3-ubyte.gz": "md5:9fb629c4189551a2d022fa330f9573f3",
                   "t10k-labels-idx1-ubyte.gz": "md5:ec29112dd5afa0611ce80d1b7f02629c"},
        mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/",
                 "https://storage.googleapis.com/cvdf-datasets/mnist/"),
        class_names=[str(d) for d in range(10)],
    ),
    "fashion-mnist": IdxDataset(
        name="fashion-mnist",
        files=_SPLIT_FILES,
        checksums={"train-images-idx3-ubyte.gz": "md5:8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                   "train-labels-idx1-ubyte.gz": "md5:25c81989df183df01b3e8a0aad5dffbe",
                   "t10k-images-idx3-ubyte.gz": "md5:bef4ecab320f06d8554ea6380940ec79",
                   "t10k-labels-idx1-ubyte.gz": "md5:bb300cfdad3c16e7a12a480ee83cd310"},
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                 "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"),
        class_names=["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                     "Bag", "Ankle boot"],
    ),
}


# ---------------------------------------------------------------------------------------------
# Reading


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (gzip or raw) into an array of the stored dtype and shape.

    Raises :class:`ZspaceError` naming the file when the magic number, the
    header or the data length is wrong. The size the header declares is
    checked against the file size before any data are read, so a damaged
    header never allocates more than the file can hold.
    """
    path = Path(path)
    try:
        if path.exists() and not path.is_file():
            raise ZspaceError(f"IDX file {path} is not a regular file; point to the real images or labels file")
        size = path.stat().st_size
        with open(path, "rb") as fh:
            compressed = fh.read(2) == b"\x1f\x8b"
        opener = gzip.open if compressed else open
        with opener(path, "rb") as fh:
            magic = fh.read(4)
            if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in IDX_DTYPES or magic[3] == 0:
                raise ZspaceError(f"IDX file {path} has a wrong magic number {magic.hex() or '(empty)'} "
                                  "(expected 0000 TT DD); it is not an IDX file, replace it with the real one")
            ndim, dtype = magic[3], IDX_DTYPES[magic[2]]
            dims = fh.read(4 * ndim)
            if len(dims) < 4 * ndim:
                raise ZspaceError(f"IDX file {path} is truncated inside its header; delete it so that it is "
                                  "fetched again")
            shape = tuple(int(d) for d in np.frombuffer(dims, dtype=">u4"))
            expected = math.prod(shape) * dtype.itemsize
            # raw data are stored byte for byte; gzip expands at most about 1032-fold
            room = size * MAX_DEFLATE_RATIO if compressed else size - 4 - 4 * ndim
            # (a zero size makes no data, but the other sizes must still make sense to numpy)
            if expected > room or math.prod(max(d, 1) for d in shape) >= 2 ** 59:
                raise ZspaceError(f"IDX file {path} is truncated or its header is corrupt (header {shape} needs "
                                  f"{expected} data bytes, the {size}-byte file holds at most {room}); "
                                  "delete it so that it is fetched again")
            data = _read_at_most(fh, expected + 1)
    except FileNotFoundError:
        raise ZspaceError(f"IDX file {path} does not exist; check the path") from None
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise ZspaceError(f"IDX file {path} is a truncated or corrupt gzip file ({exc}); "
                          "delete it so that it is fetched again") from None
    except OSError as exc:
        raise ZspaceError(f"IDX file {path} cannot be read ({exc.strerror or exc}); check its permissions") from None
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "longer than its header says"
        raise ZspaceError(f"IDX file {path} is {what} ({len(data)}{'+' if len(data) > expected else ''} data bytes, "
                          f"header {shape} needs {expected}); delete it so that it is fetched again")
    return np.frombuffer(data, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def _read_at_most(fh, limit: int, chunk: int = 1 << 24) -> bytearray:
    """Up to ``limit`` bytes of ``fh``, read in chunks, so memory grows with the data actually there."""
    data = bytearray()
    while len(data) < limit and (part := fh.read(min(chunk, limit - len(data)))):
        data += part
    return data


def write_idx(path: str | os.PathLike, array: np.ndarray, *, compress: bool | None = None) -> Path:
    """Write ``array`` as an IDX file (gzip when ``compress`` or the name ends in .gz)."""
    path = Path(path)
    code = next((k for k, v in IDX_DTYPES.items()
                 if v.kind == array.dtype.kind and v.itemsize == array.dtype.itemsize), None)
    if code is None:
        raise ValueError(f"dtype {array.dtype} has no IDX type code")
    payload = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes() + \
        np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()
    if compress if compress is not None else path.suffix == ".gz":
        payload = gzip.compress(payload, mtime=0)
    with atomic_path(path) as tmp:
        tmp.write_bytes(payload)
    return path


# ---------------------------------------------------------------------------------------------
# Finding and downloading


def candidate_dirs(dataset: IdxDataset, cache_dir: Path) -> list[Path]:
    """Directories searched, in order (see the module docstring)."""
    dirs = []
    if os.environ.get("ZSPACE_DATA"):
        root = Path(os.environ["ZSPACE_DATA"]).expanduser()
        dirs += [root / dataset.name, root]
    dirs += [SYSTEM_DATA_DIR / dataset.name, cache_dir / dataset.name]
    return dirs


def _find_file(directory: Path, gz_name: str) -> Path | None:
    for name in (gz_name, gz_name[:-3]):
        if (directory / name).is_file():
            return directory / name
    return None


def find_split_files(dataset: IdxDataset, split: str, cache_dir: Path) -> tuple[Path, Path] | None:
    """(images, labels) paths of ``split`` from the first directory holding both."""
    for directory in candidate_dirs(dataset, cache_dir):
        found = [_find_file(directory, name) for name in dataset.files[split]]
        if all(found):
            return found[0], found[1]
    return None


def mirrors(dataset: IdxDataset) -> list[str]:
    """Base URLs to try: $ZSPACE_MNIST_MIRROR (comma-separated) or the built-in list."""
    override = os.environ.get("ZSPACE_MNIST_MIRROR", "").strip()
    bases = [b.strip() for b in override.split(",") if b.strip()] if override else list(dataset.mirrors)
    return [b if b.endswith("/") else b + "/" for b in bases]


def download_file(url: str, target: Path, checksum: str) -> Path:
    """Fetch ``url`` to ``target``, verifying ``checksum`` ("md5:HEX" / "sha256:HEX").

    The file only appears under ``target`` once complete and verified; on any
    failure nothing is left behind. Raises :class:`ZspaceError` on a checksum
    mismatch, ``OSError`` on network errors.
    """
    algorithm, _, expected = checksum.partition(":")
    digest = hashlib.new(algorithm)
    with atomic_path(target) as tmp:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response, open(tmp, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with progress(desc=f"download {target.name}", total=total, unit="B") as bar:
                while chunk := response.read(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
                    bar.update(len(chunk))
        if digest.hexdigest() != expected.lower():
            raise ZspaceError(f"download of {url} failed its {algorithm} check (got {digest.hexdigest()}, "
                              f"expected {expected}); the mirror is broken, set ZSPACE_MNIST_MIRROR to another one")
    return target


def download_dataset(dataset: IdxDataset, cache_dir: Path) -> Path:
    """Download all files of ``dataset`` into ``cache_dir/NAME``; return that directory."""
    directory = cache_dir / dataset.name
    for split_files in dataset.files.values():
        for name in split_files:
            if _find_file(directory, name):
                continue
            errors = []
            for base in mirrors(dataset):
                try:
                    log.info("downloading %s from %s", name, base)
                    download_file(base + name, directory / name, dataset.checksums[name])
                    break
                except ZspaceError as exc:
                    errors.append(str(exc))
                except (OSError, urllib.error.URLError, ValueError) as exc:
                    errors.append(f"{base + name}: {getattr(exc, 'reason', exc)}")
            else:
                dirs = ", ".join(str(d) for d in candidate_dirs(dataset, cache_dir))
                raise ZspaceError(f"{dataset.name}: {name} is in none of {dirs} and could not be downloaded "
                                  f"({errors[-1] if errors else 'no mirrors'}); put the IDX files into "
                                  f"$ZSPACE_DATA/{dataset.name}"
                                  + (" or apt-get install dataset-fashion-mnist" if dataset.name == "fashion-mnist"
                                     else ""))
    return directory


# ---------------------------------------------------------------------------------------------
# Loader


def load_idx_dataset(dataset: IdxDataset, request: SourceRequest) -> ImageSet:
    """Images and labels of ``request.split`` ("all" = train then test)."""
    parts = ["train", "test"] if request.split == "all" else [request.split]
    images, labels = [], []
    for part in parts:
        found = find_split_files(dataset, part, request.cache_dir)
        if found is None:
            download_dataset(dataset, request.cache_dir)
            found = find_split_files(dataset, part, request.cache_dir)
            assert found is not None
        image_path, label_path = found
        part_images, part_labels = read_idx(image_path), read_idx(label_path)
        if part_images.ndim != 3 or part_images.dtype != np.uint8 or 0 in part_images.shape:
            raise ZspaceError(f"IDX file {image_path} holds {part_images.dtype} {part_images.shape}, not uint8 "
                              "(N, H, W) images; replace it with the real images file")
        if part_labels.ndim != 1 or len(part_labels) != len(part_images) or \
                not np.issubdtype(part_labels.dtype, np.integer):
            raise ZspaceError(f"IDX file {label_path} holds {part_labels.shape} labels for {len(part_images)} "
                              f"images in {image_path.name}; use the labels file that belongs to it")
        images.append(part_images[..., None])
        labels.append(part_labels.astype(np.int64))
    result = np.concatenate(images) if len(images) > 1 else images[0]
    height, width = result.shape[1:3]
    if request.image_size is not None and request.image_size != height:
        raise ZspaceError(f"--data {request.spec!r}: images are {height}x{width}; drop the image size option "
                          f"or set it to {height}")
    return ImageSet(images=result, labels=np.concatenate(labels), factors=None, factor_names=[],
                    class_names=list(dataset.class_names), source=request.spec, split=request.split)


def load_mnist(request: SourceRequest) -> ImageSet:
    """Loader for ``mnist``."""
    return load_idx_dataset(IDX_DATASETS["mnist"], request)


def load_fashion_mnist(request: SourceRequest) -> ImageSet:
    """Loader for ``fashion-mnist``."""
    return load_idx_dataset(IDX_DATASETS["fashion-mnist"], request)


def is_available(name: str, cache_dir: str | os.PathLike | None = None) -> bool:
    """Whether IDX data set ``name`` ("mnist", "fashion-mnist") is on disk (train and test), without downloading."""
    from zspace.data.imageset import default_cache_dir

    dataset = IDX_DATASETS[name]
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    return all(find_split_files(dataset, split, cache) for split in ("train", "test"))
