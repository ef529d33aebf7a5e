"""The one place that writes files.

Every file zspace produces goes through :func:`atomic_path`: the content is
written to a temporary file in the same directory, flushed to disk, and then
renamed over the target with :func:`os.replace`. A reader therefore sees the
old file or the new one, never half of one, even if the process is killed
mid-write. Files that belong together are written into a directory that
:func:`atomic_dir` swaps in whole (renameat2 RENAME_EXCHANGE where the file
system can): a kill at any instant leaves the old directory or the new one.
Only rank 0 writes in multi-process runs (see :mod:`zspace.core.dist`);
callers decide that, this module does not.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fnmatch
import glob
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator, NamedTuple

import numpy as np

from zspace.core import faults
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
        prefix, suffix = _temporary_prefix(path), f".tmp{path.suffix[:16]}"
        try:
            fd, tmp_name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=path.parent)
            os.close(fd)
            tmp = Path(tmp_name)
            yield tmp
            _fsync_file(tmp)
            os.chmod(tmp, _FILE_MODE)  # mkstemp makes 0600; give the permissions a plain open() would
            os.replace(tmp, path)
            _fsync_dir(path.parent)
        except BaseException:
            # this process's temporaries of ``path`` (the prefix holds our pid): also one that an interrupt
            # (Ctrl-C) left between mkstemp making it and returning its name
            for leftover in path.parent.glob(glob.escape(prefix) + "*" + glob.escape(suffix)):
                with contextlib.suppress(FileNotFoundError):
                    leftover.unlink()
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
    """Clean up after killed writers of ``path``: restore a stranded previous directory, delete the rest; return
    the deleted paths.

    With ``pattern``, the name of ``path`` is a glob pattern of names
    (``checkpoints/epoch_*``). A temporary of a target NAME is what
    :func:`atomic_path` and :func:`atomic_dir` leave when SIGKILL stops them
    (``.NAME.PID-RANDOM.tmp``, ``.NAME.old-PID``), or ``.NAME.deleting``. One
    whose process ``PID`` is still alive is kept: that process may be writing
    the same target right now. A temporary named without a process id (older
    zspace versions, ``.deleting``) is deleted.

    ``.NAME.old-PID`` is the previous NAME that :func:`atomic_dir` moved aside
    where the file system cannot exchange two directories: when NAME is
    missing, the writer was killed between its two renames, and the previous
    directory is renamed back to NAME (never deleted); when NAME exists, the
    new one made it and the old one is deleted. Process ids are those of this
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
        temporary = _temporary_of(entry.name, path.name, pattern)
        if temporary is None or (temporary.pid is not None and _process_alive(temporary.pid)):
            continue
        if temporary.kind == "old" and _restore_replaced(entry, path if not pattern else path.parent / temporary.stem):
            continue
        with contextlib.suppress(OSError):  # a read-only folder: leave it, the write that follows will say why
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed.append(entry)
    return removed


def is_temporary_of(name: str, target: str) -> bool:
    """Whether the entry ``name`` is a temporary that :func:`atomic_path` or :func:`atomic_dir` made (or a killed
    writer left) for ``target``, a name in the same folder."""
    return _temporary_of(name, target, False) is not None


def restore_replaced_dir(path: str | os.PathLike) -> bool:
    """Bring back the previous directory ``path`` if a killed :func:`atomic_dir` left it aside; whether it did.

    Readers of a directory that may be replaced in place (a saved sampler, a
    Z directory) call this first: where the file system could not exchange
    two directories, a writer killed between its two renames leaves nothing
    at ``path`` and the previous directory under ``.NAME.old-PID``. Only a
    dead writer's one is restored, and only while ``path`` is missing;
    nothing is deleted.
    """
    path = Path(path)
    if os.path.lexists(path):
        return False
    with contextlib.suppress(OSError):
        for entry in path.parent.iterdir():
            temporary = _temporary_of(entry.name, path.name, False)
            if temporary is not None and temporary.kind == "old" and not _process_alive(temporary.pid):
                if _restore_replaced(entry, path):
                    return True
    return False


