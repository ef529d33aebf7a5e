"""Samplers of latent points: a registry from names to classes with fit/sample/save/load.

A sampler spec is ``NAME`` or ``NAME:ARG`` (e.g. ``normal``, ``uniform:2``).
Samplers that learn from encoded points keep what they learned in attributes
with a trailing underscore and save them as safetensors + JSON under
``RUN_DIR/samplers/<name>/``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from zspace import io
from zspace.errors import ZspaceError, require


class Sampler:
    """Base class: ``sample(n, rng)`` returns (n, z_dim) float32 latent points."""

    name: ClassVar[str] = ""
    needs_fit: ClassVar[bool] = False

    def __init__(self, z_dim: int) -> None:
        require(z_dim >= 1, f"sampler {self.name}: z_dim {z_dim} must be >= 1")
        self.z_dim = int(z_dim)

    def fit(self, z: np.ndarray) -> "Sampler":
        """Learn from encoded points z (N, z_dim); samplers without state ignore it."""
        return self

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def params(self) -> dict[str, Any]:
        """Constructor arguments besides z_dim, JSON-ready."""
        return {}

    def save(self, directory: str | Path) -> Path:
        """Write ``sampler.json`` (name, z_dim, params) into ``directory``."""
        directory = Path(directory)
        io.write_json(directory / "sampler.json", {"name": self.name, "z_dim": self.z_dim, "params": self.params()})
        return directory


class NormalSampler(Sampler):
    """z ~ N(0, scale^2 I): the VAE prior (scale 1)."""

    name = "normal"

    def __init__(self, z_dim: int, scale: float = 1.0) -> None:
        super().__init__(z_dim)
        require(scale > 0, f"sampler normal:{scale}: the scale must be > 0")
        self.scale = float(scale)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return (rng.standard_normal((n, self.z_dim)) * self.scale).astype(np.float32)

    def params(self) -> dict[str, Any]:
        return {"scale": self.scale}


class UniformSampler(Sampler):
    """z ~ U[-a, a]^z_dim, the seeds' uniform draws (a = 2, 10, ...)."""

    name = "uniform"

    def __init__(self, z_dim: int, a: float = 2.0) -> None:
        super().__init__(z_dim)
        require(a > 0, f"sampler uniform:{a}: the half-width a must be > 0")
        self.a = float(a)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(-self.a, self.a, (n, self.z_dim)).astype(np.float32)

    def params(self) -> dict[str, Any]:
        return {"a": self.a}


#: sampler name -> class (its optional ``:ARG`` is the first constructor argument after z_dim)
SAMPLERS: dict[str, type[Sampler]] = {cls.name: cls for cls in (NormalSampler, UniformSampler)}


def make_sampler(spec: str, z_dim: int) -> Sampler:
    """Build a sampler from ``NAME`` or ``NAME:ARG`` (e.g. ``uniform:10``)."""
    name, _, arg = spec.partition(":")
    if name not in SAMPLERS:
        raise ZspaceError(f"--sampler {spec!r}: unknown sampler {name!r}; available: {', '.join(SAMPLERS)}")
    if not arg:
        return SAMPLERS[name](z_dim)
    try:
        value = float(arg)
    except ValueError:
        raise ZspaceError(f"--sampler {spec!r}: {arg!r} is not a number (write e.g. {name}:2)") from None
    return SAMPLERS[name](z_dim, value)


def load_sampler(directory: str | Path) -> Sampler:
    """Read a sampler saved by :meth:`Sampler.save`."""
    path = Path(directory) / "sampler.json"
    if not path.exists():
        raise ZspaceError(f"{directory} holds no saved sampler (no sampler.json)")
    meta = json.loads(path.read_text())
    cls = SAMPLERS.get(meta.get("name"))
    if cls is None:
        raise ZspaceError(f"{path}: sampler {meta.get('name')!r} is unknown to this zspace version")
    return cls(meta["z_dim"], **meta.get("params", {}))
