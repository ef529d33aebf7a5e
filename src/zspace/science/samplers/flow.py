"""A second-stage density model on z: a small RealNVP normalizing flow (sampler ``flow[:L]``, L = 8).

Dai and Wipf (2019) fit a second model to the encoded points so that sampling
follows where the codes really are; a flow does the same job with an exact
likelihood. The encoded z are first whitened with their mean and full
covariance (PCA whitening), so that the untrained flow, whose last layers
start at zero, is exactly the ``full-gauss`` sampler; then L affine coupling
layers (Dinh et al. 2017), each with a fixed seeded permutation of the axes
and an MLP (hidden width 128) giving scale and shift for half of the axes,
map them to N(0, I). Trained by maximum likelihood with Adam; the epoch with
the best held-out likelihood (10 % of the points) is kept. Sampling runs the
layers backwards from Gaussian noise.

Learned state: ``mean_``, ``whiten_`` and ``unwhiten_`` (d, d), ``permutations_``
(L, d) and the MLP weights as ``net.<name>`` arrays, all in the sampler's
``state.safetensors``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from zspace.core.device import one_thread
from zspace.core.errors import ZspaceError, require
from zspace.core.log import get_logger
from zspace.core.rows import subsample_rows
from zspace.science.samplers.base import Sampler, register

log = get_logger(__name__)

#: most coupling layers of ``flow:L`` (the default is 8; each layer is an MLP trained on all points)
MAX_LAYERS = 256


class _Coupling(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.half = dim // 2
        self.net = nn.Sequential(nn.Linear(self.half, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(),
                                 nn.Linear(hidden, 2 * (dim - self.half)))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def _scale_shift(self, keep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        scale, shift = self.net(keep).chunk(2, dim=1)
        return 2.0 * torch.tanh(scale / 2.0), shift   # bounded log-scale keeps training stable

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        keep, change = x[:, :self.half], x[:, self.half:]
        log_scale, shift = self._scale_shift(keep)
        return torch.cat([keep, change * torch.exp(log_scale) + shift], dim=1), log_scale.sum(dim=1)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        keep, changed = y[:, :self.half], y[:, self.half:]
        log_scale, shift = self._scale_shift(keep)
        return torch.cat([keep, (changed - shift) * torch.exp(-log_scale)], dim=1)


class _Flow(nn.Module):
    def __init__(self, dim: int, n_layers: int, hidden: int, permutations: np.ndarray) -> None:
        super().__init__()
        self.layers = nn.ModuleList(_Coupling(dim, hidden) for _ in range(n_layers))
        self.register_buffer("perms", torch.from_numpy(permutations.astype(np.int64)), persistent=False)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        total = torch.zeros(len(x))
        for layer, perm in zip(self.layers, self.perms):
            x, log_det = layer(x[:, perm])
            total = total + log_det
        return total - 0.5 * (x ** 2).sum(dim=1) - 0.5 * x.shape[1] * math.log(2 * math.pi)

    @torch.no_grad()
    def sample(self, eps: torch.Tensor) -> torch.Tensor:
        x = eps
        for layer, perm in zip(reversed(self.layers), reversed(self.perms)):
            x = layer.inverse(x)[:, torch.argsort(perm)]
        return x


@register
class FlowSampler(Sampler):
    """RealNVP flow fitted to the encoded z (see the module docstring).

    Parameters
    ----------
    z_dim : int
    n_layers : int, default 8
    hidden : int, default 128
    epochs : int, default 40
    max_fit_points : int, default 20000
    lr : float, default 2e-3
    """

    name = "flow"
    needs_fit = True
    arg_type = int

    def __init__(self, z_dim: int, n_layers: int = 8, hidden: int = 128, epochs: int = 40,
                 max_fit_points: int = 20000, lr: float = 2e-3) -> None:
        super().__init__(z_dim)
        require(1 <= n_layers <= MAX_LAYERS, f"sampler flow:{n_layers}: the number of coupling layers must be "
                                             f"between 1 and {MAX_LAYERS}")
        self.n_layers, self.hidden, self.epochs = int(n_layers), int(hidden), int(epochs)
        self.max_fit_points, self.lr = int(max_fit_points), float(lr)
        self._flow: _Flow | None = None

    def params(self) -> dict[str, Any]:
        return {"n_layers": self.n_layers, "hidden": self.hidden, "epochs": self.epochs,
                "max_fit_points": self.max_fit_points, "lr": self.lr}

    def fit(self, z: np.ndarray, seed: int = 0) -> "FlowSampler":
        z = subsample_rows(self._check_fit_input(z, min_rows=20), self.max_fit_points, seed)
        self.mean_ = z.mean(axis=0)
        values, vectors = np.linalg.eigh(np.atleast_2d(np.cov(z, rowvar=False)))
        values = np.maximum(values, 1e-8 * max(values.max(), 1e-12))
        self.whiten_ = vectors / np.sqrt(values)            # x = (z - mean) @ whiten
        self.unwhiten_ = (vectors * np.sqrt(values)).T      # z = x @ unwhiten + mean
        rng = np.random.default_rng(seed)
        self.permutations_ = np.stack([rng.permutation(self.z_dim) for _ in range(self.n_layers)])
        x = torch.from_numpy(((z - self.mean_) @ self.whiten_).astype(np.float32))
        order = rng.permutation(len(x))
        n_val = max(len(x) // 10, 1)
        val, train = x[order[:n_val]], x[order[n_val:]]
        with torch.random.fork_rng(), one_thread():
            torch.manual_seed(seed)
            flow = _Flow(self.z_dim, self.n_layers, self.hidden, self.permutations_)
            opt = torch.optim.Adam(flow.parameters(), lr=self.lr)
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, self.epochs)
            best, best_state = -float("inf"), None
            g = torch.Generator().manual_seed(seed)
            for epoch in range(self.epochs):
                flow.train()
                for idx in torch.randperm(len(train), generator=g).split(512):
                    loss = -flow.log_prob(train[idx]).mean()
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    nn.utils.clip_grad_norm_(flow.parameters(), 10.0)
                    opt.step()
                sched.step()
                flow.eval()
                with torch.no_grad():
                    val_ll = float(flow.log_prob(val).mean())
                if val_ll > best:
                    best, best_state = val_ll, {k: v.detach().clone() for k, v in flow.state_dict().items()}
                log.debug("flow epoch %d: held-out log-likelihood %.3f", epoch + 1, val_ll)
        if best_state is None:
            raise ZspaceError(f"sampler flow: the held-out likelihood was never finite (lr {self.lr}); "
                              "try a smaller lr, e.g. flow with lr 5e-4")
        flow.load_state_dict(best_state)
        self._flow = flow.eval()
        self.heldout_log_likelihood = best
        return self

    def learned_arrays(self) -> dict[str, np.ndarray]:
        arrays = super().learned_arrays()
        if self._flow is not None:
            arrays.update({f"net.{k}": v.numpy() for k, v in self._flow.state_dict().items()})
        return arrays

    def set_learned(self, arrays: dict[str, np.ndarray]) -> None:
        nets = {k[4:]: torch.from_numpy(np.array(v)) for k, v in arrays.items() if k.startswith("net.")}
        super().set_learned({k: v for k, v in arrays.items() if not k.startswith("net.")})
        self._flow = _Flow(self.z_dim, self.n_layers, self.hidden, self.permutations_)
        self._flow.load_state_dict(nets)
        self._flow.eval()

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        self._require_fitted()
        eps = torch.from_numpy(rng.standard_normal((n, self.z_dim)).astype(np.float32))
        with one_thread():
            x = self._flow.sample(eps).numpy().astype(np.float64)
        return (x @ self.unwhiten_ + self.mean_).astype(np.float32)

    def log_prob(self, z: np.ndarray) -> np.ndarray:
        """(N,) log density of points z under the fitted flow (in z units)."""
        self._require_fitted()
        x = torch.from_numpy(((np.asarray(z, dtype=np.float64) - self.mean_) @ self.whiten_).astype(np.float32))
        with torch.no_grad():
            return self._flow.log_prob(x).numpy() + float(np.linalg.slogdet(self.whiten_)[1])
