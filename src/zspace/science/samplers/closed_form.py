"""Samplers that need no fit: the VAE prior and the seeds' uniform boxes."""

from __future__ import annotations

from typing import Any

import numpy as np

from zspace.core.errors import require
from zspace.science.samplers.base import Sampler, register


@register
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


@register
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
