"""A one-time uint8 cache of decoded image files, memory-mapped on reuse.

Layout: ``CACHE_DIR/KIND-IDENTITY/`` where IDENTITY hashes the source folder,
the image size and the channel count. It holds

* ``images.npy``: (N, S, S, C) uint8, C-contiguous, rows in the order of the
  files that decoded (a batch of sorted indices reads the file forwards);
* ``meta.json``: the source fingerprint, the kept and skipped files;
* ``split-*.npy``: optional copies of large non-contiguous splits.

The fingerprint hashes every file's relative name, size and mtime plus the
decoding settings, so any change to the source rebuilds the cache in place.
``meta.json`` is removed before a rebuild and written last, so a cache without
it (a build that was killed) is never used. It records the SHA-256 of
``images.npy`` (each split file has a ``.json`` beside it with its own), checked
once per process before the cache is used: a cache whose bytes changed is
rebuilt, with a warning. Every file goes through :func:`zspace.core.io.atomic_path`.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from zspace.core import faults
from zspace.core.checksums import IntegrityError, file_sha256, verify_files
from zspace.core.errors import ZspaceError
from zspace.core.io import atomic_path, write_json
from zspace.core.log import get_logger
from zspace.core.progress import progress
from zspace.data import imagefiles

log = get_logger(__name__)

CACHE_VERSION = 2
#: Splits up to this size are copied into memory; bigger ones get their own memory-mapped file.
IN_MEMORY_SPLIT_BYTES = 1 << 30


@dataclass
class DecodedImages:
    """The cache of one source: images of the files that decoded, in file order.

    ``kept[i]`` is the index (into the file list given to :func:`load_or_build`)
    of image row ``i``; ``skipped`` lists ``"path: reason"`` for the others.
    """

    images: np.ndarray
    kept: np.ndarray
    skipped: list[str]
    directory: Path
    fingerprint: str


def fingerprint_files(root: Path, relpaths: Sequence[str], settings: dict) -> str:
    """SHA-256 over the settings and every file's (name, size, mtime_ns), in order."""
    digest = hashlib.sha256(json.dumps({"version": CACHE_VERSION, **settings}, sort_keys=True).encode())
    for rel in relpaths:
        try:
            st = os.stat(root / rel)
            digest.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        except OSError:
            digest.update(f"{rel}\0missing\n".encode())
    return digest.hexdigest()


def cache_directory(cache_dir: Path, kind: str, root: Path, image_size: int, channels: int) -> Path:
    """``CACHE_DIR/KIND-HASH`` for one (source folder, size, channels)."""
    identity = json.dumps([str(root.resolve()), image_size, channels])
    return cache_dir / f"{kind}-{hashlib.sha256(identity.encode()).hexdigest()[:16]}"


def load_or_build(kind: str, root: Path, relpaths: Sequence[str], *, image_size: int, channels: int,
                  cache_dir: Path, settings: dict | None = None) -> DecodedImages:
    """Decoded images of ``root/relpaths``, from the cache or decoded now (all cores).

    ``settings`` are extra facts that change the result (e.g. the partition
    file's stat) and therefore belong in the fingerprint.
    """
    directory = cache_directory(cache_dir, kind, root, image_size, channels)
    all_settings = {"kind": kind, "image_size": image_size, "channels": channels, **(settings or {})}
    fingerprint = fingerprint_files(root, relpaths, all_settings)
    cached = _open_cache(directory, fingerprint)
    if cached is not None:
        return cached
    return _build_cache(directory, root, relpaths, image_size, channels, fingerprint)


#: (path, size, mtime_ns) of files whose hash was checked in this process
_verified: set[tuple[str, int, int]] = set()


def _verified_once(directory: Path, hashes: dict[str, str]) -> bool:
    """Whether the files of ``hashes`` match (hashing each file once per process); a warning when not."""
    for name, want in hashes.items():
        st = os.stat(directory / name)
        key = (str(directory / name), st.st_size, st.st_mtime_ns)
        if key in _verified:
            continue
        try:
            verify_files(directory, {name: want}, "rebuilding it")
        except IntegrityError as exc:
            log.warning(str(exc))
            return False
        _verified.add(key)
    return True


def _open_cache(directory: Path, fingerprint: str) -> DecodedImages | None:
    meta_path = directory / "meta.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if not isinstance(meta, dict) or meta.get("fingerprint") != fingerprint:
            return None
        if not _verified_once(directory, meta["files"]):
            return None
        images = np.load(directory / "images.npy", mmap_mode="r", allow_pickle=False)
        kept = np.asarray(meta["kept"], dtype=np.int64)
        skipped = [str(s) for s in meta["skipped"]]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if images.shape[0] != len(kept):
        return None
    log.info("using cached images %s (%d images)", directory, len(kept))
    return DecodedImages(images, kept, skipped, directory, fingerprint)


