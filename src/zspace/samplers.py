"""Samplers of latent points: a registry from names to classes with fit/sample/save/load.

A sampler spec is ``NAME`` or ``NAME:ARG`` (e.g. ``normal``, ``uniform:2``,
``gmm:10``). Samplers that learn from encoded points keep what they learned in
attributes with a trailing underscore and save them as ``state.safetensors``
(the arrays) + ``sampler.json`` (name, z_dim, params) under
``RUN_DIR/samplers/<name>/``; nothing is pickled.

=================  =============================================================
``normal[:S]``     N(0, S^2 I), the VAE prior (S = 1)
``uniform[:A]``    U[-A, A]^d (A = 2)
``diag-gauss``     Gaussian with the per-axis mean and variance of the encoded z
``full-gauss``     Gaussian with the mean and full covariance of the encoded z
``gmm[:K]``        K-component full-covariance Gaussian mixture (K = 10; RAE, Ghosh et al. 2020)
``marginal``       each coordinate from its own empirical distribution (correlations broken)
``shell``          uniform direction, radius from the empirical radius distribution
``interp[:K]``     a uniform point on the segment between an encoded point and one of its K nearest neighbours (K = 5)
``flow[:L]``       a RealNVP normalizing flow with L coupling layers on z (L = 8; a second stage, as in Dai and Wipf 2019)
=================  =============================================================
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from zspace import io
from zspace.errors import ZspaceError, require

STATE_FILE = "state.safetensors"


class Sampler:
    """Base class: ``sample(n, rng)`` returns (n, z_dim) float32 latent points.

    Subclasses that learn (``needs_fit = True``) set their learned arrays as
    attributes named with a trailing underscore in :meth:`fit`; :meth:`save`
    and :func:`load_sampler` store and restore exactly those arrays.
    """

    name: ClassVar[str] = ""
    needs_fit: ClassVar[bool] = False
    #: type of the optional ``:ARG`` of the spec (first constructor argument after z_dim)
    arg_type: ClassVar[type] = float

    def __init__(self, z_dim: int) -> None:
        require(z_dim >= 1, f"sampler {self.name}: z_dim {z_dim} must be >= 1")
        self.z_dim = int(z_dim)

    # -- fitting ---------------------------------------------------------
    def fit(self, z: np.ndarray, seed: int = 0) -> "Sampler":
        """Learn from encoded points z (N, z_dim); samplers without state ignore it."""
        return self

    def _check_fit_input(self, z: np.ndarray, min_rows: int = 2) -> np.ndarray:
        z = np.asarray(z, dtype=np.float64)
        require(z.ndim == 2 and z.shape[1] == self.z_dim,
                f"sampler {self.name}: fit expects z of shape (N, {self.z_dim}), got {z.shape}")
        require(len(z) >= min_rows, f"sampler {self.name}: fit needs at least {min_rows} points, got {len(z)}")
        require(bool(np.isfinite(z).all()), f"sampler {self.name}: the encoded z contain NaN or inf")
        return z

    @property
    def is_fitted(self) -> bool:
        return not self.needs_fit or bool(self.learned_arrays())

    def learned_arrays(self) -> dict[str, np.ndarray]:
        """The learned state: every ndarray attribute whose name ends with ``_``."""
        return {k: v for k, v in vars(self).items() if k.endswith("_") and isinstance(v, np.ndarray)}

    def set_learned(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore what :meth:`learned_arrays` returned (used by :func:`load_sampler`)."""
        for key, value in arrays.items():
            setattr(self, key, value)

    def _require_fitted(self) -> None:
        if not self.is_fitted:
            raise ZspaceError(f"sampler {self.name} is not fitted; run: zspace fit-sampler RUN_DIR {self.name}")

    # -- sampling --------------------------------------------------------
    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def params(self) -> dict[str, Any]:
        """Constructor arguments besides z_dim, JSON-ready."""
        return {}

    # -- persistence -----------------------------------------------------
    def save(self, directory: str | Path, info: dict[str, Any] | None = None) -> Path:
        """Write ``sampler.json`` (name, z_dim, params, info) and the learned arrays into ``directory``."""
        directory = Path(directory)
        arrays = self.learned_arrays()
        if arrays:
            from safetensors.numpy import save_file

            with io.atomic_path(directory / STATE_FILE) as tmp:
                save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(tmp))
        io.write_json(directory / "sampler.json", {"name": self.name, "z_dim": self.z_dim, "params": self.params(),
                                                   "learned": sorted(arrays), "info": info or {}})
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
        from sklearn.mixture import GaussianMixture

        z = self._check_fit_input(z, min_rows=self.n_components + 1)
        z = _subsample_rows(z, self.max_fit_points, seed)
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
        self.values_ = _subsample_rows(z, self.max_points, seed).astype(np.float32)
        return self

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        self._require_fitted()
        rows = rng.integers(0, len(self.values_), size=(n, self.z_dim))
        return self.values_[rows, np.arange(self.z_dim)].astype(np.float32)

    def params(self) -> dict[str, Any]:
        return {"max_points": self.max_points}


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
        from sklearn.neighbors import NearestNeighbors

        z = self._check_fit_input(z, min_rows=self.k + 1)
        points = _subsample_rows(z, self.max_points, seed).astype(np.float32)
        _, idx = NearestNeighbors(n_neighbors=self.k + 1).fit(points).kneighbors(points)
        self.points_ = points
        self.neighbours_ = idx[:, 1:].astype(np.int64)
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


def _subsample_rows(z: np.ndarray, max_rows: int, seed: int) -> np.ndarray:
    if len(z) <= max_rows:
        return z
    return z[np.sort(np.random.default_rng(seed).choice(len(z), size=max_rows, replace=False))]


