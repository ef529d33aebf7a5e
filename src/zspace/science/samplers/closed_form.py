"""Samplers that need no fit: the VAE prior and the seeds' uniform boxes."""

from __future__ import annotations

from typing import Any

import numpy as np

from zspace.core.errors import require
from zspace.science.samplers.base import Sampler, register

#: largest scale or half-width: the points are float32 (max 3.4e38), and must stay finite
MAX_SCALE = 1e30


@register
class NormalSampler(Sampler):
    """z ~ N(0, scale^2 I): the VAE prior (scale 1)."""

    name = "normal"
    arg_type = float

    def __init__(self, z_dim: int, scale: float = 1.0) -> None:
        super().__init__(z_dim)
        require(0 < scale <= MAX_SCALE, f"sampler normal:{scale}: the scale must be > 0 and at most {MAX_SCALE:g}")
        self.scale = float(scale)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return (rng.standard_normal((n, self.z_dim)) * self.scale).astype(np.float32)

    def params(self) -> dict[str, Any]:
        return {"scale": self.scale}


@register
class UniformSampler(Sampler):
    """z ~ U[-a, a]^z_dim, the seeds' uniform draws (a = 2, 10, ...)."""

    name = "uniform"
    arg_type = float

    def __init__(self, z_dim: int, a: float = 2.0) -> None:
        super().__init__(z_dim)
        require(0 < a <= MAX_SCALE, f"sampler uniform:{a}: the half-width a must be > 0 and at most {MAX_SCALE:g}")
        self.a = float(a)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(-self.a, self.a, (n, self.z_dim)).astype(np.float32)

    def params(self) -> dict[str, Any]:
        return {"a": self.a}
