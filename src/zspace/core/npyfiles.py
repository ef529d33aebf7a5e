"""Reading .npy and .npz files that come from users: headers checked before numpy allocates.

``np.load(..., allow_pickle=False)`` never unpickles, but it trusts the
header: a 200-byte file that declares a (10^6, 10^6) float64 array makes
numpy allocate 8 TB (a MemoryError) before it finds the data missing, and a
damaged .npz raises zipfile and zlib errors besides ValueError. The readers
here check every header against the bytes the file (or the .npz member)
really holds, refuse object dtypes before numpy sees them, and turn every
failure into a :class:`ValueError` with a one-line reason, so a caller needs
one ``except ValueError`` to word its own :class:`~zspace.core.errors.ZspaceError`.
A reason that mentions "pickle" means the file holds Python objects.

The data are checked too where a checksum was recorded: every .npz member
against the CRC-32 its zip entry holds (a mapped member by
:func:`zspace.core.checksums.check_crc32` before it is mapped, an inflated
one by zipfile as it is read), and an .npy given its CRC-32 (a Z directory
lists them) before it is mapped. Damaged data raise
:class:`~zspace.core.checksums.ChecksumMismatch`, a ValueError. A plain .npy
has no checksum (the format holds none), so its data cannot be checked.
"""

from __future__ import annotations

import math
import os
import struct
import tokenize
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO, Sequence

import numpy as np

from zspace.core.checksums import ChecksumMismatch, check_crc32

#: deflate expands at most about 1032-fold; a member claiming more is corrupt (or a zip bomb)
MAX_DEFLATE_RATIO = 1100
#: what numpy's header parser raises for damaged header text, besides ValueError
_HEADER_ERRORS = (ValueError, SyntaxError, TypeError, OverflowError, RecursionError, tokenize.TokenError)
#: what zipfile and zlib raise for damaged archives, besides ValueError
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError)


def check_header(fh: BinaryIO, available: int) -> tuple[tuple[int, ...], np.dtype]:
    """Read the magic and header of a .npy stream; (shape, dtype) if its data fit in ``available`` bytes.

    ``available`` is the size of the whole .npy (file or .npz member), header
    included. Raises ValueError for a missing magic, an unknown format
    version, Python objects, a negative or impossible shape, or data the
    header declares but the file does not hold.
    """
    shape, dtype, _ = read_header(fh, available)
    return shape, dtype


def read_header(fh: BinaryIO, available: int) -> tuple[tuple[int, ...], np.dtype, bool]:
    """:func:`check_header`, with the header's ``fortran_order`` flag; ``fh`` is left at the first data byte."""
    version = np.lib.format.read_magic(fh)
    try:
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
        else:
            raise ValueError(f".npy format version {version[0]}.{version[1]} is not supported")
    except _HEADER_ERRORS as exc:  # numpy parses the header's text with tokenize and ast
        raise ValueError(f"the header cannot be parsed ({_reason(exc)})") from None
    if dtype.hasobject:
        raise ValueError(f"dtype {dtype} holds Python objects (pickle), which are never loaded")
    # negative sizes, or sizes numpy could not hold even when one of them is 0 (no data) and the array
    # is converted to a 16-byte dtype
    if any(d < 0 for d in shape) or math.prod(max(d, 1) for d in shape) >= 2 ** 59:
        raise ValueError(f"the header declares the impossible shape {shape}")
    if dtype.itemsize == 0:
        raise ValueError(f"dtype {dtype} has no size")
    needed = math.prod(shape) * dtype.itemsize
    left = available - fh.tell()
    if needed > left:
        raise ValueError(f"truncated: the header declares {dtype} {shape} ({needed} bytes) but only "
                         f"{max(left, 0)} bytes follow")
    return tuple(shape), dtype, bool(fortran)


def open_npy(path: str | os.PathLike, crc32: int | None = None) -> np.ndarray:
    """A read-only memory map of the array in a .npy file, its header checked first (ValueError otherwise).

    Nothing is read into memory: rows are paged in from the file when they
    are used. An array without data (a zero in its shape) comes back as an
    empty in-memory array, since an empty map cannot be made. ``crc32``: the
    CRC-32 of the whole file recorded when it was written; given, the file
    is read once in order and compared before it is mapped
    (:class:`~zspace.core.checksums.ChecksumMismatch` when it differs).
    """
    try:
        with open(path, "rb") as fh:
            return _map(fh, 0, os.fstat(fh.fileno()).st_size, crc32)
    except (ValueError, *_ZIP_ERRORS) as exc:
        raise _reworded(exc) from None


