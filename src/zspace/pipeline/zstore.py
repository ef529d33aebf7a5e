"""Z stores: the latent points of a data set, as one .npz file or as a Z directory of .npy files (no pickle).

A Z file (a path ending in ``.npz``, for N that fits in memory) holds these
arrays, all readable with ``np.load(path, allow_pickle=False)``:

``z``            (N, d) float32  latent points (a VAE's sampled z)
``mu``, ``logvar`` (N, d) float32  VAE only
``labels``       (N,) int64      class labels, when the data has them
``factors``      (N, F) float32  generating factors, when the data has them
``factor_names`` (F,) str        names of the factor columns
``index``        (N,) int64      position of each image in its split
``meta``         () str          JSON: run, data spec, split, epoch, model kind

A Z directory (any other path, for large N) holds the same arrays as
``NAME.npy`` files (``z.npy``, ``mu.npy``, ``logvar.npy``, ``labels.npy``,
``factors.npy``, ``index.npy``) and ``meta.json``::

    {"format": "zspace.zdir/1", "n_points": N, "dim": d, "factor_names": [...], "meta": {run, data, ...},
     "crc32": {"z.npy": "1c291ca3", "index.npy": ..., ...}}

:func:`writing_zdir` builds one inside :func:`zspace.core.io.atomic_dir`:
``z.npy`` and the VAE's arrays are memory maps filled row by row while
encoding goes, so N rows never have to fit in memory; :func:`load_zstore`
opens its arrays as read-only memory maps.

A **sharded Z directory** is what N writers make without gathering a row
in memory: ``zspace encode`` under torchrun (N processes) or N invocations
of ``zspace encode --shard i/N`` (one per SLURM array task, say). Layout
(names in :mod:`zspace.core.zshards`)::

    DIR/shards/00000-of-00004/   shard 0: a complete Z directory (zspace.zdir/1) of its rows,
    DIR/shards/00001-of-00004/   z.npy ... index.npy (the rows' positions in the split) and meta.json,
    ...                          whose "shard" field says {"index", "count", "rows": [start, stop],
                                 "encode": {run, epoch, weights, data, split, n, seed, precision}}
    DIR/meta.json                {"format": "zspace.zdir/2", "n_points": N, "dim": d, "factor_names",
                                  "meta", "encode", "shards": ["shards/00000-of-00004", ...],
                                  "crc32": {"shards/00000-of-00004/meta.json": ..., ...}}

Each shard is written like any Z directory (:func:`writing_shard`, under a
temporary name, renamed when complete), its rows streamed through memory
maps. The top-level meta.json is written (atomically, by
:func:`join_shards`) by whichever writer finds all N shards complete and
from the same encode; until then the directory is an encode in progress
that readers refuse. Its CRC-32 of each shard's meta.json, which lists
the CRC-32 of the shard's files, covers every byte. A killed writer's
shard is resumed by the same command: complete shards of the same encode
whose CRC-32 verify are kept (:func:`shard_written`), the others encoded.
A one-process Z directory keeps the first layout (format zspace.zdir/1).

:func:`load_zstore` reads a sharded Z directory as one store in row order:
``z``, ``mu``, ``logvar`` and ``factors`` are
:class:`~zspace.core.arrays.RowStore` s of the shards' memory maps (read a
block of rows at a time, float32, nothing read whole), ``index`` and
``labels`` are concatenated in memory (8 bytes a row each).

Every byte is checked when read: a Z file's members against the CRC-32 of
their zip entries, a Z directory's files against the CRC-32 that meta.json
lists (``crc32``, summed over each file once it is written). A Z directory
written before zspace listed them is read with a warning. A mismatch is a
:class:`ZspaceError` naming the file and the array: write the store again.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from zspace.core import checksums, faults, io, npyfiles, zshards
from zspace.core.arrays import RowStore
from zspace.core.errors import ZspaceError
from zspace.core.inputkind import ZDIR_META, InputKind, is_z_file_name, kind_of
from zspace.core.log import get_logger

log = get_logger(__name__)

#: the arrays a Z file may hold (others are never read)
KEYS = ("z", "mu", "logvar", "labels", "factors", "factor_names", "index", "meta")
#: the (N, d) float32 arrays of a store: what encoding fills row by row
VECTORS = ("z", "mu", "logvar")
#: ``format`` of a Z directory's meta.json (and of each shard's)
ZDIR_FORMAT = "zspace.zdir/1"
#: ``format`` of the top-level meta.json of a sharded Z directory
ZDIR_SHARDED_FORMAT = zshards.SHARDED_FORMAT
#: the arrays of a Z directory
ZDIR_ARRAYS = ("z.npy", "mu.npy", "logvar.npy", "labels.npy", "factors.npy", "index.npy")
#: the files of a Z directory, one-process or sharded (a directory holding anything else is never replaced)
ZDIR_FILES = (*ZDIR_ARRAYS, ZDIR_META, zshards.SHARDS_DIR)
#: rows copied at a time into a Z directory's arrays
COPY_ROWS = 65536

#: ``allocate(name, (n, d))``: a writable float32 array for the rows of ``name`` (z, mu or logvar)
Allocate = Callable[[str, tuple[int, int]], np.ndarray]


def is_zdir_path(path: str | Path) -> bool:
    """Whether a store written to ``path`` is a Z directory: any path that does not end in .npz
    (:func:`zspace.core.inputkind.is_z_file_name`)."""
    return not is_z_file_name(path)


@dataclass
class ZStore:
    """Latent points of N images; see the module docstring for shapes.

    Read from a sharded Z directory, ``z``, ``mu``, ``logvar`` and ``factors``
    are :class:`~zspace.core.arrays.RowStore` s (indexed by rows like an
    array: ``store.z[a:b]``, ``store.z[rows]``; ``np.asarray`` copies all).
    """

    z: np.ndarray
    index: np.ndarray
    mu: np.ndarray | None = None
    logvar: np.ndarray | None = None
    labels: np.ndarray | None = None
    factors: np.ndarray | None = None
    factor_names: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def codes(self) -> np.ndarray:
        """(N, d) the deterministic code of each image: a VAE's ``mu``, an AE's ``z``."""
        return self.mu if self.mu is not None else self.z

    def save(self, path: str | Path) -> Path:
        """Write atomically: an .npz when ``path`` ends in .npz, else a Z directory (:func:`writing_zdir`)."""
        if is_zdir_path(path):
            with writing_zdir(path, len(self.z), index=self.index, labels=self.labels, factors=self.factors,
                              factor_names=self.factor_names, meta=self.meta) as allocate:
                for name in VECTORS:
                    value = getattr(self, name)
                    if value is not None:
                        _copy_rows(allocate(name, value.shape), value)
            return Path(path)
        arrays: dict[str, np.ndarray] = {"z": np.asarray(self.z, dtype=np.float32),  # (a RowStore too)
                                         "index": np.asarray(self.index, dtype=np.int64),
                                         "meta": np.array(json.dumps(io.to_jsonable(self.meta)))}
        for name in ("mu", "logvar"):
            value = getattr(self, name)
            if value is not None:
                arrays[name] = np.asarray(value, dtype=np.float32)
        if self.labels is not None:
            arrays["labels"] = np.asarray(self.labels, dtype=np.int64)
        if self.factors is not None:
            arrays["factors"] = np.asarray(self.factors, dtype=np.float32)
            arrays["factor_names"] = np.array(self.factor_names, dtype=str)
        return io.save_npz(path, **arrays)


@contextlib.contextmanager
def writing_zdir(path: str | Path, n: int, *, index: np.ndarray | None = None, labels: np.ndarray | None = None,
                 factors: np.ndarray | None = None, factor_names: Sequence[str] = (),
                 meta: dict[str, Any] | None = None, index_start: int = 0,
                 fields: dict[str, Any] | None = None) -> Iterator[Allocate]:
    """Build the Z directory ``path`` of ``n`` points; yield ``allocate(name, (n, d))`` for its z, mu and logvar.

    ``allocate`` returns a writable float32 memory map of ``name.npy`` (z,
    mu or logvar; z is required) for the caller to fill. When the block ends,
    ``index`` (default ``index_start`` .. ``index_start + n - 1``, made a
    block at a time), ``labels``, ``factors`` and meta.json (with the extra
    top-level ``fields``, e.g. a shard's ``shard``) are
    written, ``labels`` and ``factors`` (which may be memory maps) copied
    :data:`COPY_ROWS` rows at a time, meta.json lists the CRC-32 of every
    .npy (one more pass over the files just written, mostly from the page
    cache), and the directory is renamed into place.

    The whole directory is built under a temporary name next to ``path``
    (:func:`zspace.core.io.atomic_dir`): an exception or a kill leaves no half
    ``path``, and an existing ``path`` is replaced only when the block
    succeeds. Temporaries of ``path`` that killed processes left are deleted
    first. An existing ``path`` that is not a Z directory (a file, or a
    directory holding other files) is refused with a :class:`ZspaceError`.
    """
    path = Path(path)
    for name, value in (("index", index), ("labels", labels), ("factors", factors)):
        if value is not None and len(value) != n:
            raise ValueError(f"{name} has {len(value)} rows, not the {n} of the store")
    if factors is not None and factors.shape[1:] != (len(factor_names),):
        raise ValueError(f"factors of shape {factors.shape} do not have the {len(factor_names)} named columns")
    _require_replaceable(path)
    io.remove_stale_temporaries(path)
    maps: dict[str, np.ndarray] = {}
    with io.atomic_dir(path) as tmp:
        def allocate(name: str, shape: tuple[int, int]) -> np.ndarray:
            if name not in VECTORS or name in maps or len(shape) != 2 or shape[0] != n:
                raise ValueError(f"cannot allocate {name!r} of shape {tuple(shape)} in a Z directory of {n} points "
                                 f"(once each of {', '.join(VECTORS)}, {n} rows)")
            maps[name] = io.new_npy_memmap(tmp / f"{name}.npy", shape, np.float32)
            return maps[name]

        yield allocate
        if "z" not in maps:
            raise ValueError("no z was allocated in the Z directory")
        dim = int(maps["z"].shape[1])
        if any(m.shape[1] != dim for m in maps.values()):
            raise ValueError(f"z, mu and logvar differ in width: {[m.shape for m in maps.values()]}")
        for array in maps.values():
            array.flush()
        maps.clear()
        _write_rows(tmp / "index.npy", (n,), np.int64,
                    index if index is not None else lambda a, b: np.arange(index_start + a, index_start + b))
        if labels is not None:
            _write_rows(tmp / "labels.npy", (n,), np.int64, labels)
        if factors is not None:
            _write_rows(tmp / "factors.npy", (n, len(factor_names)), np.float32, factors)
        crc32 = checksums.crc32_files(tmp, sorted(f.name for f in tmp.iterdir() if f.suffix == ".npy"))
        io.write_json(tmp / ZDIR_META, {"format": ZDIR_FORMAT, "n_points": n, "dim": dim,
                                          "factor_names": [str(s) for s in factor_names], "meta": meta or {},
                                          **(fields or {}), checksums.CRC32_FIELD: crc32})


def _require_replaceable(path: Path) -> None:
    if not path.exists() and not path.is_symlink():
        return
    if path.is_dir() and not path.is_symlink():
        # (a sharded directory may hold a temporary of its meta.json that a killed writer left)
        others = sorted(child.name for child in path.iterdir() if child.name not in ZDIR_FILES
                        and not io.is_temporary_of(child.name, ZDIR_META))
        if not others:
            return
        shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
        raise ZspaceError(f"{path} is a directory holding files that are not part of a Z directory ({shown}); "
                          "zspace replaces only Z directories: choose a new path")
    raise ZspaceError(f"{path} exists and is not a directory, so it cannot become a Z directory (a path not "
                      "ending in .npz); choose a new path, or one ending in .npz for a Z file")


def _write_rows(path: Path, shape: tuple[int, ...], dtype: Any,
                rows: np.ndarray | Callable[[int, int], np.ndarray]) -> None:
    """A new .npy at ``path`` filled from ``rows`` (an array, or ``rows(start, stop)``) a block at a time."""
    _copy_rows(io.new_npy_memmap(path, shape, dtype), rows)


def _copy_rows(out: np.ndarray, rows: np.ndarray | Callable[[int, int], np.ndarray]) -> None:
    for start in range(0, len(out), COPY_ROWS):
        stop = min(start + COPY_ROWS, len(out))
        out[start:stop] = rows(start, stop) if callable(rows) else rows[start:stop]
    if isinstance(out, np.memmap):
        out.flush()


# -- sharded Z directories: one Z directory per writer, joined by a top-level meta.json ------------------------------

def shard_path(path: str | Path, index: int, count: int) -> Path:
    """The folder of shard ``index`` of ``count`` in the sharded Z directory ``path``."""
    return zshards.shard_dir(path, index, count)


def prepare_shards(path: str | Path, count: int, encode: dict[str, Any], *, force: bool = False) -> None:
    """Make ``path`` ready for the ``count`` shards of ``encode`` (what identifies an encode; every writer calls this).

    Left as it is: nothing there, an empty directory, a sharded Z directory
    in progress (no top-level meta.json: its complete shards are judged one by
    one by :func:`shard_written`), or a complete one of the same encode and N
    (its shards are kept). Any other Z store there (a one-process Z
    directory, a sharded one of another encode or N) is a
    :class:`ZspaceError` unless ``force``, which makes it a directory in
    progress: its meta.json goes first, so no reader takes it for complete,
    then the arrays of a one-process Z directory. A file, or a directory
    holding other files, is refused always.
    """
    path = Path(path)
    if not os.path.lexists(path):
        return
    _require_replaceable(path)
    top = path / ZDIR_META
    if top.is_file():
        info = _json_object(top)
        there = info.get(zshards.ENCODE_FIELD) if info.get("format") == ZDIR_SHARDED_FORMAT else None
        listed = info.get(zshards.SHARDS_FIELD)
        if there == io.to_jsonable(encode) and isinstance(listed, list) and len(listed) == count:
            return
        if not force:
            if isinstance(there, dict):
                differ = [f"{key} {there.get(key)!r} there, {value!r} here" for key, value in
                          io.to_jsonable(encode).items() if there.get(key) != value]
                if isinstance(listed, list) and len(listed) != count:
                    differ.append(f"{len(listed)} shards there, {count} here")
                what = f"a sharded Z directory of another encode ({'; '.join(differ)})"
            else:
                what = "a Z directory written by one process" if info.get("format") == ZDIR_FORMAT else \
                    "a Z directory"
            raise ZspaceError(f"{path} already holds {what}; choose another path or pass --force to replace it")
        top.unlink(missing_ok=True)
    for name in ZDIR_ARRAYS:  # a one-process Z directory being replaced (its meta.json went first)
        (path / name).unlink(missing_ok=True)


def shard_written(path: str | Path, index: int, count: int, encode: dict[str, Any], rows: slice) -> bool:
    """Whether shard ``index`` of ``count`` in ``path`` is complete, of ``encode``, holds ``rows``, and its files
    verify (headers, sizes and CRC-32: the shard is read once). A damaged one is reported and counts as missing."""
    shard = shard_path(path, index, count)
    if not (shard / ZDIR_META).is_file():
        return False
    if _shard_record(shard) != io.to_jsonable(_record(index, count, encode, rows)):
        return False
    try:
        _load_zdir(shard)
    except ZspaceError as exc:
        log.warning("%s; encoding shard %d of %d again", exc, index, count)
        return False
    return True


@contextlib.contextmanager
def writing_shard(path: str | Path, index: int, count: int, encode: dict[str, Any], rows: slice, *,
                  labels: np.ndarray | None = None, factors: np.ndarray | None = None,
                  factor_names: Sequence[str] = (), meta: dict[str, Any] | None = None) -> Iterator[Allocate]:
    """Build shard ``index`` of ``count`` of ``path`` (rows ``rows`` of the split) with :func:`writing_zdir`.

    ``labels`` and ``factors`` are the whole split's (the shard copies its
    rows), its index.npy holds the rows' positions in the split, and its
    meta.json the ``shard`` record. The top-level meta.json is removed first:
    the directory is complete again only when :func:`join_shards` finds every
    shard written.
    """
    (Path(path) / ZDIR_META).unlink(missing_ok=True)
    with writing_zdir(shard_path(path, index, count), rows.stop - rows.start,
                      labels=None if labels is None else labels[rows],
                      factors=None if factors is None else factors[rows], factor_names=factor_names, meta=meta,
                      index_start=rows.start,
                      fields={zshards.SHARD_FIELD: _record(index, count, encode, rows)}) as allocate:
        yield allocate


def join_shards(path: str | Path, count: int, encode: dict[str, Any]) -> bool:
    """Write the top-level meta.json of ``path`` if all ``count`` shards are complete and of ``encode``; whether
    the store is complete now.

    Any writer may call this when its shard is done: the last one to finish
    finds them all. The file is written atomically, and two writers that
    find them all at once write the same bytes. The shards are judged by
    their meta.json only (each was verified by its writer); the CRC-32 of
    each meta.json goes into the listing. Folders of shards of another N,
    left by an earlier encode, are deleted once the store is complete.
    """
    path = Path(path)
    encode = io.to_jsonable(encode)
    names = [f"{zshards.SHARDS_DIR}/{zshards.shard_name(i, count)}" for i in range(count)]
    crc32, first, rows = {}, None, 0
    for index, name in enumerate(names):
        try:
            data = (path / name / ZDIR_META).read_bytes()
            info = json.loads(data)
        except (OSError, UnicodeDecodeError, ValueError, RecursionError):
            return False
        record = info.get(zshards.SHARD_FIELD) if isinstance(info, dict) else None
        if not isinstance(record, dict) or record.get("index") != index or record.get("count") != count or \
                record.get(zshards.ENCODE_FIELD) != encode or not isinstance(record.get("rows"), list) or \
                record["rows"][:1] != [rows]:
            return False
        rows = record["rows"][1]
        crc32[f"{name}/{ZDIR_META}"] = f"{zlib.crc32(data):08x}"
        first = first or info
    if rows != encode.get("n", rows):
        return False
    top = {"format": ZDIR_SHARDED_FORMAT, "n_points": rows, "dim": first["dim"],
           "factor_names": first["factor_names"], "meta": first["meta"], zshards.ENCODE_FIELD: encode,
           zshards.SHARDS_FIELD: names, checksums.CRC32_FIELD: crc32}
    file = path / ZDIR_META
    if not (file.is_file() and _json_object(file) == top):
        faults.point("encode.join")
        io.write_json(file, top)
    for entry in (path / zshards.SHARDS_DIR).iterdir():
        parsed = zshards.parse_shard_name(entry.name)
        if parsed is not None and parsed[1] != count and entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
    return True


def open_written_shards(path: str | Path) -> ZStore:
    """The store of the sharded Z directory ``path`` that :func:`join_shards` has just completed: as
    :func:`load_zstore` reads it, but without reading every shard for its CRC-32 again (their writers checked
    them), so the writer that joins N shards does not read the whole store alone."""
    return _load_sharded(Path(path), verify=False)


def _record(index: int, count: int, encode: dict[str, Any], rows: slice) -> dict[str, Any]:
    """The ``shard`` field of a shard's meta.json."""
    return {"index": index, "count": count, "rows": [rows.start, rows.stop], zshards.ENCODE_FIELD: encode}


