"""Loading and checking the input of ``zspace analyze`` at the door.

Accepted inputs
---------------
* a ``Z.npz`` written by ``zspace encode``: ``z`` (N, d), and when present
  ``mu`` (N, d), ``logvar`` (N, d), ``labels`` (N,);
* any ``.npz`` holding an (N, d) array under ``key`` (default ``z``, or the
  only array in the file);
* any ``.npy`` holding an (N, d) array;
* a directory of ``.npy`` shards read in name order as one array (the layout
  embedding tools write: ``emb_0000.npy``, ``emb_0001.npy``, ...; a Z
  directory from ``zspace encode --out DIR`` is one shard, ``z.npy``), with
  optional ``labels.npy`` (N,), ``mu.npy`` and ``logvar.npy`` (N, d) beside
  them (and ``factors.npy``, ``index.npy``, which the analyses do not use);
* a sharded Z directory (``zspace encode --out DIR`` on N processes, or
  ``--shard i/N``; :mod:`zspace.core.zshards`): the ``z.npy`` of its shards
  in row order as one array, their ``mu.npy`` and ``logvar.npy`` the same
  way, their ``labels.npy`` joined in memory. One still being written (no
  top-level ``meta.json``) is refused, saying how to finish it.

Files are never read whole: a ``.npy``, a shard or an uncompressed ``.npz``
member is memory-mapped (:mod:`zspace.core.npyfiles`, header checked against
the file size first) and wrapped in a :class:`~zspace.core.arrays.RowStore`
that the analyses read block by block, so the input may be larger than
memory. Only a compressed ``.npz`` member is inflated into memory. A file
with Python objects in it is refused, never unpickled.

Every byte that has a recorded checksum is checked before an analysis uses
it: each ``.npz`` member used against the CRC-32 of its zip entry, and each
file of a Z directory against the CRC-32 its ``meta.json`` lists (an older
Z directory without them is read with a warning). A mismatch is refused in
one line naming the file and the array. The check reads each file once, in
order, which leaves its pages cached for the analyses that follow. A plain
``.npy`` (or a directory of them) holds no checksum, so its data cannot be
checked. Rows with a NaN or
infinity in ``z`` (or in ``mu``/``logvar``) are dropped and counted without
a copy of the rest; values of ``z`` beyond :data:`MAX_ABS_VALUE` are refused;
everything else that is wrong is a :class:`~zspace.core.errors.ZspaceError`
with a one-line message that names the file.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from zspace.core import checksums, npyfiles, zshards
from zspace.core.arrays import RowStore
from zspace.core.errors import ZspaceError
from zspace.core.inputkind import ZDIR_META, InputKind, kind_of
from zspace.core.log import get_logger
from zspace.core.rows import float32_block, row_chunks

log = get_logger(__name__)

#: the array name used in Z.npz files and the default --key
DEFAULT_KEY = "z"
#: largest |z| accepted: the analyses sum squared distances in float32 (max 3.4e38), which must stay finite
MAX_ABS_VALUE = 1e12
#: .npy files of a shard directory that sit beside the z shards instead of being shards
SIDECARS = ("mu", "logvar", "labels", "factors", "index")
#: how the ``format`` in the meta.json of a Z directory (written by ``zspace encode --out DIR``) starts
ZDIR_FORMAT_PREFIX = "zspace.zdir/"


@dataclasses.dataclass
class LatentInput:
    """Checked z-points, ready for the analyses.

    Attributes
    ----------
    z : numpy.ndarray or RowStore, float32, shape (N, d)
        Latent points, all finite, N >= 2, d >= 2. A RowStore (memory-mapped
        files read block by block) for file inputs, an array for in-memory ones.
    mu, logvar : numpy.ndarray or RowStore, float32, shape (N, d), or None
        Posterior mean and log-variance of a VAE, row-aligned with ``z``.
    labels : numpy.ndarray, int64, shape (N,), or None
        Class label per row (-1 = unknown).
    source : str
        The file and key the points came from.
    n_rows_read : int
        Rows in the file before any drop.
    n_rows_dropped_nonfinite : int
        Rows dropped because ``z``, ``mu`` or ``logvar`` had a NaN or infinity.
    """

    z: np.ndarray
    mu: np.ndarray | None = None
    logvar: np.ndarray | None = None
    labels: np.ndarray | None = None
    source: str = "<array>"
    n_rows_read: int = 0
    n_rows_dropped_nonfinite: int = 0

    @property
    def n_points(self) -> int:
        """N, the number of rows analysed."""
        return int(self.z.shape[0])

    @property
    def dim(self) -> int:
        """d, the latent dimension."""
        return int(self.z.shape[1])

    @property
    def has_vae(self) -> bool:
        """Whether ``mu`` and ``logvar`` are present."""
        return self.mu is not None and self.logvar is not None

    def summary(self) -> dict:
        """What was read, for analysis.json."""
        return {
            "source": self.source,
            "n_rows_read": self.n_rows_read,
            "n_rows_dropped_nonfinite": self.n_rows_dropped_nonfinite,
            "n_points": self.n_points,
            "dim": self.dim,
            "dtype": "float32",
            "storage": (f"memory-mapped, read in row blocks ({len(self.z.parts)} file part(s))"
                        if isinstance(self.z, RowStore) else "in memory"),
            "has_mu_logvar": self.has_vae,
            "has_labels": self.labels is not None,
        }


def load_latents(path: str | Path, key: str | None = None) -> LatentInput:
    """Open and check an .npy or .npz file, or a directory of .npy shards, of z-points (nothing read whole).

    Parameters
    ----------
    path : str or Path
        An ``.npy`` file with one (N, d) array, an ``.npz`` file, or a
        directory of ``.npy`` shards (see the module docstring).
    key : str, optional
        Name of the (N, d) array in an ``.npz``. Default ``z``, or the only
        array when the file holds one. ``mu``/``logvar``/``labels`` are taken
        from the same ``.npz`` only when ``key`` is ``z``.

    Returns
    -------
    LatentInput

    Raises
    ------
    ZspaceError
        Missing or empty file, unknown format, pickled content, wrong key,
        wrong shape or dtype, mismatched ``mu``/``logvar``, or fewer than two
        finite rows.
    """
    path = Path(path)
    kind = kind_of(path)  # the one rule (zspace.core.inputkind); restores a Z directory a killed encode left aside
    if kind is not None and kind.is_directory:  # a Z directory, a shard directory (a run holds no shard)
        return _load_directory(path)
    if not path.is_file():
        raise ZspaceError(f"{path}: no such file; give the path of a Z.npz from 'zspace encode', an .npy/.npz array "
                          "or a directory of .npy shards")
    if path.stat().st_size == 0:
        raise ZspaceError(f"{path}: the file is empty; re-run 'zspace encode' or point to a non-empty .npy/.npz")
    suffix = path.suffix.lower()
    if kind is InputKind.ARRAY:
        if key is not None:
            log.info("%s is an .npy file with a single array; --key %s is ignored", path, key)
        return from_arrays(_open_npy(path), source=str(path))
    if kind is InputKind.Z_FILE:
        return _load_npz(path, key)
    raise ZspaceError(f"{path}: unknown file type {suffix!r}; give an .npy or .npz file holding an (N, d) array")


def _open_npy(path: Path, crc32: int | None = None, fix: str = "") -> np.ndarray:
    """The array of an .npy, memory-mapped, its bytes checked against ``crc32`` when given; ZspaceError naming
    the file (``fix`` ends the message of damaged bytes)."""
    try:
        return npyfiles.open_npy(path, crc32)
    except checksums.ChecksumMismatch as exc:
        raise ZspaceError(f"{path}: {exc}; {fix}") from None
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise ZspaceError(f"{path}: the array holds Python objects (pickle), which zspace never loads; "
                              "save a numeric array with np.save(..., allow_pickle=False)") from None
        raise ZspaceError(f"{path}: not a readable .npy file ({exc}); save the array with np.save") from None


def _load_directory(path: Path) -> LatentInput:
    """The z shards of a directory (name order) as one RowStore, with the sidecars beside them."""
    if zshards.is_sharded(path):
        return _load_sharded_zdir(path)
    files = sorted((f for f in path.iterdir() if f.suffix == ".npy" and f.is_file()), key=lambda f: f.name)
    shards = [f for f in files if f.stem not in SIDECARS]
    if not shards:
        raise ZspaceError(f"{path}: no .npy shards in the directory; put the (n_i, d) arrays there as "
                          "emb_0000.npy, emb_0001.npy, ... (read in name order)")
    read = [f for f in files if f.stem in ("mu", "logvar", "labels")]
    crc32, fix = _zdir_crc32(path, [f.name for f in (*shards, *read)])
    parts = []
    for shard in shards:
        part = _open_npy(shard, crc32.get(shard.name), fix)
        if part.ndim != 2 or not _is_real(part.dtype):
            raise ZspaceError(f"{shard}: shard is {part.dtype} {part.shape}; every shard must be a real-valued "
                              "(n_i, d) matrix; rewrite it or move it out of the directory")
        if parts and part.shape[1] != parts[0].shape[1]:
            raise ZspaceError(f"{shard}: shard has d = {part.shape[1]} columns but {shards[0].name} has "
                              f"{parts[0].shape[1]}; every shard of {path} must have the same d")
        if parts and part.dtype != parts[0].dtype:
            raise ZspaceError(f"{shard}: shard is {part.dtype} but {shards[0].name} is {parts[0].dtype}; "
                              "write every shard with one dtype")
        parts.append(part)
    sidecar = {f.stem: _open_npy(f, crc32.get(f.name), fix) for f in read}
    source = f"{path}/ ({len(parts)} shard{'s' if len(parts) != 1 else ''})"
    return from_arrays(RowStore(parts), sidecar.get("mu"), sidecar.get("logvar"), sidecar.get("labels"), source=source)


def _load_sharded_zdir(path: Path) -> LatentInput:
    """A sharded Z directory (:mod:`zspace.core.zshards`): the z.npy of its shards, in row order, as one RowStore,
    mu and logvar the same way, labels joined in memory (8 bytes a row); every file checked against the CRC-32
    its shard's meta.json lists, and each shard's meta.json against the top-level one's."""
    info, dirs = zshards.read_listing(path)
    fix = f"write the Z directory again with: zspace encode RUN_DIR --out {path} --force"
    names = ("z", "mu", "logvar", "labels")
    shards = []
    for shard in dirs:
        present = [name for name in names if (shard / f"{name}.npy").is_file()]
        if present != [name for name in names if (dirs[0] / f"{name}.npy").is_file()] or "z" not in present:
            raise ZspaceError(f"{shard}: holds {', '.join(f'{n}.npy' for n in present) or 'no array'}, unlike "
                              f"{dirs[0].name}; every shard of {path} needs z.npy and the same others; {fix}")
        crc32, _ = _zdir_crc32(shard, [f"{name}.npy" for name in present], fix)
        shards.append({name: _open_npy(shard / f"{name}.npy", crc32.get(f"{name}.npy"), fix) for name in present})
    for shard, arrays in zip(dirs, shards):
        z = arrays["z"]
        if z.ndim != 2 or not _is_real(z.dtype) or z.shape[1] != info.get("dim"):
            raise ZspaceError(f"{shard / 'z.npy'}: is {z.dtype} {z.shape}, not a real (n_i, {info.get('dim')}) "
                              f"matrix as meta.json of {path} says; {fix}")
    if sum(len(arrays["z"]) for arrays in shards) != info.get("n_points"):
        raise ZspaceError(f"{path}: its shards hold {sum(len(a['z']) for a in shards)} rows, but its meta.json says "
                          f"{info.get('n_points')}; {fix}")

    def joined(name: str) -> RowStore | None:
        if name not in shards[0]:
            return None
        parts = [arrays[name] for arrays in shards]
        if any(part.ndim != 2 or part.shape[1] != parts[0].shape[1] for part in parts):
            raise ZspaceError(f"{path}: the {name}.npy of its shards are not (n_i, d) matrices of one width; {fix}")
        return RowStore(parts)

    labels = None
    if "labels" in shards[0]:
        labels = np.concatenate([np.asarray(arrays["labels"]) for arrays in shards])
    source = f"{path}/ (sharded Z directory, {len(dirs)} shard{'s' if len(dirs) != 1 else ''})"
    return from_arrays(joined("z"), joined("mu"), joined("logvar"), labels, source=source)


