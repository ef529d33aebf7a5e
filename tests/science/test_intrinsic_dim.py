"""Intrinsic dimension on clouds of known dimension embedded in 256-d."""

from __future__ import annotations

import numpy as np
import pytest

from zspace.science.intrinsic_dim import intrinsic_dimension

AMBIENT = 256


def embed(points: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rotate a (N, k) cloud into a random k-d subspace of R^256 (distances are kept)."""
    basis, _ = np.linalg.qr(rng.standard_normal((AMBIENT, points.shape[1])))
    return points @ basis.T


def curve(n: int, rng: np.random.Generator) -> np.ndarray:
    """A smooth closed-free 1-d curve: 8 sines of one parameter."""
    t = rng.uniform(0, 1, n)
    freq, phase = rng.uniform(0.5, 2.0, 8), rng.uniform(0, 2 * np.pi, 8)
    return np.sin(2 * np.pi * freq[None, :] * t[:, None] + phase[None, :])


@pytest.mark.parametrize("name, true_dim", [("curve", 1), ("linear5", 5), ("gauss20", 20)])
def test_estimates_within_20_percent(name, true_dim):
    rng = np.random.default_rng(0)
    n = 4000
    cloud = {"curve": lambda: curve(n, rng), "linear5": lambda: rng.standard_normal((n, 5)) * [3, 2, 1, 1, 0.5],
             "gauss20": lambda: rng.standard_normal((n, 20))}[name]()
    result = intrinsic_dimension(embed(cloud, rng), n_points=n, seed=1)
    assert result.ambient_dim == AMBIENT and result.n_points == n
    assert result.twonn == pytest.approx(true_dim, rel=0.2)
    assert result.mle == pytest.approx(true_dim, rel=0.2)


def test_subsample_is_seeded():
    rng = np.random.default_rng(0)
    x = embed(rng.standard_normal((3000, 3)), rng)
    a, b = intrinsic_dimension(x, n_points=1000, seed=5), intrinsic_dimension(x, n_points=1000, seed=5)
    assert a.twonn == b.twonn and a.mle == b.mle and a.n_points == 1000
