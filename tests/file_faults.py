"""Helpers of the reliability tests: snapshots of a directory and damaged bytes.

Importable from any test module (pytest puts tests/ on the path, see pyproject.toml)."""

from __future__ import annotations

import hashlib
from pathlib import Path


def snapshot(directory: Path) -> dict[str, str]:
    """``{relative path: sha256 of the bytes}`` of every file under ``directory`` (directories as "dir")."""
    directory = Path(directory)
    state = {}
    for path in sorted(directory.rglob("*")):
        rel = str(path.relative_to(directory))
        state[rel] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return state


def flip_byte(path: Path, offset: int | None = None) -> int:
    """Invert one byte of ``path`` in place (default: the middle one); return its offset."""
    data = bytearray(Path(path).read_bytes())
    offset = len(data) // 2 if offset is None else offset
    data[offset] ^= 0xFF
    Path(path).write_bytes(bytes(data))
    return offset
