"""Content hashes (SHA-256) of the files zspace writes, checked when they are read back.

safetensors checks a file's header, numpy an .npy's header, but neither sees a
flipped byte in the data. Every multi-file artefact (a checkpoint, a saved
sampler, the decoded-image cache) therefore lists the SHA-256 of each of its
data files in its JSON, and the reader calls :func:`verify_files` before it
uses a byte. A mismatch raises :class:`IntegrityError`, a
:class:`~zspace.core.errors.ZspaceError` whose message names the file and
what to do.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Iterable, Mapping

from zspace.core.errors import ZspaceError

#: bytes read per update of the hash
_CHUNK = 1 << 22


class IntegrityError(ZspaceError):
    """A file's content does not match the hash recorded when it was written."""


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes, read in 4 MiB chunks (constant memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def digest_files(directory: str | os.PathLike, names: Iterable[str]) -> dict[str, str]:
    """``{name: sha256}`` of the files ``names`` inside ``directory``."""
    return {name: file_sha256(Path(directory) / name) for name in names}


def verify_files(directory: str | os.PathLike, expected: Mapping[str, str], fix: str) -> None:
    """Check every ``directory/name`` against its recorded hash; :class:`IntegrityError` on the first mismatch.

    ``fix`` is the sentence that tells the user what to do (e.g. "resume from an
    earlier epoch with --from-epoch N").
    """
    for name, want in expected.items():
        path = Path(directory) / name
        try:
            got = file_sha256(path)
        except OSError as exc:
            raise IntegrityError(f"{path} cannot be read ({exc.strerror or exc}); {fix}") from None
        if got != want:
            raise IntegrityError(f"{path} is corrupted: its SHA-256 {got[:12]}... differs from the {want[:12]}... "
                                 f"recorded when it was written; {fix}")