def _zdir_crc32(path: Path, used: list[str], fix: str | None = None) -> tuple[dict[str, int], str]:
    """The recorded CRC-32 of the files ``used`` when ``path`` is a Z directory that lists them, else {}; and the
    fix for a damaged one (``fix``, default: write ``path`` again). An older Z directory without them warns; a
    damaged listing is a ZspaceError."""
    fix = fix or f"write the Z directory again with: zspace encode RUN_DIR --out {path} --force"
    file = path / ZDIR_META
    if not file.exists():
        return {}, fix  # a directory of the user's shards: nothing was recorded
    try:
        info = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ZspaceError(f"{file}: not readable JSON ({' '.join(str(exc).split())}), so the files of this Z directory "
                          f"cannot be checked; {fix}, or move meta.json out of a directory of your own shards") from None
    if not isinstance(info, dict) or not str(info.get("format", "")).startswith(ZDIR_FORMAT_PREFIX):
        return {}, fix  # the user's own meta.json
    try:
        listing = checksums.listed_crc32(info, f"Z directory {path}", f"to add them, {fix}")
        return ({} if listing is None else checksums.crc32_of_used(listing, path, used)), fix
    except ValueError as exc:
        raise ZspaceError(f"Z directory {path}: {exc}; {fix}") from None


