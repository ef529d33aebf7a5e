"""The one place that writes files.

Every file zspace produces goes through :func:`atomic_path`: the content is
written to a temporary file in the same directory, flushed to disk, and then
renamed over the target with :func:`os.replace`. A reader therefore sees the
old file or the new one, never half of one, even if the process is killed
mid-write. Only rank 0 writes in multi-process runs (see :mod:`zspace.core.dist`);
callers decide that, this module does not.
"""

from __future__ import annotations

import contextlib
import errno
import fnmatch
import glob
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from zspace.core.errors import ZspaceError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success rename it to ``path``.

    The temporary file keeps ``path``'s suffix so that libraries which look at
    the extension (numpy, PIL, matplotlib) behave as for the real name. On an
    exception the temporary file is removed and ``path`` is left untouched.
    """
    path = Path(path)
    with reporting_write_errors(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=_temporary_prefix(path), suffix=f".tmp{path.suffix[:16]}",
                                        dir=path.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            yield tmp
            _fsync_file(tmp)
            os.chmod(tmp, _FILE_MODE)  # mkstemp makes 0600; give the permissions a plain open() would
            os.replace(tmp, path)
            _fsync_dir(path.parent)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise


class WriteError(ZspaceError):
    """A file could not be written (disk full, read-only or unwritable folder); earlier files are intact."""


_NO_SPACE = "free disk space and run the command again (files written before are intact)"
_NOT_WRITABLE = "write to another folder or make this one writable"
#: errno -> the fix printed with a failed write
_WRITE_FIXES = {errno.ENOSPC: _NO_SPACE, errno.EDQUOT: _NO_SPACE, errno.EFBIG: _NO_SPACE,
                errno.EROFS: _NOT_WRITABLE, errno.EACCES: _NOT_WRITABLE, errno.EPERM: _NOT_WRITABLE,
                errno.ENAMETOOLONG: "choose a shorter file name", errno.EIO: "check the disk, then run again"}


def _storage_errno(exc: BaseException) -> int | None:
    # OSError carries errno; libraries that write in Rust or C (safetensors) put "os error N" in the message
    if isinstance(exc, OSError) and exc.errno is not None:
        return exc.errno
    match = re.search(r"os error (\d+)", str(exc))
    return int(match.group(1)) if match else None


@contextlib.contextmanager
def reporting_write_errors(path: str | os.PathLike) -> Iterator[None]:
    """Turn a failed write of ``path`` (disk full, read-only, no permission) into one :class:`WriteError`.

    Other exceptions pass through unchanged.
    """
    try:
        yield
    except ZspaceError:
        raise
    except Exception as exc:
        code = _storage_errno(exc)
        if code not in _WRITE_FIXES:
            raise
        raise WriteError(f"cannot write {path}: {os.strerror(code)}; {_WRITE_FIXES[code]}") from exc


def _temporary_prefix(path: Path) -> str:
    # "." + the name + "." + the writer's process id + "-", then the random part: the name is cut so that a
    # target name of up to 255 bytes still leaves room for the rest; the process id tells
    # remove_stale_temporaries whether the writer is still alive
    return f".{_temporary_stem(path.name)}.{os.getpid()}-"


def _temporary_stem(name: str) -> str:
    while len(name.encode("utf-8", "surrogateescape")) > 200:
        name = name[:-1]
    return name


#: what follows ".NAME." in the name of a temporary of NAME: atomic_path's and atomic_dir's temporaries
#: ("PID-RANDOM.tmp[.suffix]", or "RANDOM.tmp[.suffix]" from zspace versions before the process id),
#: atomic_dir's replaced directory ("old-PID") and a directory renamed to be deleted ("deleting")
_TEMPORARY_REST = re.compile(r"(?:(?P<pid>\d+)-[a-z0-9_]+|[a-z0-9_]{8})\.tmp(?:\.[^.]*)?|old-(?P<old>\d+)|deleting")


def remove_stale_temporaries(path: str | os.PathLike, *, pattern: bool = False) -> list[Path]:
    """Delete the temporaries that killed writers of ``path`` left next to it; return them.

    With ``pattern``, the name of ``path`` is a glob pattern of names
    (``checkpoints/epoch_*``). A temporary of a target NAME is what
    :func:`atomic_path` and :func:`atomic_dir` leave when SIGKILL stops them
    (``.NAME.PID-RANDOM.tmp``, ``.NAME.old-PID``), or ``.NAME.deleting``. One
    whose process ``PID`` is still alive is kept: that process may be writing
    the same target right now. A temporary named without a process id (older
    zspace versions, ``.deleting``) is deleted. Process ids are those of this
    machine: two machines writing one target in a shared folder at once must
    not call this.
    """
    path = Path(path)
    removed = []
    try:
        entries = list(path.parent.iterdir())
    except OSError:  # no folder (nothing to remove) or an unreadable one (nothing we could remove)
        return removed
    for entry in entries:
        owner = _temporary_owner(entry.name, path.name, pattern)
        if owner is False or (owner is not None and _process_alive(owner)):
            continue
        with contextlib.suppress(OSError):  # a read-only folder: leave it, the write that follows will say why
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed.append(entry)
    return removed


def _temporary_owner(name: str, target: str, pattern: bool) -> int | None | bool:
    """The process id in ``name`` if it is a temporary of ``target`` (a glob pattern with ``pattern``), None when
    that temporary names no process, False when ``name`` is no temporary of ``target``."""
    if not name.startswith("."):
        return False
    for cut in range(len(name) - 1, 1, -1):  # ".NAME.REST": try every dot as the one after NAME
        if name[cut] != ".":
            continue
        rest = _TEMPORARY_REST.fullmatch(name, cut + 1)
        stem = name[1:cut]
        if rest is None or not (fnmatch.fnmatchcase(stem, target) if pattern else stem == _temporary_stem(target)):
            continue
        pid = rest.group("pid") or rest.group("old")
        return None if pid is None else int(pid)
    return False


def _process_alive(pid: int) -> bool:
    """Whether process ``pid`` of this machine is running (True when that cannot be told)."""
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    if os.name == "nt":  # os.kill(pid, 0) would end the process there; keep what cannot be checked
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OverflowError, ValueError):  # not a process id this system can have
        return False
    except OSError:  # PermissionError: it exists, and belongs to another user
        return True
    return True


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_current_umask()
_DIR_MODE = 0o777 & ~_current_umask()


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    # Directory fsync makes the rename itself durable; not available on Windows.
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Atomically write ``data`` to ``path``; return the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Atomically write UTF-8 ``text`` to ``path``; return the path."""
    return write_bytes(path, text.encode("utf-8"))