class _Temporary(NamedTuple):
    kind: str  # "tmp" (atomic_path's or atomic_dir's), "old" (atomic_dir's replaced directory) or "deleting"
    pid: int | None  # the writer's process id; None in names without one
    stem: str  # the NAME in ".NAME.REST" (cut to 200 bytes in "tmp" names)


def _temporary_of(name: str, target: str, pattern: bool) -> _Temporary | None:
    """What ``name`` is if it is a temporary of ``target`` (a glob pattern with ``pattern``), else None."""
    if not name.startswith("."):
        return None
    for cut in range(len(name) - 1, 1, -1):  # ".NAME.REST": try every dot as the one after NAME
        if name[cut] != ".":
            continue
        rest = _TEMPORARY_REST.fullmatch(name, cut + 1)
        stem = name[1:cut]
        if rest is None or not (fnmatch.fnmatchcase(stem, target) if pattern
                                else stem in (target, _temporary_stem(target))):
            continue
        pid = rest.group("pid") or rest.group("old")
        kind = "old" if rest.group("old") else "deleting" if rest.group(0) == "deleting" else "tmp"
        return _Temporary(kind, None if pid is None else int(pid), stem)
    return None


def _restore_replaced(old: Path, path: Path) -> bool:
    """Rename ``old`` (a ``.NAME.old-PID`` of a dead writer) back to ``path`` if nothing is there; whether it did."""
    if os.path.lexists(path):
        return False
    try:
        if not _renameat2(old, path, _RENAME_NOREPLACE):  # no renameat2 here: the lexists above must do
            os.rename(old, path)
    except OSError:  # something appeared at path meanwhile (a new one made it), or a read-only folder
        return False
    _fsync_dir(path.parent)
    return True


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


#: set to 1 to replace directories as on a system without renameat2 (the two renames of :func:`atomic_dir`)
NO_EXCHANGE_ENV = "ZSPACE_NO_RENAME_EXCHANGE"
#: the kill points of :func:`atomic_dir`, in the order it reaches them (``atomic_dir.aside`` only without exchange)
ATOMIC_DIR_POINTS = ("atomic_dir.written", "atomic_dir.synced", "atomic_dir.aside", "atomic_dir.swapped",
                     "atomic_dir.durable", "atomic_dir.deleting")

_RENAME_NOREPLACE = 1
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100  # Linux
#: errno of a renameat2 that this kernel, C library or file system does not offer (EPERM: a seccomp filter)
_RENAMEAT2_UNSUPPORTED = {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EPERM}
_renameat2_function: Any = None