def _load_npz(path: Path, key: str | None) -> LatentInput:
    try:
        names = npyfiles.npz_names(path)
    except ValueError as exc:
        raise ZspaceError(f"{path}: not a readable .npz file ({exc}); save the arrays with np.savez") from None
    if not names:
        raise ZspaceError(f"{path}: the .npz holds no arrays; write z with np.savez(path, z=z)")
    if key is None:
        key = DEFAULT_KEY if DEFAULT_KEY in names or len(names) != 1 else names[0]
    if key not in names:
        listed = ", ".join(name if name.isprintable() else repr(name) for name in names)
        raise ZspaceError(f"{path}: no array named {key!r} (the file has {listed}); pass --key NAME")
    wanted = [key] + ([name for name in ("mu", "logvar", "labels") if name in names] if key == DEFAULT_KEY else [])
    fix = (f"write it again with: zspace encode RUN_DIR --out {path} --force" if "meta" in names else
           "write it again with np.savez")
    arrays = {name: _open_member(path, name, fix) for name in wanted}
    return from_arrays(arrays.pop(key), **arrays, source=f"{path}[{key}]")


def _open_member(path: Path, name: str, fix: str) -> np.ndarray:
    """Member ``name`` of an .npz: memory-mapped when stored uncompressed (np.savez), else inflated; its bytes
    checked against the CRC-32 of its zip entry (``fix`` ends the message when they differ)."""
    try:
        return npyfiles.open_npz_member(path, name)
    except checksums.ChecksumMismatch as exc:
        raise ZspaceError(f"{path}: {exc}; {fix}") from None
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise ZspaceError(f"{path}: {exc}; zspace never loads Python objects, save numeric arrays only") from None
        raise ZspaceError(f"{path}: not a readable .npz file ({exc}); save the arrays with np.savez") from None