def _json_object(file: Path) -> dict[str, Any]:
    """The JSON object in ``file``; {} when it is unreadable or no object."""
    try:
        info = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return {}
    return info if isinstance(info, dict) else {}


def load_zstore(path: str | Path) -> ZStore:
    """Read a Z file or a Z directory written by :meth:`ZStore.save` or ``zspace encode``.

    Every array is checked against the module docstring's shapes and dtypes
    (headers before reading, see :mod:`zspace.core.npyfiles`) and its bytes
    against their recorded CRC-32; anything else is a :class:`ZspaceError`
    naming the file and the array. The arrays of a Z directory are read-only
    memory maps: rows are read from disk when used (the check has read each
    file once, in order, so its pages are cached for those reads when memory
    allows). A sharded Z directory is read as one store in row order (see the
    module docstring); one still being written is refused, saying how to
    finish it.
    """
    path = Path(path)
    kind = kind_of(path)  # the one rule (zspace.core.inputkind); restores a Z directory a killed encode left aside
    if kind is not None and kind.is_directory:  # a run or a shard directory: _load_zdir says it is no Z directory
        if kind is InputKind.Z_DIR and zshards.is_sharded(path):
            return _load_sharded(path)
        return _load_zdir(path)
    if not path.is_file():
        what = "is not a file" if path.exists() else "does not exist"
        kind = "Z directory" if is_zdir_path(path) and not path.exists() else "Z file"
        raise ZspaceError(f"{kind} {path} {what}; write one with: zspace encode RUN_DIR --out {path}")
    try:
        data = npyfiles.load_npz(path, [name for name in npyfiles.npz_names(path) if name in KEYS])
    except checksums.ChecksumMismatch as exc:
        raise ZspaceError(f"Z file {path}: {exc}; write it again with: zspace encode RUN_DIR --out {path} "
                          "--force") from None
    except ValueError as exc:
        fix = "it holds Python objects, which zspace never loads" if "pickle" in str(exc) else \
            "write it again with zspace encode"
        raise ZspaceError(f"Z file {path} is not a readable .npz ({exc}); {fix}") from None
    if "z" not in data:
        raise ZspaceError(f"Z file {path} has no array 'z' (keys: {sorted(data)}); it was not written by zspace encode")

    def label(name: str) -> str:
        return f"Z file {path}: array {name!r}"

    fix = "write the file again with zspace encode"
    z = _checked(label, fix, data, "z", 2, "fi")
    if z.shape[1] == 0:  # no data to back its N rows (an index of N would be built from the header alone)
        raise ZspaceError(f"Z file {path}: array 'z' has shape {z.shape}, no latent dimension; "
                          "write the file again with zspace encode")
    n = len(z)
    index = _checked(label, fix, data, "index", 1, "iu", n)
    mu, logvar = (_checked(label, fix, data, name, 2, "fi", n, z.shape[1]) for name in ("mu", "logvar"))
    labels = _checked(label, fix, data, "labels", 1, "iu", n)
    factors = _checked(label, fix, data, "factors", 2, "fi", n)
    names = _checked(label, fix, data, "factor_names", 1, "U", None if factors is None else factors.shape[1])
    if (factors is None) != (names is None):
        raise ZspaceError(f"Z file {path} has {'factors' if names is None else 'factor_names'} without "
                          f"{'factor_names' if names is None else 'factors'}; store both or neither")
    try:
        meta = json.loads(str(data["meta"][()])) if "meta" in data else {}
    except (ValueError, IndexError, RecursionError):
        meta = None
    if not isinstance(meta, dict):
        raise ZspaceError(f"Z file {path}: array 'meta' is not a JSON object; write the file again with zspace encode")
    return ZStore(z=z, index=np.arange(n) if index is None else index, mu=mu, logvar=logvar, labels=labels,
                  factors=factors, factor_names=[] if names is None else [str(s) for s in names], meta=meta)


