"""What the samplers built on a torch network (the flows, the two-stage VAE) share: they learn on whitened codes,
and their network's weights are stored among the sampler's learned arrays (safetensors, never pickled) under a
key prefix, beside ``mean_``, ``whiten_`` and ``unwhiten_``."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from zspace.core.errors import ZspaceError
from zspace.science.samplers.base import StaleSampler


def whitening(z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PCA whitening of z (N, d): (mean (d,), whiten (d, d), unwhiten (d, d)) with x = (z - mean) @ whiten and
    z = x @ unwhiten + mean; directions of (near) zero variance are floored at 1e-8 of the largest."""
    mean = z.mean(axis=0)
    values, vectors = np.linalg.eigh(np.atleast_2d(np.cov(z, rowvar=False)))
    values = np.maximum(values, 1e-8 * max(values.max(), 1e-12))
    return mean, vectors / np.sqrt(values), (vectors * np.sqrt(values)).T


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


__all__ = ["whitening", "network_arrays", "split_network_arrays", "load_network"]