def from_arrays(z: np.ndarray, mu: np.ndarray | None = None, logvar: np.ndarray | None = None,
                labels: np.ndarray | None = None, source: str = "<array>") -> LatentInput:
    """Check arrays the same way files are checked.

    Parameters
    ----------
    z : array-like, np.memmap or RowStore, shape (N, d)
        A memory map or RowStore stays on disk (wrapped, never copied whole);
        anything else is converted to an in-memory float32 array.
    mu, logvar : same kinds, shape (N, d), optional
        Both or neither.
    labels : array-like of int, shape (N,), optional
    source : str
        Name used in error messages.

    Returns
    -------
    LatentInput
        float32 arrays (no copy when ``z`` is already float32 and no row is dropped), or RowStores.
    """
    z = _as_matrix(z, source, "z")
    n, d = z.shape
    if d < 2:
        raise ZspaceError(f"{source}: z has d = {d} column; the analyses need d >= 2 "
                          "(a 1-D latent is a histogram: use numpy directly)")
    if (mu is None) != (logvar is None):
        missing = "logvar" if logvar is None else "mu"
        raise ZspaceError(f"{source}: found only one of mu/logvar ({missing} missing); store both or neither")
    if mu is not None:
        mu = _as_matrix(mu, source, "mu")
        logvar = _as_matrix(logvar, source, "logvar")
        for name, arr in (("mu", mu), ("logvar", logvar)):
            if arr.shape != z.shape:
                raise ZspaceError(f"{source}: {name} has shape {arr.shape} but z has {z.shape}; "
                                  f"store {name} row-aligned with z, or drop it")
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer):
            raise ZspaceError(f"{source}: labels must be integers of shape ({n},), got {labels.dtype} {labels.shape}; "
                              "fix or remove the labels array")
        labels = labels.astype(np.int64, copy=False)

    keep, largest = _finite_rows(z)
    if mu is not None:
        keep &= _finite_rows(mu)[0] & _finite_rows(logvar)[0]
    n_dropped = int(n - keep.sum())
    if n_dropped:
        log.warning("%s: dropping %d of %d rows with NaN or infinity", source, n_dropped, n)
        z, mu, logvar = (_kept(arr, keep) for arr in (z, mu, logvar))
        labels = labels[keep] if labels is not None else None
    if z.shape[0] < 2:
        raise ZspaceError(f"{source}: {z.shape[0]} finite row(s) of {n} (after dropping {n_dropped} with NaN/inf); "
                          "the analyses need at least 2 points")
    if largest > MAX_ABS_VALUE:
        raise ZspaceError(f"{source}: z reaches |z| = {largest:.3g}; beyond {MAX_ABS_VALUE:g} the squared distances "
                          "of the analyses overflow float32; rescale z (e.g. divide it by its standard deviation)")
    return LatentInput(z=z, mu=mu, logvar=logvar, labels=labels, source=source,
                       n_rows_read=n, n_rows_dropped_nonfinite=n_dropped)