def _load_zdir(path: Path, *, verify: bool = True, fix: str | None = None) -> ZStore:
    """The store in Z directory ``path``, its arrays memory-mapped after :func:`_checked` (and, with ``verify``,
    their CRC-32). ``fix`` ends the messages (default: write ``path`` again)."""
    fix = fix or f"write it again with: zspace encode RUN_DIR --out {path} --force"
    info = _zdir_info(path, fix)
    names = [name for name in (*VECTORS, "labels", "factors", "index") if (path / f"{name}.npy").exists()]
    crc32: dict[str, int] = {}
    try:
        listing = checksums.listed_crc32(info, f"Z directory {path}", f"to add them, {fix}") if verify else None
        if listing is not None:
            crc32 = checksums.crc32_of_used(listing, path, [f"{name}.npy" for name in names])
    except ValueError as exc:
        raise ZspaceError(f"Z directory {path}: {exc}; {fix}") from None
    data = {}
    for name in names:
        file = path / f"{name}.npy"
        try:
            data[name] = npyfiles.open_npy(file, crc32.get(file.name))
        except checksums.ChecksumMismatch as exc:
            raise ZspaceError(f"Z directory {path}: {name}.npy is {exc}; {fix}") from None
        except (ValueError, OSError) as exc:
            reason = exc if isinstance(exc, ValueError) else (exc.strerror or type(exc).__name__)
            raise ZspaceError(f"Z directory {path}: {name}.npy is not a readable .npy ({reason}); {fix}") from None
    if "z" not in data:
        raise ZspaceError(f"Z directory {path} has no z.npy, so it holds no latent points; {fix}")

    def label(name: str) -> str:
        return f"Z directory {path}: {name}.npy"

    n, dim, names = info["n_points"], info["dim"], info["factor_names"]
    z = _checked(label, fix, data, "z", 2, "fi", n, dim)
    if dim == 0:
        raise ZspaceError(f"Z directory {path}: meta.json gives dim 0, no latent dimension; {fix}")
    mu, logvar = (_checked(label, fix, data, name, 2, "fi", n, dim) for name in ("mu", "logvar"))
    index = _checked(label, fix, data, "index", 1, "iu", n)
    labels = _checked(label, fix, data, "labels", 1, "iu", n)
    factors = _checked(label, fix, data, "factors", 2, "fi", n, len(names))
    if factors is None and names:
        raise ZspaceError(f"Z directory {path}: meta.json names {len(names)} factors but there is no factors.npy; "
                          f"{fix}")
    return ZStore(z=z, index=np.arange(n) if index is None else index, mu=mu, logvar=logvar, labels=labels,
                  factors=factors, factor_names=list(names), meta=info["meta"])