def _build_cache(directory: Path, root: Path, relpaths: Sequence[str], image_size: int, channels: int,
                 fingerprint: str) -> DecodedImages:
    row_shape = (image_size, image_size, channels)
    kept: list[int] = []
    skipped: list[str] = []
    started = time.perf_counter()
    paths = [str(root / rel) for rel in relpaths]
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for stale in [directory / "meta.json", *directory.glob("split-*")]:
            stale.unlink(missing_ok=True)
        with atomic_path(directory / "images.npy") as tmp, open(tmp, "wb") as out:
            header = _npy_header((len(paths), *row_shape))
            out.write(header)
            with progress(desc=f"decoding {root.name}", total=len(paths), unit="img") as bar:
                for start, images, failures in imagefiles.decode_files(paths, image_size, channels):
                    failed = {index for index, _ in failures}
                    chunk_end = min(start + imagefiles.CHUNK_SIZE, len(paths))
                    kept.extend(i for i in range(start, chunk_end) if i not in failed)
                    skipped.extend(f"{paths[i]}: {reason}" for i, reason in failures)
                    out.write(np.ascontiguousarray(images).tobytes())
                    bar.update(chunk_end - start)
                    faults.point("cache.chunk")
            # Rewrite the header with the number of images that decoded and drop the unused tail.
            final_header = _npy_header((len(kept), *row_shape))
            if len(final_header) != len(header):  # cannot happen for 4-D uint8 (both pad to 128 bytes)
                raise RuntimeError("npy header length changed")
            out.seek(0)
            out.write(final_header)
            out.truncate(len(header) + len(kept) * int(np.prod(row_shape)))
    except OSError as exc:
        raise ZspaceError(f"cannot write the image cache in {directory} ({exc.strerror or exc}); free disk space "
                          "or set ZSPACE_CACHE to a writable folder") from None
    elapsed = time.perf_counter() - started
    if not kept:
        raise ZspaceError(f"none of the {len(paths)} image files under {root} could be decoded "
                          f"(first: {skipped[0] if skipped else '?'}); check that they are images")
    write_json(directory / "meta.json", {"fingerprint": fingerprint, "root": str(root), "kept": kept,
                                         "skipped": skipped, "images_per_s": len(paths) / max(elapsed, 1e-9),
                                         "files": {"images.npy": file_sha256(directory / "images.npy")}})
    log.info("decoded %d images (%d skipped) in %.1f s (%.0f images/s) into %s",
             len(kept), len(skipped), elapsed, len(paths) / max(elapsed, 1e-9), directory)
    images = np.load(directory / "images.npy", mmap_mode="r", allow_pickle=False)
    return DecodedImages(images, np.asarray(kept, dtype=np.int64), skipped, directory, fingerprint)


def _npy_header(shape: tuple[int, ...]) -> bytes:
    import io

    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "|u1", "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def select_rows(decoded: DecodedImages, rows: np.ndarray, tag: str) -> np.ndarray:
    """``decoded.images[rows]`` (sorted rows): a view for a contiguous range, else a copy.

    Copies bigger than :data:`IN_MEMORY_SPLIT_BYTES` are written once to
    ``split-TAG.npy`` beside the cache and memory-mapped instead of held in RAM.
    """
    images = decoded.images
    if len(rows) and rows[-1] - rows[0] + 1 == len(rows):
        return images[rows[0]:rows[-1] + 1]
    row_bytes = int(np.prod(images.shape[1:]))
    if len(rows) * row_bytes <= IN_MEMORY_SPLIT_BYTES:
        return np.asarray(images[rows])
    path = decoded.directory / f"split-{tag}-{len(rows)}-{decoded.fingerprint[:12]}.npy"
    sidecar = path.with_suffix(".json")
    try:
        if _verified_once(path.parent, {path.name: json.loads(sidecar.read_text())["sha256"]}):
            split = np.load(path, mmap_mode="r", allow_pickle=False)
            if split.shape[0] == len(rows):
                return split
    except (OSError, ValueError, KeyError, TypeError):
        pass
    with atomic_path(path) as tmp:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(len(rows), *images.shape[1:]))
        step = max(1, (64 << 20) // row_bytes)
        for start in progress(range(0, len(rows), step), desc=f"writing split {tag}"):
            out[start:start + step] = images[rows[start:start + step]]
        out.flush()
        del out
    write_json(sidecar, {"sha256": file_sha256(path)})
    return np.load(path, mmap_mode="r", allow_pickle=False)