def _as_matrix(arr, source: str, name: str) -> np.ndarray | RowStore:
    """``arr`` checked as a real (N, d) matrix: a RowStore for a memory map or RowStore, else a float32 array."""
    if isinstance(arr, RowStore):
        return arr
    if not isinstance(arr, np.memmap):
        arr = np.asarray(arr)
    if arr.ndim != 2:
        raise ZspaceError(f"{source}: {name} has shape {arr.shape} ({arr.ndim}-D); expected an (N, d) matrix, "
                          "reshape it to (N, d) before saving")
    if not _is_real(arr.dtype):
        raise ZspaceError(f"{source}: {name} has dtype {arr.dtype}; expected a real-valued numeric array")
    if isinstance(arr, np.memmap):
        return RowStore([arr])
    with np.errstate(over="ignore"):  # beyond float32's range: infinite, then dropped with the NaN rows
        return np.ascontiguousarray(arr, dtype=np.float32)


def _is_real(dtype: np.dtype) -> bool:
    return bool(np.issubdtype(dtype, np.floating) or np.issubdtype(dtype, np.integer))


def _finite_rows(arr) -> tuple[np.ndarray, float]:
    """Boolean mask (N,) of rows without NaN/inf (after the float32 conversion), and the largest |value| of those rows.

    One pass over row blocks.
    """
    keep = np.empty(arr.shape[0], dtype=bool)
    largest = 0.0
    for rows in row_chunks(arr.shape[0]):
        block = float32_block(arr, rows)
        keep[rows] = finite = np.isfinite(block).all(axis=1)
        if finite.any():
            largest = max(largest, float(np.abs(block if finite.all() else block[finite]).max()))
    return keep, largest


def _kept(arr, keep: np.ndarray):
    """The rows of ``arr`` where ``keep``: a RowStore restricted without a copy, an array indexed."""
    if arr is None:
        return None
    return arr.select(np.flatnonzero(keep)) if isinstance(arr, RowStore) else arr[keep]
