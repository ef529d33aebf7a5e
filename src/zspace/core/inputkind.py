"""What kind of input a path is: a run directory, a Z file, a Z directory, a directory of .npy shards, an .npy array.

The one rule every reader of a user's path decides with (``zspace factors``,
``projector``, ``analyze``, :func:`zspace.pipeline.zstore.load_zstore`). It
looks at the path, its suffix and the names in a directory only: no file is
opened, so it costs a few ``stat`` calls whatever the size of the input.

=================  ==========================================================
kind               the path is
=================  ==========================================================
``RUN``            a directory holding ``config.json`` (``zspace train --out``)
``Z_DIR``          any other directory holding ``meta.json`` (``zspace encode
                   --out DIR``: ``z.npy``, ``index.npy``, ... and ``meta.json``)
                   or ``shards/`` (a sharded one, written by N processes or
                   ``--shard i/N``: :mod:`zspace.core.zshards`; without its
                   ``meta.json`` it is still being written, and readers say so)
``SHARD_DIR``      any other directory: ``.npy`` shards read in name order as
                   one matrix (:class:`zspace.core.arrays.RowStore`); the reader
                   says when it holds none
``Z_FILE``         a file ending in ``.npz`` (``zspace encode --out Z.npz``, or
                   any ``np.savez`` file: :func:`zspace.analysis.load_latents`
                   reads any of its arrays, ``load_zstore`` only a Z file's)
``ARRAY``          a file ending in ``.npy``
=================  ==========================================================

Suffixes compare case-blind. A directory that a killed ``encode --force``
left aside is brought back first (:func:`zspace.core.io.restore_replaced_dir`),
as every reader of a Z directory does. Which kinds a command accepts is the
command's business; what a path *is* is decided here.
"""

from __future__ import annotations

import enum
from pathlib import Path

from zspace.core import io
from zspace.core.errors import ZspaceError
from zspace.core.layout import CONFIG_FILE

#: the suffix of a Z file; a store written to any other path is a Z directory
Z_FILE_SUFFIX = ".npz"
#: the suffix of a plain array file
ARRAY_SUFFIX = ".npy"
#: the file that makes a directory a Z directory (its format, sizes and checksums; zspace.pipeline.zstore)
ZDIR_META = "meta.json"
#: the folder of a sharded Z directory's shards, each a Z directory of its rows (zspace.core.zshards)
ZDIR_SHARDS = "shards"
#: what to give instead, the end of every error of :func:`input_kind`
GIVE = ("give a run directory (zspace train --out), a Z file or Z directory (zspace encode --out), "
        "a directory of .npy shards or an .npy array of z")


class InputKind(enum.Enum):
    """The kinds of input a path can be (see the module docstring); the value is how a message names it."""

    RUN = "run directory"
    Z_FILE = "Z file"
    Z_DIR = "Z directory"
    SHARD_DIR = "directory of .npy shards"
    ARRAY = ".npy array"

    @property
    def is_directory(self) -> bool:
        """Whether a path of this kind is a directory."""
        return self in (InputKind.RUN, InputKind.Z_DIR, InputKind.SHARD_DIR)


def is_z_file_name(path: str | Path) -> bool:
    """Whether a Z store written to ``path`` is a Z file: the path ends in ``.npz`` (else it is a Z directory)."""
    return Path(path).suffix.lower() == Z_FILE_SUFFIX


def kind_of(path: str | Path) -> InputKind | None:
    """The kind of ``path`` (see the module docstring), or None when it does not exist or is none of them.

    For readers with a message of their own for a missing or unknown path;
    the others call :func:`input_kind`.
    """
    path = Path(path)
    io.restore_replaced_dir(path)  # a Z directory that a killed `encode --force` left aside
    if path.is_dir():
        if (path / CONFIG_FILE).exists():
            return InputKind.RUN
        if (path / ZDIR_META).exists() or (path / ZDIR_SHARDS).is_dir():
            return InputKind.Z_DIR
        return InputKind.SHARD_DIR
    if path.is_file():
        if is_z_file_name(path):
            return InputKind.Z_FILE
        if path.suffix.lower() == ARRAY_SUFFIX:
            return InputKind.ARRAY
    return None


def input_kind(path: str | Path) -> InputKind:
    """The kind of ``path``; a one-line :class:`ZspaceError` when it does not exist or is none of the kinds."""
    kind = kind_of(path)
    if kind is not None:
        return kind
    path = Path(path)
    if not path.exists():
        raise ZspaceError(f"{path} does not exist; {GIVE}")
    what = f"a file of unknown type {path.suffix.lower()!r}" if path.is_file() else "neither a file nor a directory"
    raise ZspaceError(f"{path} is {what}; {GIVE}")


__all__ = ["InputKind", "input_kind", "kind_of", "is_z_file_name", "Z_FILE_SUFFIX", "ARRAY_SUFFIX", "ZDIR_META",
           "ZDIR_SHARDS", "GIVE"]
