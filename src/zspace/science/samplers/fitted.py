"""Samplers fitted to the encoded training points: Gaussians, a mixture, empirical marginals,
radius shells and neighbour interpolation."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.mixture import GaussianMixture

from zspace.core.errors import require
from zspace.core.neighbours import knn
from zspace.core.rows import subsample_rows
from zspace.science.samplers.base import Sampler, register


@register
class DiagonalGaussianSampler(Sampler):
    """z ~ N(mean_, diag(std_^2)) with the per-axis moments of the encoded z."""

    name = "diag-gauss"
    needs_fit = True

    def fit(self, z: np.ndarray, seed: int = 0) -> "DiagonalGaussianSampler":
        z = self._check_fit_input(z)
        self.mean_ = z.mean(axis=0)
        self.std_ = z.std(axis=0)
        return self

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        self._require_fitted()
        return (self.mean_ + rng.standard_normal((n, self.z_dim)) * self.std_).astype(np.float32)


@register
class FullGaussianSampler(Sampler):
    """z ~ N(mean_, covariance_) with the mean and full covariance of the encoded z."""

    name = "full-gauss"
    needs_fit = True

    def fit(self, z: np.ndarray, seed: int = 0) -> "FullGaussianSampler":
        z = self._check_fit_input(z)
        self.mean_ = z.mean(axis=0)
        self.covariance_ = np.atleast_2d(np.cov(z, rowvar=False))
        return self

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        self._require_fitted()
        return (self.mean_ + rng.standard_normal((n, self.z_dim)) @ _sqrt_psd(self.covariance_).T).astype(np.float32)


@register
class GaussianMixtureSampler(Sampler):
    """A K-component full-covariance Gaussian mixture fitted by EM (scikit-learn).

    Ex-post density estimation of RAE (Ghosh et al. 2020, K = 10).
    """

    name = "gmm"
    needs_fit = True
    arg_type = int

    def __init__(self, z_dim: int, n_components: int = 10, max_fit_points: int = 50000) -> None:
        super().__init__(z_dim)
        require(n_components >= 1, f"sampler gmm:{n_components}: the number of components must be >= 1")
        self.n_components = int(n_components)
        self.max_fit_points = int(max_fit_points)

    def fit(self, z: np.ndarray, seed: int = 0) -> "GaussianMixtureSampler":
        z = self._check_fit_input(z, min_rows=self.n_components + 1)
        z = subsample_rows(z, self.max_fit_points, seed)
        gm = GaussianMixture(self.n_components, covariance_type="full", reg_covar=1e-6 * float(z.var()),
                             max_iter=200, random_state=seed).fit(z)
        self.weights_ = gm.weights_
        self.means_ = gm.means_
        self.covariances_ = gm.covariances_
        return self

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        self._require_fitted()
        weights = self.weights_ / self.weights_.sum()
        component = rng.choice(len(weights), size=n, p=weights)
        out = np.empty((n, self.z_dim), dtype=np.float32)
        eps = rng.standard_normal((n, self.z_dim))
        for k in range(len(weights)):
            rows = component == k
            if rows.any():
                out[rows] = self.means_[k] + eps[rows] @ _sqrt_psd(self.covariances_[k]).T
        return out

    def params(self) -> dict[str, Any]:
        return {"n_components": self.n_components, "max_fit_points": self.max_fit_points}


@register
class MarginalShuffleSampler(Sampler):
    """Each coordinate drawn independently from its own empirical distribution.

    Keeps every marginal, breaks every correlation between axes. The stored
    ``values_`` (N, z_dim) are the encoded points (at most ``max_points`` rows).
    """

    name = "marginal"
    needs_fit = True

    def __init__(self, z_dim: int, max_points: int = 50000) -> None:
        super().__init__(z_dim)
        self.max_points = int(max_points)

    def fit(self, z: np.ndarray, seed: int = 0) -> "MarginalShuffleSampler":
        z = self._check_fit_input(z)
        self.values_ = subsample_rows(z, self.max_points, seed).astype(np.float32)
        return self

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        self._require_fitted()
        rows = rng.integers(0, len(self.values_), size=(n, self.z_dim))
        return self.values_[rows, np.arange(self.z_dim)].astype(np.float32)

    def params(self) -> dict[str, Any]:
        return {"max_points": self.max_points}


@register
class RadiusShellSampler(Sampler):
    """Uniform direction on the sphere around ``center_``, radius from the empirical radii ``radii_``.

    The centre is the origin (SPEC section 4.2 measures R = |z|); ``centered``
    = True uses the mean of the encoded z instead.
    """

    name = "shell"
    needs_fit = True

    def __init__(self, z_dim: int, centered: bool = False) -> None:
        super().__init__(z_dim)
        self.centered = bool(centered)

    def fit(self, z: np.ndarray, seed: int = 0) -> "RadiusShellSampler":
        z = self._check_fit_input(z)
        self.center_ = z.mean(axis=0) if self.centered else np.zeros(self.z_dim)
        self.radii_ = np.sort(np.linalg.norm(z - self.center_, axis=1))
        return self

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        self._require_fitted()
        direction = rng.standard_normal((n, self.z_dim))
        direction /= np.maximum(np.linalg.norm(direction, axis=1, keepdims=True), 1e-12)
        radius = self.radii_[rng.integers(0, len(self.radii_), size=n)]
        return (self.center_ + direction * radius[:, None]).astype(np.float32)

    def params(self) -> dict[str, Any]:
        return {"centered": self.centered}


@register
class NeighbourInterpolationSampler(Sampler):
    """A point on the segment between an encoded point and one of its k nearest neighbours.

    ``points_`` (M, z_dim) are the encoded points (at most ``max_points``),
    ``neighbours_`` (M, k) their nearest neighbours' rows; t ~ U(0, 1).
    """

    name = "interp"
    needs_fit = True
    arg_type = int

    def __init__(self, z_dim: int, k: int = 5, max_points: int = 50000) -> None:
        super().__init__(z_dim)
        require(k >= 1, f"sampler interp:{k}: the number of neighbours must be >= 1")
        self.k = int(k)
        self.max_points = int(max_points)

    def fit(self, z: np.ndarray, seed: int = 0) -> "NeighbourInterpolationSampler":
        z = self._check_fit_input(z, min_rows=self.k + 1)
        points = subsample_rows(z, self.max_points, seed).astype(np.float32)
        _, neighbours = knn(points, self.k)
        self.points_ = points
        self.neighbours_ = neighbours
        return self

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        self._require_fitted()
        a = rng.integers(0, len(self.points_), size=n)
        b = self.neighbours_[a, rng.integers(0, self.neighbours_.shape[1], size=n)]
        t = rng.uniform(0.0, 1.0, size=(n, 1)).astype(np.float32)
        return ((1 - t) * self.points_[a] + t * self.points_[b]).astype(np.float32)

    def params(self) -> dict[str, Any]:
        return {"k": self.k, "max_points": self.max_points}


def _sqrt_psd(cov: np.ndarray) -> np.ndarray:
    """A matrix square root L with L @ L.T == cov for a symmetric positive semi-definite ``cov``."""
    values, vectors = np.linalg.eigh((cov + cov.T) / 2)
    return vectors * np.sqrt(np.clip(values, 0, None))