def open_npz_member(path: str | os.PathLike, name: str) -> np.ndarray:
    """Array ``name`` of an .npz: a read-only memory map when the member is stored, loaded when compressed.

    ``np.savez`` stores its members uncompressed, so their bytes lie in the
    archive as they would in a .npy file and can be mapped the same way;
    ``np.savez_compressed`` members have to be inflated into memory. Either
    way the member's bytes are compared with the CRC-32 of its zip entry
    before the array is returned (:class:`~zspace.core.checksums.ChecksumMismatch`
    naming the array when they differ); a stored member is read once for
    that, which leaves its pages cached for the reads that follow.
    """
    try:
        size = Path(path).stat().st_size
        with zipfile.ZipFile(path) as archive:
            members = {_array_name(info.filename): info for info in archive.infolist()}
            if name not in members:
                raise ValueError(f"no array named {name!r}")
            info = members[name]
            if info.compress_type != zipfile.ZIP_STORED:
                try:
                    return _read_member(archive, info, size)
                except (ValueError, *_ZIP_ERRORS) as exc:
                    raise _reworded(exc, f"array {name!r}: ") from None
        with open(path, "rb") as fh:
            fh.seek(info.header_offset)
            local = fh.read(30)
            if len(local) < 30 or local[:4] != b"PK\x03\x04":
                raise ValueError(f"array {name!r}: its zip entry header is missing; the archive is corrupt")
            name_len, extra_len = struct.unpack("<HH", local[26:30])
            start = info.header_offset + 30 + name_len + extra_len
            if info.file_size > size - start:
                raise ValueError(f"array {name!r}: the zip directory claims {info.file_size} bytes but the "
                                 "archive ends first; the archive is corrupt")
            try:
                return _map(fh, start, start + info.file_size, info.CRC)
            except ValueError as exc:
                raise _reworded(exc, f"array {name!r}: ") from None
    except _ZIP_ERRORS as exc:
        raise ValueError(_reason(exc)) from None


def _map(fh: BinaryIO, start: int, end: int, crc32: int | None = None) -> np.ndarray:
    """Memory map of the .npy stored in bytes [start, end) of the open file ``fh``, its header checked, then
    (when ``crc32`` is given) the CRC-32 of those bytes."""
    fh.seek(start)
    shape, dtype, fortran = read_header(fh, end)
    offset = fh.tell()
    if crc32 is not None:
        check_crc32(fh.fileno(), crc32, start, end - start)
    if math.prod(shape) == 0:
        return np.empty(shape, dtype=dtype)
    # the map is made from the file just checked (not from its path, which may name another file by now)
    return np.memmap(fh, dtype=dtype, mode="r", offset=offset, shape=shape, order="F" if fortran else "C")


def npz_names(path: str | os.PathLike) -> list[str]:
    """Names of the arrays in an .npz (member names without ``.npy``), in file order."""
    try:
        with zipfile.ZipFile(path) as archive:
            return [_array_name(info.filename) for info in archive.infolist()]
    except _ZIP_ERRORS as exc:
        raise ValueError(_reason(exc)) from None


def load_npz(path: str | os.PathLike, names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Arrays ``names`` (default: all) of an .npz, each member checked before it is read.

    Raises ValueError naming the array for a missing, compressed-oddly,
    inflated, truncated or pickle-bearing member.
    """
    try:
        size = Path(path).stat().st_size
        with zipfile.ZipFile(path) as archive:
            members = {_array_name(info.filename): info for info in archive.infolist()}
            out = {}
            for name in members if names is None else names:
                if name not in members:
                    raise ValueError(f"no array named {name!r}")
                try:
                    out[name] = _read_member(archive, members[name], size)
                except (ValueError, *_ZIP_ERRORS) as exc:
                    raise _reworded(exc, f"array {name!r}: ") from None
            return out
    except _ZIP_ERRORS as exc:
        raise ValueError(_reason(exc)) from None


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, archive_size: int) -> np.ndarray:
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise ValueError(f"zip compression method {info.compress_type} is not used by numpy")
    limit = info.compress_size * (1 if info.compress_type == zipfile.ZIP_STORED else MAX_DEFLATE_RATIO) + 64
    if info.compress_size > archive_size or info.file_size > limit:
        raise ValueError(f"the zip directory claims {info.file_size} bytes from {info.compress_size} stored; "
                         "the archive is corrupt")
    broken = (zipfile.BadZipFile, zlib.error, EOFError)  # a bad CRC-32 (zipfile checks it at the last byte), a
    # broken deflate stream or one that ends early
    try:
        with archive.open(info) as fh:
            check_header(fh, info.file_size)  # a small member is read to its end (and its CRC-32 checked) here
    except broken as exc:
        raise ChecksumMismatch(f"damaged: {_reason(exc)}") from None
    with archive.open(info) as fh:
        try:
            array = np.lib.format.read_array(fh, allow_pickle=False)
            while fh.read(1 << 20):  # on to the last byte: the array may end before the end of the deflate stream
                pass
        except (ValueError, *broken) as exc:  # the header was checked and fits: the data are damaged
            raise ChecksumMismatch(f"damaged: {_reason(exc)}") from None
    return array


def _array_name(filename: str) -> str:
    return filename[:-4] if filename.endswith(".npy") else filename


def _reworded(exc: BaseException, prefix: str = "") -> ValueError:
    """``exc`` as a one-line ValueError starting with ``prefix``; damaged data stay a ChecksumMismatch."""
    return (ChecksumMismatch if isinstance(exc, ChecksumMismatch) else ValueError)(prefix + _reason(exc))


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


__all__ = ["check_header", "open_npy", "npz_names", "load_npz", "open_npz_member", "MAX_DEFLATE_RATIO"]
