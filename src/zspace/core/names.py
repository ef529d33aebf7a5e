"""File names made from user strings (factor names, sampler specs, model names, figure stems).

A user string can hold anything: ``/``, ``..``, ``:``, spaces, non-ASCII
letters, a Windows device name, 300 characters or nothing at all. Turning it
into a file name by dropping or replacing characters maps different strings
to one name ("a b", "a/b" and "a:b" all become "a_b"), and one file silently
overwrites another. :func:`safe_stem` is the one way zspace makes a file
stem from such a string:

* a string that is already a plain name (lower-case ASCII letters, digits,
  ``_``, ``.`` and ``-``; not starting with ``.`` or ``-``, not ending in
  ``.``; at most :data:`MAX_STEM` characters; not a Windows device name;
  not ending in what looks like our hash suffix) is its own stem:
  ``axis3``, ``diag-gauss``, ``tsne_ee12_perp30``;
* any other string becomes a readable sanitised form plus ``-`` and the first
  8 hex digits of the SHA-256 of its UTF-8 bytes: ``"a b"`` ->
  ``a_b-c8687a08``, ``"Smiling"`` -> ``Smiling-475aaf24``.

The two forms cannot meet (a plain stem never ends in ``-`` + 8 hex digits;
a suffixed one always does), two strings that differ only in case never
share a stem even on a case-insensitive file system (upper-case letters
always take the suffix, whose hex digits are lower-case), and the stem is
the same on every machine and run (no counters, no salt). Two different
strings share a stem only if their SHA-256 digests agree in 32 bits and their
sanitised forms agree; :func:`unique_stems` removes even that, and exact
duplicates, within one set of names written side by side.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Sequence

#: longest stem (characters, all ASCII), leaving room for a prefix and suffix within the usual 255-byte limit
MAX_STEM = 80
#: hex digits of SHA-256 appended to a string that is not its own stem
HASH_DIGITS = 8

_PLAIN = re.compile(r"[a-z0-9_](?:[a-z0-9_.\-]*[a-z0-9_\-])?")
_SUFFIXED = re.compile(rf".*-[0-9a-f]{{{HASH_DIGITS}}}")
_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9_.\-]+")
#: names Windows reserves for devices, with any extension ("con.png" cannot be created there)
_DEVICE_NAMES = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}


def _is_plain(name: str) -> bool:
    return (len(name) <= MAX_STEM and _PLAIN.fullmatch(name) is not None and _SUFFIXED.fullmatch(name) is None
            and name.split(".")[0] not in _DEVICE_NAMES)


def name_hash(name: str) -> str:
    """The first :data:`HASH_DIGITS` lower-case hex digits of the SHA-256 of ``name`` (UTF-8, lone surrogates kept)."""
    return hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:HASH_DIGITS]


def safe_stem(name: str) -> str:
    """A file stem for the user string ``name``: ``name`` itself when it is a plain name, else a readable form
    plus ``-`` and :func:`name_hash` (see the module docstring). At most :data:`MAX_STEM` ASCII characters, never
    empty, never ``.``/``..``, no path separator."""
    name = str(name)
    if _is_plain(name):
        return name
    ascii_form = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    readable = _UNSAFE_RUN.sub("_", ascii_form).strip("._-")
    readable = readable[:MAX_STEM - HASH_DIGITS - 1].rstrip(".") or "unnamed"
    return f"{readable}-{name_hash(name)}"


def unique_stems(names: Sequence[str]) -> list[str]:
    """:func:`safe_stem` of each of ``names``, made distinct (ignoring case) within the set.

    A stem already taken by an earlier name (the same string given twice, or a
    32-bit hash collision) gets ``~2``, ``~3``, ... in the order of ``names``;
    ``~`` never occurs in a :func:`safe_stem`, so these cannot meet another
    name's stem. Deterministic: the same list gives the same stems.
    """
    taken: set[str] = set()
    stems = []
    for name in names:
        stem = candidate = safe_stem(name)
        copy = 1
        while candidate.casefold() in taken:
            copy += 1
            candidate = f"{stem}~{copy}"
        taken.add(candidate.casefold())
        stems.append(candidate)
    return stems


__all__ = ["MAX_STEM", "HASH_DIGITS", "name_hash", "safe_stem", "unique_stems"]