def _load_sharded(path: Path, *, verify: bool = True) -> ZStore:
    """The store in sharded Z directory ``path``: its shards' stores (:func:`_load_zdir`) joined in row order.

    ``verify``: check the CRC-32 of every file (False: headers and sizes only,
    for the store an encode has just written and checked).
    """
    fix = f"write it again with: zspace encode RUN_DIR --out {path} --force"
    info, dirs = zshards.read_listing(path) if verify else _unverified_listing(path)
    _check_info_fields(path, info, fix)
    n, dim, names = info["n_points"], info["dim"], info["factor_names"]
    parts = [_load_zdir(d, verify=verify, fix=fix) for d in dirs]
    rows = 0
    for number, (d, part) in enumerate(zip(dirs, parts)):
        record = _shard_record(d)
        where = f"Z directory {path}: shard {d.name}"
        if record is None or record.get("index") != number or record.get("count") != len(dirs) or \
                record.get("rows") != [rows, rows + len(part.z)]:
            raise ZspaceError(f"{where} does not say it holds rows {rows}.. of shard {number} of {len(dirs)}; {fix}")
        if part.z.shape[1] != dim or part.factor_names != names:
            raise ZspaceError(f"{where} has d = {part.z.shape[1]} and factors {part.factor_names}, but meta.json "
                              f"says d = {dim} and factors {names}; {fix}")
        for name in ("mu", "labels", "factors"):
            if (getattr(part, name) is None) != (getattr(parts[0], name) is None):
                raise ZspaceError(f"{where} {'lacks' if getattr(part, name) is None else 'has'} {name}.npy, "
                                  f"unlike shard {dirs[0].name}; {fix}")
        rows += len(part.z)
    if rows != n:
        raise ZspaceError(f"Z directory {path}: its shards hold {rows} rows, but meta.json says {n}; {fix}")

    def joined(name: str) -> RowStore | None:
        return None if getattr(parts[0], name) is None else RowStore([getattr(part, name) for part in parts])

    return ZStore(z=joined("z"), index=np.concatenate([part.index for part in parts]), mu=joined("mu"),
                  logvar=joined("logvar"), factors=joined("factors"),
                  labels=None if parts[0].labels is None else np.concatenate([part.labels for part in parts]),
                  factor_names=list(names), meta=info["meta"])


