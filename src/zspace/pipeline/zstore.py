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

from zspace.core import io
from zspace.core.errors import ZspaceError


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
    """Read a Z file written by :meth:`ZStore.save`."""
    path = Path(path)
    if not path.exists():
        raise ZspaceError(f"Z file {path} does not exist; write one with: zspace encode RUN_DIR --out {path}")
    try:
        with np.load(path, allow_pickle=False) as f:
            data = {k: f[k] for k in f.files}
    except (ValueError, OSError) as exc:
        raise ZspaceError(f"{path} is not a readable .npz Z file ({exc})") from None
    if "z" not in data:
        raise ZspaceError(f"{path} has no array 'z' (keys: {sorted(data)}); it was not written by zspace encode")
    meta = json.loads(str(data["meta"])) if "meta" in data else {}
    return ZStore(z=data["z"], index=data.get("index", np.arange(len(data["z"]))), mu=data.get("mu"),
                  logvar=data.get("logvar"), labels=data.get("labels"), factors=data.get("factors"),
                  factor_names=[str(s) for s in data.get("factor_names", [])], meta=meta)
