"""A one-time uint8 cache of decoded image files, memory-mapped on reuse.

Layout: ``CACHE_DIR/KIND-IDENTITY/`` where IDENTITY hashes the source folder,
the image size and the channel count. It holds

* ``images.npy``: (N, S, S, C) uint8, C-contiguous, rows in the order of the
  files that decoded (a batch of sorted indices reads the file forwards);
* ``meta.json``: the source fingerprint, the kept and skipped files, the
  SHA-256 of ``images.npy`` and its stat (see below);
* ``split-*.npy``: optional copies of large non-contiguous splits, each with a
  ``.json`` beside it holding its SHA-256 and stat.

The fingerprint hashes every file's relative name, size and mtime plus the
decoding settings, so any change to the source rebuilds the cache in place.
``meta.json`` is removed before a rebuild and written last, so a cache without
it (a build that was killed) is never used. Every file goes through
:func:`zspace.core.io.atomic_path`: a rebuilt ``images.npy`` is written under a
temporary name and renamed over the old one, so a process that already
memory-maps the old file keeps reading the old inode, whole (on a local file
system; on NFS only for processes of the same client, whose kernel keeps a
replaced open file as ``.nfsXXXX``).

**One builder at a time.** Many processes may start on one cold cache at once
(the ranks of a torchrun / srun job, several per machine, before or without a
process group). :func:`load_or_build` first tries the cache without a lock;
when it is missing or not trusted, it takes an exclusive lock on
``CACHE_DIR/KIND-IDENTITY/build.lock``, looks again (another process may have
built it meanwhile) and only then decodes. The lock file may live inside the
cache directory because a rebuild replaces the files in it, never the
directory itself, and never touches ``build.lock`` (and ``CACHE_DIR`` keeps
one entry per cache). The others wait (one log line says so) and then open what the
builder wrote. Writing a ``split-*.npy`` takes the same lock. The lock is
``filelock.FileLock`` (``flock``): the kernel releases it when its holder
dies, so a killed build never leaves a lock behind, and it works across
machines that share the file system where ``flock`` reaches the server (NFSv4,
or NFSv3 with a working lock daemon). Some NFS mounts do not (``nolock``,
``local_lock=all``): there the lock excludes only the processes of one machine,
and two machines may both build, each renaming its own complete file into
place (never a torn file, but double work, and a process on the other machine
mapping the replaced file may then fail with ESTALE/SIGBUS). ``SoftFileLock``
(a marker file) would work there but stays behind when its holder is killed,
blocking every later run until someone deletes it; hence FileLock (filelock
4 itself falls back to such a marker, with its own warning, where ``flock``
fails with ENOSYS, as on some FUSE file systems). Where no lock can be taken
at all (a read-only cache folder), the cache is used or built without one,
with a warning.

**A cheap check instead of hashing at every start.** Next to each data file's
SHA-256 its JSON records the file's size, ``mtime_ns`` and inode as they were
when that hash was taken. A file whose size, mtime_ns and inode all still
match is trusted without being read; any difference means a full SHA-256
check, and a file that fails it is rebuilt, with a warning (one that passes
gets its new stat recorded). A cache written before stats were recorded is
hashed once, then its stat is recorded. As in git's "racy clean" rule, a
recorded mtime that is not strictly older than the JSON's own mtime proves
nothing (a write within the same clock tick keeps the mtime), so such a file
is hashed too; the builder waits a tick and rewrites the JSON to avoid that.
Hashing and recording happen under the lock, so one process of a job does it.

What the cheap check cannot see: bytes that change while size, mtime and inode
stay, i.e. silent corruption of the medium (bit rot that the file system
does not catch), or an in-place edit followed by restoring the mtime
(``os.utime``, ``touch -d``, ``cp -p`` onto the same inode). Set
``ZSPACE_CACHE_VERIFY=1`` to hash every file at every start (each file once
per process) whatever its stat says.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
from filelock import FileLock, Timeout

from zspace.core import faults
from zspace.core.checksums import IntegrityError, file_sha256, verify_files
from zspace.core.errors import ZspaceError
from zspace.core.io import atomic_path, write_json
from zspace.core.log import get_logger
from zspace.core.npyfiles import read_header
from zspace.core.progress import progress
from zspace.data import imagefiles

log = get_logger(__name__)

CACHE_VERSION = 2
#: Splits up to this size are copied into memory; bigger ones get their own memory-mapped file.
IN_MEMORY_SPLIT_BYTES = 1 << 30
#: waiting longer than this for another process's build of the same cache is an error (a hung builder)
LOCK_TIMEOUT_S = 24 * 3600.0
#: set to 1 to hash every cache file at every start (once per process), whatever its recorded stat says
VERIFY_ENV = "ZSPACE_CACHE_VERIFY"


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
    """Decoded images of ``root/relpaths``, from the cache or decoded now (one builder per cache).

    ``settings`` are extra facts that change the result (e.g. the partition
    file's stat) and therefore belong in the fingerprint. A cache that cannot
    be trusted by its stat alone is checked (and built when needed) under the
    cache's lock, so that of many processes starting at once one does the
    work and the others wait for it.
    """
    directory = cache_directory(cache_dir, kind, root, image_size, channels)
    all_settings = {"kind": kind, "image_size": image_size, "channels": channels, **(settings or {})}
    fingerprint = fingerprint_files(root, relpaths, all_settings)
    cached = _open_cache(directory, fingerprint, may_hash=_full_check_forced(), may_record=False)
    if cached is not None:
        return cached
    with _build_lock(directory) as locked:
        cached = _open_cache(directory, fingerprint, may_hash=True, may_record=locked)
        if cached is not None:
            return cached
        return _build_cache(directory, root, relpaths, image_size, channels, fingerprint)


def lock_path(directory: Path) -> Path:
    """The lock file of the cache ``directory`` (a rebuild replaces the other files in it, never this one)."""
    return directory / "build.lock"


@contextlib.contextmanager
def _build_lock(directory: Path) -> Iterator[bool]:
    """Hold the cache's lock inside the block (waiting for another holder); yield whether it is held.

    Where no lock can be taken (a read-only folder, a file system without
    ``flock`` and an old filelock), a warning, and the block runs unlocked.
    """
    path = lock_path(directory)
    lock = None
    try:
        directory.mkdir(parents=True, exist_ok=True)
        lock = FileLock(path)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            log.info("waiting for another process building the image cache %s", directory)
            lock.acquire(timeout=LOCK_TIMEOUT_S)
    except Timeout:
        raise ZspaceError(f"another process has held {path} for {LOCK_TIMEOUT_S / 3600:.0f} h while building the "
                          f"image cache {directory}; stop it if it hangs (the lock ends with its process)") from None
    except (OSError, NotImplementedError) as exc:
        lock = None
        log.warning("cannot lock %s (%s); using the image cache without a lock: processes sharing it may "
                    "check or build it at the same time", path, getattr(exc, "strerror", None) or exc)
    try:
        yield lock is not None
    finally:
        if lock is not None:
            lock.release()


def _full_check_forced() -> bool:
    return os.environ.get(VERIFY_ENV, "").strip() not in ("", "0")


#: (path, size, mtime_ns, inode) of files whose hash was checked in this process (and matched)
_verified: set[tuple[str, int, int, int]] = set()
#: the same of files whose hash did not match (warned about once)
_corrupt: set[tuple[str, int, int, int]] = set()


def _stat_record(st: os.stat_result) -> dict:
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "inode": st.st_ino}


def _stat_trusted(recorded: object, st: os.stat_result, recorded_at_ns: int) -> bool:
    """Whether ``st`` is the stat ``recorded`` (in a JSON whose mtime is ``recorded_at_ns``) and that proves
    something: a recorded mtime not older than the record itself may hide a later write in the same tick."""
    return (isinstance(recorded, dict) and recorded.get("size") == st.st_size
            and recorded.get("mtime_ns") == st.st_mtime_ns and recorded.get("inode") == st.st_ino
            and st.st_mtime_ns < recorded_at_ns)


def _same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_ino, a.st_dev, a.st_size, a.st_mtime_ns) == (b.st_ino, b.st_dev, b.st_size, b.st_mtime_ns)


def _read_record(path: Path) -> tuple[dict, int]:
    """A JSON object and the file's mtime_ns (the time it was recorded)."""
    with open(path, "rb") as fh:
        recorded_at = os.fstat(fh.fileno()).st_mtime_ns
        obj = json.loads(fh.read())
    if not isinstance(obj, dict):
        raise ValueError(f"{path} is not a JSON object")
    return obj, recorded_at


def _write_record(path: Path, obj: dict, data_mtime_ns: int) -> None:
    """Write ``obj`` to ``path``, rewriting it (up to ~2 s) until its mtime is later than ``data_mtime_ns``.

    A record written in the same clock tick as its data file would not be
    trusted (see :func:`_stat_trusted`), and the next start would hash again.
    """
    write_json(path, obj)
    deadline, pause = time.monotonic() + 2.0, 0.002
    while os.stat(path).st_mtime_ns == data_mtime_ns and time.monotonic() < deadline:
        time.sleep(pause)
        pause = min(2 * pause, 0.25)
        write_json(path, obj)


def _open_checked(path: Path, sha256: str, recorded: object, recorded_at_ns: int, *,
                  may_hash: bool) -> tuple[np.memmap, os.stat_result, bool] | None:
    """Memory-map ``path`` (an .npy) if it can be trusted: (array, its stat, whether the recorded stat vouched).

    The recorded stat vouches for the file unless ``ZSPACE_CACHE_VERIFY=1``;
    otherwise, with ``may_hash``, its SHA-256 is checked (once per process
    and file version). None when it is not trusted, or fails the check (a
    warning). The array maps the very inode that was checked.
    """
    with open(path, "rb") as fh:
        st = os.fstat(fh.fileno())
        key = (str(path), st.st_size, st.st_mtime_ns, st.st_ino)
        vouched = _stat_trusted(recorded, st, recorded_at_ns)
        if not (vouched and not _full_check_forced()) and key not in _verified:
            if key in _corrupt or not may_hash:
                return None
            try:
                verify_files(path.parent, {path.name: sha256}, "rebuilding it")
                failure = None
            except IntegrityError as exc:
                failure = str(exc)
            if not _same_file(os.stat(path), st):  # replaced while it was hashed: the verdict is about neither
                return None
            if failure is not None:
                log.warning(failure)
                _corrupt.add(key)
                return None
            _verified.add(key)
        return _memmap_npy(fh), st, vouched


def _memmap_npy(fh) -> np.memmap:
    """A read-only memory map of the uint8 .npy open as ``fh`` (the file itself, not whatever its path names now)."""
    shape, dtype, fortran_order = read_header(fh, os.fstat(fh.fileno()).st_size)
    if fortran_order or dtype != np.uint8 or not shape or 0 in shape:
        raise ValueError(f"not a C-ordered, non-empty uint8 array: {dtype} {shape}")
    return np.memmap(fh, dtype=np.uint8, mode="r", shape=shape, offset=fh.tell(), order="C")


def _open_cache(directory: Path, fingerprint: str, *, may_hash: bool, may_record: bool) -> DecodedImages | None:
    """The cache in ``directory`` if it is complete, of ``fingerprint`` and trusted (see :func:`_open_checked`).

    With ``may_record`` (under the lock), a file that passed its hash check
    gets its stat recorded in ``meta.json``, so that the next start trusts it
    without hashing.
    """
    meta_path = directory / "meta.json"
    try:
        meta, recorded_at = _read_record(meta_path)
        if meta.get("fingerprint") != fingerprint:
            return None
        opened = _open_checked(directory / "images.npy", meta["files"]["images.npy"],
                               (meta.get("stat") or {}).get("images.npy"), recorded_at, may_hash=may_hash)
        if opened is None:
            return None
        images, st, vouched = opened
        kept = np.asarray(meta["kept"], dtype=np.int64)
        skipped = [str(s) for s in meta["skipped"]]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if images.shape[0] != len(kept):
        return None
    if may_record and not vouched:
        _record_quietly(meta_path, {**meta, "stat": {"images.npy": _stat_record(st)}}, st.st_mtime_ns)
    log.info("using cached images %s (%d images)", directory, len(kept))
    return DecodedImages(images, kept, skipped, directory, fingerprint)


def _record_quietly(path: Path, obj: dict, data_mtime_ns: int) -> None:
    """:func:`_write_record`, where failing only costs a hash at the next start (a read-only cache)."""
    try:
        _write_record(path, obj, data_mtime_ns)
    except (OSError, ZspaceError) as exc:
        log.debug("cannot record the stat in %s: %s", path, exc)


def _build_cache(directory: Path, root: Path, relpaths: Sequence[str], image_size: int, channels: int,
                 fingerprint: str) -> DecodedImages:
    """Decode the files into ``directory`` (call it under the cache's lock)."""
    row_shape = (image_size, image_size, channels)
    kept: list[int] = []
    skipped: list[str] = []
    started = time.perf_counter()
    paths = [str(root / rel) for rel in relpaths]
    try:
        directory.mkdir(parents=True, exist_ok=True)
        # Removed first (readers of the old files keep their inodes); only a lock holder gets here.
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
    images_path = directory / "images.npy"
    st = os.stat(images_path)  # before hashing: a write after this changes the stat, so it cannot pass unhashed
    _write_record(directory / "meta.json",
                  {"fingerprint": fingerprint, "root": str(root), "kept": kept, "skipped": skipped,
                   "images_per_s": len(paths) / max(elapsed, 1e-9),
                   "files": {"images.npy": file_sha256(images_path)},
                   "stat": {"images.npy": _stat_record(st)}}, st.st_mtime_ns)
    log.info("decoded %d images (%d skipped) in %.1f s (%.0f images/s) into %s",
             len(kept), len(skipped), elapsed, len(paths) / max(elapsed, 1e-9), directory)
    images = np.load(images_path, mmap_mode="r", allow_pickle=False)
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
    split = _open_split(path, len(rows), may_hash=_full_check_forced(), may_record=False)
    if split is not None:
        return split
    with _build_lock(decoded.directory) as locked:
        split = _open_split(path, len(rows), may_hash=True, may_record=locked)
        if split is not None:
            return split
        sidecar = path.with_suffix(".json")
        sidecar.unlink(missing_ok=True)  # no reader pairs the old record with the new file
        with atomic_path(path) as tmp:
            out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(len(rows), *images.shape[1:]))
            step = max(1, (64 << 20) // row_bytes)
            for start in progress(range(0, len(rows), step), desc=f"writing split {tag}"):
                out[start:start + step] = images[rows[start:start + step]]
            out.flush()
            del out
        st = os.stat(path)
        _write_record(sidecar, {"sha256": file_sha256(path), "stat": _stat_record(st)}, st.st_mtime_ns)
        return np.load(path, mmap_mode="r", allow_pickle=False)


def _open_split(path: Path, n_rows: int, *, may_hash: bool, may_record: bool) -> np.ndarray | None:
    """The split file ``path`` if it holds ``n_rows`` rows and is trusted (its ``.json`` as ``meta.json`` for
    the cache: the same checks and recording)."""
    sidecar = path.with_suffix(".json")
    try:
        record, recorded_at = _read_record(sidecar)
        opened = _open_checked(path, record["sha256"], record.get("stat"), recorded_at, may_hash=may_hash)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if opened is None:
        return None
    split, st, vouched = opened
    if split.shape[0] != n_rows:
        return None
    if may_record and not vouched:
        _record_quietly(sidecar, {**record, "stat": _stat_record(st)}, st.st_mtime_ns)
    return split