def _unverified_listing(path: Path) -> tuple[dict[str, Any], list[Path]]:
    """The top-level meta.json of sharded Z directory ``path`` and its shard folders, nothing checked."""
    info = json.loads((path / ZDIR_META).read_text(encoding="utf-8"))
    return info, [path / entry for entry in info[zshards.SHARDS_FIELD]]


def _shard_record(shard: Path) -> dict[str, Any] | None:
    """The ``shard`` field of a shard's meta.json (which part of which encode), None when unreadable."""
    try:
        info = json.loads((shard / ZDIR_META).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None
    record = info.get(zshards.SHARD_FIELD) if isinstance(info, dict) else None
    return record if isinstance(record, dict) else None


def _zdir_info(path: Path, fix: str) -> dict[str, Any]:
    """meta.json of Z directory ``path``, its fields checked."""
    file = path / ZDIR_META
    if not any((path / name).exists() for name in ZDIR_FILES):
        raise ZspaceError(f"{path} is a directory but not a Z directory (no meta.json, no z.npy); give a Z file "
                          "or a Z directory written by zspace encode --out")
    if not file.is_file():
        raise ZspaceError(f"Z directory {path} has no meta.json, so it is not a complete Z directory; {fix}")
    try:
        info = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ZspaceError(f"Z directory {path}: meta.json is not readable JSON ({exc}); {fix}") from None
    if not isinstance(info, dict) or not str(info.get("format", "")).startswith("zspace.zdir/"):
        raise ZspaceError(f"Z directory {path}: meta.json does not say format {ZDIR_FORMAT!r}; "
                          f"it was not written by zspace encode")
    if info["format"] != ZDIR_FORMAT:
        raise ZspaceError(f"Z directory {path}: meta.json says format {info['format']!r}, which this zspace "
                          f"cannot read (it reads {ZDIR_FORMAT!r}); upgrade zspace or {fix}")
    _check_info_fields(path, info, fix)
    return info


def _check_info_fields(path: Path, info: dict[str, Any], fix: str) -> None:
    """The fields every Z directory's meta.json holds (n_points, dim, factor_names, meta), checked."""
    checks = {"n_points": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
              "dim": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
              "factor_names": lambda v: isinstance(v, list) and all(isinstance(s, str) for s in v),
              "meta": lambda v: isinstance(v, dict)}
    for key, ok in checks.items():
        if key not in info or not ok(info[key]):
            want = {"n_points": "a count", "dim": "a count", "factor_names": "a list of names",
                    "meta": "a JSON object"}[key]
            found = "missing" if key not in info else repr(info[key])[:40]
            raise ZspaceError(f"Z directory {path}: meta.json field {key!r} is {found}, not {want}; {fix}")


def _checked(label: Callable[[str], str], fix: str, data: dict[str, np.ndarray], name: str, ndim: int, kinds: str,
             rows: int | None = None, cols: int | None = None) -> np.ndarray | None:
    """``data[name]`` (None when absent) if it has ``ndim`` dims, a dtype kind in ``kinds`` and the given sizes.

    ``label(name)`` starts the error message ("Z file PATH: array 'z'"), ``fix`` ends it.
    """
    if name not in data:
        return None
    arr = data[name]
    expected = (rows, cols)[:ndim]
    if arr.ndim != ndim or arr.dtype.kind not in kinds or any(e is not None and s != e
                                                               for s, e in zip(arr.shape, expected)):
        want = ", ".join("?" if e is None else str(e) for e in expected) + ("," if ndim == 1 else "")
        raise ZspaceError(f"{label(name)} is {arr.dtype} {arr.shape}, not a {ndim}-D "
                          f"{'/'.join(_KIND_NAMES[k] for k in kinds)} array of shape ({want}); {fix}")
    return arr


_KIND_NAMES = {"f": "float", "i": "int", "u": "uint", "U": "str"}