#: sampler name -> class (its optional ``:ARG`` is the first constructor argument after z_dim)
SAMPLERS: dict[str, type[Sampler]] = {cls.name: cls for cls in (
    NormalSampler, UniformSampler, DiagonalGaussianSampler, FullGaussianSampler, GaussianMixtureSampler,
    MarginalShuffleSampler, RadiusShellSampler, NeighbourInterpolationSampler)}


def register(cls: type[Sampler]) -> type[Sampler]:
    """Add a sampler class to :data:`SAMPLERS` (usable as a decorator)."""
    SAMPLERS[cls.name] = cls
    return cls


def make_sampler(spec: str, z_dim: int) -> Sampler:
    """Build a sampler from ``NAME`` or ``NAME:ARG`` (e.g. ``uniform:10``, ``gmm:20``); fitted ones come unfitted."""
    name, _, arg = spec.partition(":")
    _ensure_optional_samplers(name)
    if name not in SAMPLERS:
        raise ZspaceError(f"--sampler {spec!r}: unknown sampler {name!r}; available: {', '.join(sampler_names())}")
    cls = SAMPLERS[name]
    if not arg:
        return cls(z_dim)
    try:
        value = cls.arg_type(arg)
    except ValueError:
        example = "10" if cls.arg_type is int else "2"
        raise ZspaceError(f"--sampler {spec!r}: {arg!r} is not {'an integer' if cls.arg_type is int else 'a number'} "
                          f"(write e.g. {name}:{example})") from None
    return cls(z_dim, value)


def load_sampler(directory: str | Path) -> Sampler:
    """Read a sampler saved by :meth:`Sampler.save` (its learned arrays included)."""
    directory = Path(directory)
    path = directory / "sampler.json"
    if not path.exists():
        raise ZspaceError(f"{directory} holds no saved sampler (no sampler.json)")
    try:
        meta = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ZspaceError(f"{path} is not valid JSON ({exc}); refit with zspace fit-sampler") from None
    _ensure_optional_samplers(str(meta.get("name")))
    cls = SAMPLERS.get(meta.get("name"))
    if cls is None:
        raise ZspaceError(f"{path}: sampler {meta.get('name')!r} is unknown to this zspace version")
    sampler = cls(meta["z_dim"], **meta.get("params", {}))
    learned = meta.get("learned", [])
    if learned:
        state_path = directory / STATE_FILE
        if not state_path.exists():
            raise ZspaceError(f"{directory}: {STATE_FILE} is missing; refit with zspace fit-sampler")
        from safetensors.numpy import load_file

        arrays = load_file(str(state_path))
        missing = sorted(set(learned) - set(arrays))
        if missing:
            raise ZspaceError(f"{state_path}: arrays {', '.join(missing)} are missing; refit with zspace fit-sampler")
        sampler.set_learned({key: arrays[key] for key in learned})
    return sampler


# -- samplers stored in a run directory -----------------------------------

def saved_name(spec: str) -> str:
    """Directory name under ``RUN_DIR/samplers/`` for a spec: ``gmm:10`` -> ``gmm-10``."""
    name = spec.replace(":", "-")
    if not re.fullmatch(r"[A-Za-z0-9_.\-]+", name) or name.startswith("."):
        raise ZspaceError(f"sampler name {spec!r}: use letters, digits, '.', '_', '-' and ':' only")
    return name


def samplers_dir(run_root: str | Path) -> Path:
    return Path(run_root) / "samplers"


def saved_samplers(run_root: str | Path) -> list[str]:
    """Names of the samplers saved in a run directory."""
    root = samplers_dir(run_root)
    return sorted(p.name for p in root.iterdir() if (p / "sampler.json").exists()) if root.is_dir() else []


def resolve_sampler(run_root: str | Path, spec: str, z_dim: int) -> Sampler:
    """The sampler a run means by ``spec``: one saved under ``RUN_DIR/samplers/``, else a new one.

    A spec that names a sampler which must be fitted but was not saved in the
    run is an error that says how to fit it.
    """
    directory = samplers_dir(run_root) / saved_name(spec)
    if (directory / "sampler.json").exists():
        sampler = load_sampler(directory)
        if sampler.z_dim != z_dim:
            raise ZspaceError(f"{directory}: sampler has z_dim {sampler.z_dim} but the model has {z_dim}; "
                              f"refit it with: zspace fit-sampler {run_root} {spec}")
        return sampler
    name = spec.partition(":")[0]
    _ensure_optional_samplers(name)
    if name not in SAMPLERS:
        saved = saved_samplers(run_root)
        raise ZspaceError(f"--sampler {spec!r}: unknown sampler {name!r}; available: {', '.join(sampler_names())}"
                          + (f"; saved in this run: {', '.join(saved)}" if saved else ""))
    sampler = make_sampler(spec, z_dim)
    if sampler.needs_fit:
        raise ZspaceError(f"--sampler {spec!r} must be fitted to the run first: zspace fit-sampler {run_root} {spec}")
    return sampler


#: samplers registered on first use (their modules import more than numpy)
OPTIONAL_SAMPLERS = ("flow",)


def sampler_names() -> list[str]:
    """Every sampler name, the optional ones included."""
    return list(SAMPLERS) + [name for name in OPTIONAL_SAMPLERS if name not in SAMPLERS]


def _ensure_optional_samplers(name: str) -> None:
    # The flow sampler needs torch; import it only when it is asked for, so that
    # the registry (and `zspace --help`) stays light.
    if name == "flow" and "flow" not in SAMPLERS:
        import zspace.flow  # noqa: F401  (registers itself)
