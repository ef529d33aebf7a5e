"""The sampler base class and registry: names to classes with fit/sample/save/load.

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
``flow[:L]``       zuko's masked autoregressive flow with L transforms on z (L = 8; a second stage, as in Dai and Wipf 2019)
``maf[:L]``        the same flow by name
``nsf[:L]``        zuko's neural spline flow with L transforms (L = 5)
``twostage[:H]``   a second VAE on z with hidden width H (H = 256; the two-stage VAE, Dai and Wipf 2019)
=================  =============================================================
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from safetensors.numpy import load_file, save_file

from zspace.core import io
from zspace.core.checksums import digest_files, verify_files
from zspace.core.errors import ZspaceError, require
from zspace.core.registry import Registry
from zspace.core.layout import RunLayout

#: the learned arrays of a saved sampler (safetensors)
STATE_FILE = "state.safetensors"
#: a saved sampler's name, z_dim, params, info and content hashes
SAMPLER_FILE = "sampler.json"


class StaleSampler(ZspaceError):
    """A saved sampler whose learned state this zspace no longer reads (written by an earlier version).

    Fitted samplers are derived data: :func:`zspace.science.latents.fitted_sampler` refits on this error.
    """


class Sampler:
    """Base class: ``sample(n, rng)`` returns (n, z_dim) float32 latent points.

    Subclasses that learn (``needs_fit = True``) set their learned arrays as
    attributes named with a trailing underscore in :meth:`fit`; :meth:`save`
    and :func:`load_sampler` store and restore exactly those arrays.
    """

    name: ClassVar[str] = ""
    needs_fit: ClassVar[bool] = False
    #: type of the optional ``:ARG`` of the spec (first constructor argument after z_dim); None: takes no ARG
    arg_type: ClassVar[type | None] = None

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
        """Write ``sampler.json`` (name, z_dim, params, info, content hashes) and the learned arrays.

        The directory is replaced as a whole (:func:`zspace.core.io.atomic_dir`): a
        killed save leaves the previous sampler, never a mix of old and new files.
        """
        directory = Path(directory)
        arrays = self.learned_arrays()
        with io.atomic_dir(directory) as tmp:
            if arrays:
                save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(tmp / STATE_FILE))
            io.write_json(tmp / SAMPLER_FILE, {
                "name": self.name, "z_dim": self.z_dim, "params": self.params(), "learned": sorted(arrays),
                "files": digest_files(tmp, [STATE_FILE] if arrays else []), "info": info or {}})
        return directory


#: sampler name -> class (its optional ``:ARG`` is the first constructor argument after z_dim);
#: filled by :func:`register`, in the order the modules of this package are imported
SAMPLERS: Registry[type[Sampler]] = Registry("sampler")


def register(cls: type[Sampler]) -> type[Sampler]:
    """Add a sampler class to :data:`SAMPLERS` under its ``name`` (a decorator; a name taken twice is an error)."""
    return SAMPLERS.add(cls.name, cls)


def make_sampler(spec: str, z_dim: int) -> Sampler:
    """Build a sampler from ``NAME`` or ``NAME:ARG`` (e.g. ``uniform:10``, ``gmm:20``); fitted ones come unfitted."""
    name, _, arg = spec.partition(":")
    if name not in SAMPLERS:
        raise ZspaceError(f"--sampler {spec!r}: unknown sampler {name!r}; available: {', '.join(sampler_names())}")
    cls = SAMPLERS[name]
    if not arg:
        return cls(z_dim)
    if cls.arg_type is None:
        raise ZspaceError(f"--sampler {spec!r}: {name} takes no ':' argument; write just {name}")
    try:
        value = cls.arg_type(arg)
        if not np.isfinite(value):
            raise ValueError(arg)
    except ValueError:
        wanted, example = ("an integer", "10") if cls.arg_type is int else ("a finite number", "2")
        raise ZspaceError(f"--sampler {spec!r}: {arg!r} is not {wanted} (write e.g. {name}:{example})") from None
    return cls(z_dim, value)


def load_sampler(directory: str | Path) -> Sampler:
    """Read a sampler saved by :meth:`Sampler.save` (its learned arrays included)."""
    directory = Path(directory)
    io.restore_replaced_dir(directory)  # a sampler that a killed refit left aside
    path = directory / SAMPLER_FILE
    if not path.exists():
        raise ZspaceError(f"{directory} holds no saved sampler (no sampler.json)")
    try:
        meta = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ZspaceError(f"{path} is not valid JSON ({exc}); refit with zspace fit-sampler") from None
    cls = SAMPLERS.get(meta.get("name"))
    if cls is None:
        raise ZspaceError(f"{path}: sampler {meta.get('name')!r} is unknown to this zspace version")
    sampler = cls(meta["z_dim"], **meta.get("params", {}))
    learned = meta.get("learned", [])
    if learned:
        state_path = directory / STATE_FILE
        if not state_path.exists():
            raise ZspaceError(f"{directory}: {STATE_FILE} is missing; refit with zspace fit-sampler")
        verify_files(directory, meta.get("files") or {}, f"refit it with zspace fit-sampler RUN_DIR {meta['name']}")
        try:
            arrays = load_file(str(state_path))
        except Exception as exc:  # safetensors raises its own error type for a bad header
            raise ZspaceError(f"{state_path} is unreadable ({exc}); refit with zspace fit-sampler") from None
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
    """``RUN_DIR/samplers/`` (:attr:`zspace.core.layout.RunLayout.samplers`)."""
    return RunLayout(Path(run_root)).samplers


def saved_samplers(run_root: str | Path) -> list[str]:
    """Names of the samplers saved in a run directory."""
    root = samplers_dir(run_root)
    return sorted(p.name for p in root.iterdir() if (p / SAMPLER_FILE).exists()) if root.is_dir() else []


def resolve_sampler(run_root: str | Path, spec: str, z_dim: int) -> Sampler:
    """The sampler a run means by ``spec``: one saved under ``RUN_DIR/samplers/``, else a new one.

    A spec that names a sampler which must be fitted but was not saved in the
    run is an error that says how to fit it.
    """
    directory = RunLayout(Path(run_root)).sampler(saved_name(spec))
    if (directory / SAMPLER_FILE).exists():
        sampler = load_sampler(directory)
        if sampler.z_dim != z_dim:
            raise ZspaceError(f"{directory}: sampler has z_dim {sampler.z_dim} but the model has {z_dim}; "
                              f"refit it with: zspace fit-sampler {run_root} {spec}")
        return sampler
    name = spec.partition(":")[0]
    if name not in SAMPLERS:
        saved = saved_samplers(run_root)
        raise ZspaceError(f"--sampler {spec!r}: unknown sampler {name!r}; available: {', '.join(sampler_names())}"
                          + (f"; saved in this run: {', '.join(saved)}" if saved else ""))
    sampler = make_sampler(spec, z_dim)
    if sampler.needs_fit:
        raise ZspaceError(f"--sampler {spec!r} must be fitted to the run first: zspace fit-sampler {run_root} {spec}")
    return sampler


def sampler_names() -> list[str]:
    """Every registered sampler name, in registration order."""
    return SAMPLERS.names()
