"""What the samplers built on a torch network (the flows, the two-stage VAE) share: they learn on whitened codes,
and their network's weights are stored among the sampler's learned arrays (safetensors, never pickled) under a
key prefix, beside ``mean_``, ``whiten_`` and ``unwhiten_``."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from zspace.core.device import one_thread
from zspace.core.errors import ZspaceError
from zspace.core.rows import subsample_rows
from zspace.science.samplers.base import StaleSampler

#: trains a network on (train, val) whitened rows; returns (state dict of the kept epoch or None, its held-out score)
Trainer = Callable[[torch.nn.Module, torch.Tensor, torch.Tensor], tuple["dict[str, torch.Tensor] | None", float]]


def whitening(z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PCA whitening of z (N, d): (mean (d,), whiten (d, d), unwhiten (d, d)) with x = (z - mean) @ whiten and
    z = x @ unwhiten + mean; directions of (near) zero variance are floored at 1e-8 of the largest."""
    mean = z.mean(axis=0)
    values, vectors = np.linalg.eigh(np.atleast_2d(np.cov(z, rowvar=False)))
    values = np.maximum(values, 1e-8 * max(values.max(), 1e-12))
    return mean, vectors / np.sqrt(values), (vectors * np.sqrt(values)).T


def fit_network(sampler, z: np.ndarray, build: Callable[[], torch.nn.Module], train: Trainer, *, seed: int,
                max_points: int, score: str, scaling: str = "whiten") -> tuple[torch.nn.Module, float]:
    """The fit every network sampler shares: at most ``max_points`` seeded rows of z (N, d) (N >= 20), put on a unit
    scale by ``scaling`` (a key of :data:`SCALINGS`; sets ``sampler.mean_``, ``whiten_``, ``unwhiten_``), a seeded
    10 % held out, ``build()`` trained by
    ``train(net, train_rows, held_out_rows)`` on one thread under ``seed`` without moving the caller's torch RNG.

    Returns the network with the kept epoch's weights (eval mode) and its held-out ``score`` per point (a log
    density or ELBO, nats) in z units: the whitened score plus log |det whiten|. A score that was never finite is a
    ZspaceError naming ``score`` and the sampler's lr."""
    z = subsample_rows(sampler._check_fit_input(z, min_rows=20), max_points, seed)
    sampler.mean_, sampler.whiten_, sampler.unwhiten_ = SCALINGS[scaling](z)
    x = torch.from_numpy(((z - sampler.mean_) @ sampler.whiten_).astype(np.float32))
    order = np.random.default_rng(seed).permutation(len(x))
    n_val = max(len(x) // 10, 1)
    with torch.random.fork_rng(devices=[]), one_thread():
        torch.manual_seed(seed)
        net = build()
        state, best = train(net, x[order[n_val:]], x[order[:n_val]])
    if state is None:
        raise ZspaceError(f"sampler {sampler.name}: the held-out {score} was never finite (lr {sampler.lr:g}); "
                          "fit with a smaller lr")
    net.load_state_dict(state)
    return net.eval(), best + float(np.linalg.slogdet(sampler.whiten_)[1])


def isotropic_scaling(z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centring and one scale for all directions: (mean (d,), whiten = I / s, unwhiten = s I) with s the root mean
    variance per direction; relative variances (which directions the codes use) are kept."""
    mean = z.mean(axis=0)
    scale = max(float(np.sqrt(((z - mean) ** 2).sum(axis=1).mean() / z.shape[1])), 1e-12)
    eye = np.eye(z.shape[1])
    return mean, eye / scale, eye * scale


#: how a network sampler puts the codes on a unit scale before it learns them: name -> function
SCALINGS = {"whiten": whitening, "isotropic": isotropic_scaling}


def network_arrays(prefix: str, net: torch.nn.Module | None) -> dict[str, np.ndarray]:
    """The weights of ``net`` as arrays keyed ``prefix + name`` ({} before the fit)."""
    return {} if net is None else {prefix + k: v.detach().numpy() for k, v in net.state_dict().items()}


def split_network_arrays(arrays: dict[str, np.ndarray], prefix: str,
                         stale: str) -> tuple[dict[str, torch.Tensor], dict[str, np.ndarray]]:
    """(the network's state, the other arrays) of a saved sampler; :class:`StaleSampler` with ``stale`` when the
    network or the whitening is missing."""
    state = {k[len(prefix):]: torch.from_numpy(np.array(v)) for k, v in arrays.items() if k.startswith(prefix)}
    if not state or "unwhiten_" not in arrays:
        raise StaleSampler(stale)
    return state, {k: v for k, v in arrays.items() if not k.startswith(prefix)}


def load_network(build: Callable[[], torch.nn.Module], state: dict[str, torch.Tensor], what: str) -> torch.nn.Module:
    """A network from ``build()`` with the weights ``state``, in eval mode; the caller's RNG does not move (the
    initial weights are replaced). A state of other shapes is a ZspaceError that says to refit ``what``."""
    with torch.random.fork_rng(devices=[]):
        net = build()
    try:
        net.load_state_dict(state)
    except RuntimeError as exc:
        raise ZspaceError(f"{what} does not match its params ({str(exc).splitlines()[0]}); refit it with "
                          "zspace fit-sampler") from None
    return net.eval()


__all__ = ["whitening", "isotropic_scaling", "SCALINGS", "fit_network", "network_arrays", "split_network_arrays", "load_network"]
