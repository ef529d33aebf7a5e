"""Z files: the latent points of a data set, as a plain .npz (no pickle).

Keys (all readable with ``np.load(path, allow_pickle=False)``):

``z``            (N, d) float32  latent points (a VAE's sampled z)
``mu``, ``logvar`` (N, d) float32  VAE only
``labels``       (N,) int64      class labels, when the data has them
``factors``      (N, F) float32  generating factors, when the data has them
``factor_names`` (F,) str        names of the factor columns
``index``        (N,) int64      position of each image in its split
``meta``         () str          JSON: run, data spec, split, epoch, model kind
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zspace.core import io, npyfiles
from zspace.core.errors import ZspaceError

#: the arrays a Z file may hold (others are never read)
KEYS = ("z", "mu", "logvar", "labels", "factors", "factor_names", "index", "meta")


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
        """Write atomically as .npz."""
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


def load_zstore(path: str | Path) -> ZStore:
    """Read a Z file written by :meth:`ZStore.save`.

    Every array is checked against the module docstring's shapes and dtypes
    (headers before reading, see :mod:`zspace.core.npyfiles`); anything else
    is a :class:`ZspaceError` naming the file and the array.
    """
    path = Path(path)
    if not path.is_file():
        what = "is not a file" if path.exists() else "does not exist"
        raise ZspaceError(f"Z file {path} {what}; write one with: zspace encode RUN_DIR --out {path}")
    try:
        data = npyfiles.load_npz(path, [name for name in npyfiles.npz_names(path) if name in KEYS])
    except ValueError as exc:
        fix = "it holds Python objects, which zspace never loads" if "pickle" in str(exc) else \
            "write it again with zspace encode"
        raise ZspaceError(f"Z file {path} is not a readable .npz ({exc}); {fix}") from None
    if "z" not in data:
        raise ZspaceError(f"Z file {path} has no array 'z' (keys: {sorted(data)}); it was not written by zspace encode")
    z = _checked(path, data, "z", 2, "fi")
    if z.shape[1] == 0:  # no data to back its N rows (an index of N would be built from the header alone)
        raise ZspaceError(f"Z file {path}: array 'z' has shape {z.shape}, no latent dimension; "
                          "write the file again with zspace encode")
    n = len(z)
    index = _checked(path, data, "index", 1, "iu", n)
    mu, logvar = (_checked(path, data, name, 2, "fi", n, z.shape[1]) for name in ("mu", "logvar"))
    labels = _checked(path, data, "labels", 1, "iu", n)
    factors = _checked(path, data, "factors", 2, "fi", n)
    names = _checked(path, data, "factor_names", 1, "U", None if factors is None else factors.shape[1])
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


def _checked(path: Path, data: dict[str, np.ndarray], name: str, ndim: int, kinds: str, rows: int | None = None,
             cols: int | None = None) -> np.ndarray | None:
    """``data[name]`` (None when absent) if it has ``ndim`` dims, a dtype kind in ``kinds`` and the given sizes."""
    if name not in data:
        return None
    arr = data[name]
    expected = (rows, cols)[:ndim]
    if arr.ndim != ndim or arr.dtype.kind not in kinds or any(e is not None and s != e
                                                               for s, e in zip(arr.shape, expected)):
        want = ", ".join("?" if e is None else str(e) for e in expected) + ("," if ndim == 1 else "")
        raise ZspaceError(f"Z file {path}: array {name!r} is {arr.dtype} {arr.shape}, not a {ndim}-D "
                          f"{'/'.join(_KIND_NAMES[k] for k in kinds)} array of shape ({want}); "
                          "write the file again with zspace encode")
    return arr


_KIND_NAMES = {"f": "float", "i": "int", "u": "uint", "U": "str"}
