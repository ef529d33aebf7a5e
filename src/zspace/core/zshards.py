"""The layout of a sharded Z directory: its names and its top-level listing, for its writer and its two readers.

``zspace encode --out DIR`` on N processes (torchrun), or N invocations of
``zspace encode --out DIR --shard i/N``, write one Z directory per part::

    DIR/meta.json                        written last, once all N shards are complete (format zspace.zdir/2)
    DIR/shards/00000-of-00004/           shard 0: a complete Z directory (zspace.zdir/1) of its rows
    DIR/shards/00001-of-00004/           z.npy, mu.npy, logvar.npy, index.npy (the rows' positions in the
    ...                                  split), labels.npy, factors.npy and meta.json with its CRC-32s

The writer is :mod:`zspace.pipeline.zstore`; the readers are
:func:`zspace.pipeline.zstore.load_zstore` and
:func:`zspace.analysis.load_latents`, which sit side by side (layer 2) and
share what is here: the names, and :func:`read_listing`, the checked
top-level meta.json with the shards it lists, in row order. A directory
with ``shards/`` but no top-level meta.json is an encode in progress (or a
killed one): :func:`read_listing` refuses it, naming how many shards are
done and how to finish it. No torch, no numpy here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from zspace.core import checksums, io
from zspace.core.errors import ZspaceError
from zspace.core.inputkind import ZDIR_META, ZDIR_SHARDS

#: the folder of the shards inside a sharded Z directory
SHARDS_DIR = ZDIR_SHARDS
#: ``format`` of the top-level meta.json of a sharded Z directory (a shard's own is ``zspace.zdir/1``)
SHARDED_FORMAT = "zspace.zdir/2"
#: the field of a shard's meta.json that says which part of which encode it is
SHARD_FIELD = "shard"
#: the field of the top-level meta.json listing the shard folders, relative to the directory, in row order
SHARDS_FIELD = "shards"
#: the field (top level and in each shard's SHARD_FIELD) that identifies the encode: run, epoch, weights, data...
ENCODE_FIELD = "encode"
#: digits of the shard numbers in a shard's name (more are used when N needs them)
DIGITS = 5

_NAME = re.compile(r"(\d+)-of-(\d+)")


def shard_name(index: int, count: int) -> str:
    """``00001-of-00004``: the folder name of shard ``index`` of ``count``."""
    return f"{index:0{DIGITS}d}-of-{count:0{DIGITS}d}"


def parse_shard_name(name: str) -> tuple[int, int] | None:
    """(index, count) of a shard folder name, None for any other name."""
    match = _NAME.fullmatch(name)
    if match is None:
        return None
    index, count = int(match.group(1)), int(match.group(2))
    return (index, count) if 0 <= index < count and name == shard_name(index, count) else None


def shard_dir(root: str | Path, index: int, count: int) -> Path:
    """The folder of shard ``index`` of ``count`` inside the sharded Z directory ``root``."""
    return Path(root) / SHARDS_DIR / shard_name(index, count)


def is_sharded(path: str | Path) -> bool:
    """Whether directory ``path`` is (or is becoming) a sharded Z directory: it holds ``shards/``."""
    return (Path(path) / SHARDS_DIR).is_dir()


def written_shards(root: str | Path) -> dict[int, list[int]]:
    """{count: [index, ...]} of the complete shards (those with their meta.json) in ``root/shards/``."""
    found: dict[int, list[int]] = {}
    folder = Path(root) / SHARDS_DIR
    if not folder.is_dir():
        return found
    for entry in sorted(folder.iterdir()):
        parsed = parse_shard_name(entry.name)
        if parsed is not None and (entry / ZDIR_META).is_file():
            found.setdefault(parsed[1], []).append(parsed[0])
    return found


def incomplete_reason(root: str | Path) -> str:
    """Why the sharded Z directory ``root`` without its top-level meta.json cannot be read, and the fix."""
    done = written_shards(root)
    count = max(done, key=lambda c: len(done[c])) if done else None
    progress = (f"{len(done[count])} of its {count} shards are written" if count is not None else
                "no shard is complete yet")
    return (f"Z directory {root} is not complete: {progress}, and its meta.json is written when the last one is; "
            "finish it by running the same zspace encode again (torchrun with the same number of processes, or "
            "--shard i/N for the missing parts): it keeps the complete shards and encodes only the others")


def read_listing(root: str | Path) -> tuple[dict[str, Any], list[Path]]:
    """The checked top-level meta.json of the sharded Z directory ``root``, and its shard folders in row order.

    Checks the format, the fields, that every listed folder is a shard name
    of one count (0..N-1 in order), and the CRC-32 of every shard's
    meta.json against the listing (each shard's meta.json lists the CRC-32
    of its own files, which the reader checks when it opens them: every
    byte is covered). A :class:`ZspaceError` names the file and the fix.
    """
    root = Path(root)
    fix = f"write it again with: zspace encode RUN_DIR --out {root} --force"
    file = root / ZDIR_META
    if not file.is_file():
        raise ZspaceError(incomplete_reason(root))
    try:
        info = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ZspaceError(f"Z directory {root}: meta.json is not readable JSON ({' '.join(str(exc).split())}); "
                          f"{fix}") from None
    if not isinstance(info, dict) or info.get("format") != SHARDED_FORMAT:
        found = info.get("format") if isinstance(info, dict) else None
        raise ZspaceError(f"Z directory {root} holds {SHARDS_DIR}/ but its meta.json says format {found!r}, not "
                          f"{SHARDED_FORMAT!r}; {fix}")
    listed = info.get(SHARDS_FIELD)
    names = [Path(entry).name for entry in listed] if isinstance(listed, list) and \
        all(isinstance(entry, str) for entry in listed) else None
    expected = None if not names else [f"{SHARDS_DIR}/{shard_name(i, len(names))}" for i in range(len(names))]
    if names is None or listed != expected:
        raise ZspaceError(f"Z directory {root}: meta.json field {SHARDS_FIELD!r} is not the list "
                          f"{SHARDS_DIR}/00000-of-N ... of its N shards in order; {fix}")
    dirs = [root / entry for entry in listed]
    for shard in dirs:
        io.restore_replaced_dir(shard)  # a shard that a killed rewrite left aside
    used = [f"{entry}/{ZDIR_META}" for entry in listed]
    try:
        listing = checksums.listed_crc32(info, f"Z directory {root}", f"to add them, {fix}")
        crc32 = {} if listing is None else checksums.crc32_of_used(listing, root, used)
    except ValueError as exc:
        raise ZspaceError(f"Z directory {root}: {exc}; {fix}") from None
    for name, want in crc32.items():
        got = checksums.file_crc32(root / name)
        if got != want:
            raise ZspaceError(f"Z directory {root}: {name} is damaged: its CRC-32 is {got:08x}, not the {want:08x} "
                              f"recorded when the shards were joined; {fix}")
    return info, dirs


__all__ = ["SHARDS_DIR", "SHARDED_FORMAT", "SHARD_FIELD", "SHARDS_FIELD", "ENCODE_FIELD", "shard_name",
           "parse_shard_name", "shard_dir", "is_sharded", "written_shards", "incomplete_reason", "read_listing"]
