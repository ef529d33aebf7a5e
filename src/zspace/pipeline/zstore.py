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

Every byte is checked when read: a Z file's members against the CRC-32 of
their zip entries, a Z directory's files against the CRC-32 that meta.json
lists (``crc32``, summed over each file once it is written). A Z directory
written before zspace listed them is read with a warning. A mismatch is a
:class:`ZspaceError` naming the file and the array: write the store again.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from zspace.core import checksums, io, npyfiles
from zspace.core.errors import ZspaceError
from zspace.core.inputkind import ZDIR_META, is_z_file_name, kind_of
from zspace.core.log import get_logger

log = get_logger(__name__)

#: the arrays a Z file may hold (others are never read)
KEYS = ("z", "mu", "logvar", "labels", "factors", "factor_names", "index", "meta")
#: the (N, d) float32 arrays of a store: what encoding fills row by row
VECTORS = ("z", "mu", "logvar")
#: ``format`` of a Z directory's meta.json
ZDIR_FORMAT = "zspace.zdir/1"
#: the files of a Z directory (a directory holding anything else is never replaced)
ZDIR_FILES = ("z.npy", "mu.npy", "logvar.npy", "labels.npy", "factors.npy", "index.npy", ZDIR_META)
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
    """Latent points of N images; see the module docstring for shapes."""

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
        arrays: dict[str, np.ndarray] = {"z": self.z.astype(np.float32), "index": self.index.astype(np.int64),
                                         "meta": np.array(json.dumps(io.to_jsonable(self.meta)))}
        for name in ("mu", "logvar"):
            value = getattr(self, name)
            if value is not None:
                arrays[name] = value.astype(np.float32)
        if self.labels is not None:
            arrays["labels"] = self.labels.astype(np.int64)
        if self.factors is not None:
            arrays["factors"] = self.factors.astype(np.float32)
            arrays["factor_names"] = np.array(self.factor_names, dtype=str)
        return io.save_npz(path, **arrays)


@contextlib.contextmanager
def writing_zdir(path: str | Path, n: int, *, index: np.ndarray | None = None, labels: np.ndarray | None = None,
                 factors: np.ndarray | None = None, factor_names: Sequence[str] = (),
                 meta: dict[str, Any] | None = None) -> Iterator[Allocate]:
    """Build the Z directory ``path`` of ``n`` points; yield ``allocate(name, (n, d))`` for its z, mu and logvar.

    ``allocate`` returns a writable float32 memory map of ``name.npy`` (z,
    mu or logvar; z is required) for the caller to fill. When the block ends,
    ``index`` (default 0..n-1), ``labels``, ``factors`` and meta.json are
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
        _write_rows(tmp / "index.npy", (n,), np.int64, index if index is not None else np.arange)
        if labels is not None:
            _write_rows(tmp / "labels.npy", (n,), np.int64, labels)
        if factors is not None:
            _write_rows(tmp / "factors.npy", (n, len(factor_names)), np.float32, factors)
        crc32 = checksums.crc32_files(tmp, sorted(f.name for f in tmp.iterdir() if f.suffix == ".npy"))
        io.write_json(tmp / ZDIR_META, {"format": ZDIR_FORMAT, "n_points": n, "dim": dim,
                                          "factor_names": [str(s) for s in factor_names], "meta": meta or {},
                                          checksums.CRC32_FIELD: crc32})


def _require_replaceable(path: Path) -> None:
    if not path.exists() and not path.is_symlink():
        return
    if path.is_dir() and not path.is_symlink():
        others = sorted(child.name for child in path.iterdir() if child.name not in ZDIR_FILES)
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


def load_zstore(path: str | Path) -> ZStore:
    """Read a Z file or a Z directory written by :meth:`ZStore.save` or ``zspace encode``.

    Every array is checked against the module docstring's shapes and dtypes
    (headers before reading, see :mod:`zspace.core.npyfiles`) and its bytes
    against their recorded CRC-32; anything else is a :class:`ZspaceError`
    naming the file and the array. The arrays of a Z directory are read-only
    memory maps: rows are read from disk when used (the check has read each
    file once, in order, so its pages are cached for those reads when memory
    allows).
    """
    path = Path(path)
    kind = kind_of(path)  # the one rule (zspace.core.inputkind); restores a Z directory a killed encode left aside
    if kind is not None and kind.is_directory:  # a run or a shard directory: _load_zdir says it is no Z directory
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


def _load_zdir(path: Path) -> ZStore:
    """The store in Z directory ``path``, its arrays memory-mapped after :func:`_checked`."""
    fix = f"write it again with: zspace encode RUN_DIR --out {path} --force"
    info = _zdir_info(path, fix)
    names = [name for name in (*VECTORS, "labels", "factors", "index") if (path / f"{name}.npy").exists()]
    crc32: dict[str, int] = {}
    try:
        listing = checksums.listed_crc32(info, f"Z directory {path}", f"to add them, {fix}")
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
    return info


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