def _renameat2(src: str | os.PathLike, dst: str | os.PathLike, flags: int) -> bool:
    """Linux ``renameat2(src, dst, flags)`` (kernel >= 3.15, glibc >= 2.28) through ctypes.

    Returns False, having changed nothing, where it is not available: not
    Linux, no such C function, a kernel or file system without the flag
    (EINVAL, ENOSYS, EOPNOTSUPP; some network file systems), or
    ``ZSPACE_NO_RENAME_EXCHANGE=1``. Other failures raise OSError.
    """
    global _renameat2_function
    if not sys.platform.startswith("linux") or os.environ.get(NO_EXCHANGE_ENV, "") not in ("", "0"):
        return False
    if _renameat2_function is None:
        function = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", False)
        if function:
            function.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint)
            function.restype = ctypes.c_int
        _renameat2_function = function
    if not _renameat2_function:
        return False
    if _renameat2_function(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), flags) == 0:
        return True
    code = ctypes.get_errno()
    if code in _RENAMEAT2_UNSUPPORTED:
        return False
    raise OSError(code, os.strerror(code), os.fspath(src), None, os.fspath(dst))


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary directory next to ``path``; on success it replaces ``path``.

    Used for checkpoints, Z directories, samplers and projector folders,
    whose files must appear together or not at all. A kill at any instant
    leaves the old ``path`` or the new one complete, never neither:

    * where the file system can (Linux renameat2 ``RENAME_EXCHANGE``: ext4,
      xfs, btrfs, tmpfs), the finished directory and an existing ``path`` are
      exchanged in one step, so ``path`` is always a complete directory; the
      old one, now under the temporary's name, is deleted afterwards (what a
      kill leaves of it, :func:`remove_stale_temporaries` deletes);
    * elsewhere (macOS, some network file systems, or with the environment
      variable ``ZSPACE_NO_RENAME_EXCHANGE=1``) the old ``path`` is renamed to
      ``.NAME.old-PID`` and the new one to ``path``: a reader arriving
      between the two renames finds no ``path``, and a kill there leaves
      none until :func:`remove_stale_temporaries` (or the next
      ``atomic_dir`` of ``path``) renames the old one back.

    A ``.NAME.old-PID`` of a dead writer with ``path`` missing is restored
    first. The kill points of :data:`ATOMIC_DIR_POINTS` mark every step.
    """
    path = Path(path)
    with reporting_write_errors(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        prefix = _temporary_prefix(path)
        old_prefix = f".{_temporary_stem(path.name)}.old-"
        old = path.with_name(f"{old_prefix}{os.getpid()}")
        for stranded in path.parent.glob(glob.escape(old_prefix) + "*"):  # what a writer killed in the gap left
            temporary = _temporary_of(stranded.name, path.name, False)
            # our own pid: a dead process's that we now reuse, or our failed undo (each call ends without one)
            if temporary is not None and (temporary.pid == os.getpid() or not _process_alive(temporary.pid)):
                _restore_replaced(stranded, path)
        try:
            tmp = Path(tempfile.mkdtemp(prefix=prefix, suffix=".tmp", dir=path.parent))
            yield tmp
            faults.point("atomic_dir.written")
            for root, _, files in os.walk(tmp):
                for name in files:
                    _fsync_file(Path(root, name))
            os.chmod(tmp, _DIR_MODE)  # mkdtemp makes 0700
            _fsync_dir(tmp)
            faults.point("atomic_dir.synced")
            replaced = os.path.lexists(path)
            exchanged = replaced and _renameat2(tmp, path, _RENAME_EXCHANGE)  # then the old directory is at tmp
            if replaced and not exchanged:
                if os.path.lexists(old):  # left by a dead process of our pid, and path exists: not needed
                    _remove_tree(old)
                os.replace(path, old)
                faults.point("atomic_dir.aside")
            if not exchanged:
                os.replace(tmp, path)
            faults.point("atomic_dir.swapped")
            _fsync_dir(path.parent)
            if replaced:  # delete the old directory, best effort: what stays, remove_stale_temporaries deletes
                faults.point("atomic_dir.durable")
                with contextlib.suppress(OSError):
                    if not exchanged:
                        os.replace(old, tmp)  # deleted under the temporary's name: never a half-deleted ".old-PID"
                    _remove_tree(tmp)
        except BaseException:
            if os.path.lexists(old) and not os.path.lexists(path):  # failed between the two renames: undo the first
                with contextlib.suppress(OSError):
                    os.rename(old, path)
            # this process's temporaries of ``path`` (the prefix holds our pid): also one that an interrupt
            # (Ctrl-C) left between mkdtemp making it and returning its name
            for leftover in path.parent.glob(glob.escape(prefix) + "*.tmp"):
                shutil.rmtree(leftover, ignore_errors=True)
            raise


def _remove_tree(path: Path) -> None:
    """Delete the file or directory tree ``path`` entry by entry (kill point ``atomic_dir.deleting`` after each)."""
    if path.is_symlink() or not path.is_dir():
        path.unlink()
        return
    for root, dirs, files in os.walk(path, topdown=False):
        for name in (*files, *dirs):  # bottom-up: a directory listed here is empty by now, unless it is a link
            entry = os.path.join(root, name)
            if os.path.isdir(entry) and not os.path.islink(entry):
                os.rmdir(entry)
            else:
                os.unlink(entry)
            faults.point("atomic_dir.deleting")
    os.rmdir(path)