def to_jsonable(obj: Any) -> Any:
    """Convert numpy scalars/arrays, paths and dataclasses to plain JSON types."""
    import dataclasses

    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {k: to_jsonable(v) for k, v in dataclasses.asdict(obj).items()}
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None if np.isnan(obj) else ("inf" if obj > 0 else "-inf")
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return obj


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Atomically write ``obj`` (made JSON-safe by :func:`to_jsonable`) to ``path``."""
    return write_text(path, json.dumps(to_jsonable(obj), indent=2, sort_keys=False) + "\n")


def json_line(record: dict) -> str:
    """One JSON-lines record (newline-terminated)."""
    return json.dumps(to_jsonable(record)) + "\n"


def append_jsonl(path: str | os.PathLike, record: dict) -> None:
    """Append one JSON line to ``path`` and fsync it.

    Appending a single short line is atomic enough for a log: a crash can at
    worst leave a truncated last line, which :func:`read_jsonl` skips.
    """
    path = Path(path)
    line = json_line(record)
    with reporting_write_errors(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """Read a JSON-lines file, skipping a truncated last line."""
    records = []
    path = Path(path)
    if not path.exists():
        return records
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def save_npy(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Atomically save one array as .npy (never pickled)."""
    with atomic_path(path) as tmp:
        np.save(tmp, np.asarray(array), allow_pickle=False)
    return Path(path)


def save_npz(path: str | os.PathLike, **arrays: np.ndarray) -> Path:
    """Atomically save named arrays as an uncompressed .npz (never pickled)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **{k: np.asarray(v) for k, v in arrays.items()})
    return Path(path)


def new_npy_memmap(path: str | os.PathLike, shape: tuple[int, ...], dtype: Any = np.float32) -> np.memmap:
    """A new .npy file of ``shape`` and ``dtype`` at ``path``, open as a writable memory map (zeros until written).

    Not atomic by itself: create it inside a directory that :func:`atomic_dir`
    is building, whose rename makes the finished file appear (``atomic_dir``
    also flushes it to disk). Its disk space is reserved here, so a full disk
    is a :class:`WriteError` now rather than a SIGBUS when a row is written
    through the map later (where the file system can reserve space).
    """
    path = Path(path)
    with reporting_write_errors(path):
        array = np.lib.format.open_memmap(path, mode="w+", dtype=np.dtype(dtype), shape=tuple(shape))
        if hasattr(os, "posix_fallocate"):
            with open(path, "rb+") as fh:
                try:
                    os.posix_fallocate(fh.fileno(), 0, os.fstat(fh.fileno()).st_size)
                except OSError as exc:
                    if exc.errno not in (errno.EINVAL, errno.EOPNOTSUPP, errno.ENOSYS):  # cannot reserve: go on
                        raise
        return array


def refuse_overwrite(path: str | os.PathLike, what: str, flag: str = "--force") -> None:
    """Raise a ZspaceError if ``path`` exists, telling the user how to proceed."""
    if Path(path).exists():
        raise ZspaceError(f"{what} {path} already exists; choose another path or pass {flag} to replace it")


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary directory next to ``path``; on success it replaces ``path``.

    Used for checkpoints, whose files (weights + JSON state) must appear
    together or not at all. An existing ``path`` is moved aside first and
    deleted only after the new directory is in place.
    """
    path = Path(path)
    with reporting_write_errors(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        prefix = _temporary_prefix(path)
        try:
            tmp = Path(tempfile.mkdtemp(prefix=prefix, suffix=".tmp", dir=path.parent))
            yield tmp
            for child in tmp.iterdir():
                _fsync_file(child)
            os.chmod(tmp, _DIR_MODE)  # mkdtemp makes 0700
            old = None
            if path.exists():
                old = path.with_name(f".{path.name}.old-{os.getpid()}")
                os.replace(path, old)
            os.replace(tmp, path)
            _fsync_dir(path.parent)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            # this process's temporaries of ``path`` (the prefix holds our pid): also one that an interrupt
            # (Ctrl-C) left between mkdtemp making it and returning its name
            for leftover in path.parent.glob(glob.escape(prefix) + "*.tmp"):
                shutil.rmtree(leftover, ignore_errors=True)
            raise
