"""The two-stage VAE of Dai and Wipf (2019) as a sampler: a second, small VAE fitted to the codes (``twostage[:H]``).

Dai and Wipf ("Diagnosing and enhancing VAE models", ICLR 2019) argue that a
VAE finds the manifold of the data but not the density on it: its aggregate
posterior q(z) does not match the prior N(0, I), so prior draws land where no
code lies. Their remedy is a second VAE on z, with a latent u of the same
width d, trained on the codes of the first stage; sampling draws u ~ N(0, I)
and decodes it to z with the second stage. Here the first stage is any run
(an AE or a VAE): the second stage learns the run's encoded training codes
(a VAE's ``mu``, as every fitted sampler does).

The second stage (all sizes in scaled z units: whitened by default):

* the codes are first whitened with their mean and full covariance
  (:func:`zspace.science.samplers.networks.whitening`, as the flows do), so the
  second stage starts from unit-scale inputs whatever the first stage's scale
  (``scaling="isotropic"``: one scale for all directions instead);
* encoder: MLP d -> H -> H -> (mean, log-variance) of u (d each), ReLU;
  decoder: MLP d -> H -> H -> d, ReLU; H = the spec's ARG (256);
* the decoder's variance is one learned scalar gamma (Dai and Wipf's key
  ingredient: gamma shrinks towards 0 where the codes lie on a thinner set
  than R^d), so the loss is the exact negative ELBO in nats per point,
  ``KL(q(u|x) || N(0, I)) + |x - D(u)|^2 / (2 gamma) + d/2 log(2 pi gamma)``;
* gamma starts at 0.1 (:data:`GAMMA_START`) and learns 10x faster than the
  weights (:data:`GAMMA_LR_FACTOR`). Dai and Wipf start at 1; on whitened
  codes that start is a trap: every direction has variance 1 = gamma, so no
  linear use of u pays its KL cost, and the second stage stayed collapsed
  (u ignored, a plain Gaussian) on a 2-d mixture and on a noisy circle in our
  trials; from 0.1 it learned both (gamma 0.004 on the circle);
* Adam (lr 1e-3, cosine decay, batch 256) for 100 epochs on 90 % of at most
  30,000 seeded codes; the epoch with the best held-out ELBO (the other 10 %,
  a fixed noise draw) is kept. Fitted on one thread (its MLPs are small).

Sampling draws u and e ~ N(0, I) from the caller's numpy generator and
returns ``D(u) + sqrt(gamma) e``, unwhitened: a draw from the density the
second stage fitted. Dai and Wipf decode the mean ``D(u)`` alone; where
gamma has gone to ~0 (a thin set of codes) the two agree, and where it has not
(codes that fill R^d, e.g. a Gaussian cloud) the mean alone would have too
small a spread (for Gaussian codes its covariance is (1 - gamma) times theirs).

Learned state, in the sampler's ``state.safetensors``: ``mean_`` (d,),
``whiten_`` and ``unwhiten_`` (d, d), and the second stage's state dict as
``net.<name>`` arrays (``net.log_gamma`` among them); loading rebuilds the
network from the JSON params and loads that state dict (nothing is pickled).
Everything is seeded (subsample, split, batches, noise, initial weights), so
a seed gives the same sampler and a saved sampler draws the same points.

Not here: the VampPrior (Tomczak and Welling 2018), the other remedy pythae
offers, replaces the first stage's prior by a mixture of its posteriors at
learned pseudo-inputs; it changes how the first-stage VAE is trained (its KL
term and checkpoint), so it would be a model kind in :mod:`zspace.models`,
not a sampler fitted afterwards to a run's codes.
"""

from __future__ import annotations

import math
import functools
from typing import Any

import numpy as np
import torch
from torch import nn

from zspace.core.device import one_thread
from zspace.core.errors import require
from zspace.core.log import get_logger
from zspace.core.rows import row_chunks
from zspace.science.samplers.base import Sampler, register
from zspace.science.samplers.networks import (SCALINGS, fit_network, load_network, network_arrays,
                                              split_network_arrays)

log = get_logger(__name__)

#: prefix of the second stage's tensors among the learned arrays
STATE_PREFIX = "net."
#: widest hidden layer of ``twostage:H`` (4096 x 4096 weights = 64 MiB)
MAX_HIDDEN = 4096
#: the decoder variance gamma at the start of training (whitened units)
GAMMA_START = 0.1
#: gamma's learning rate over the weights' (it tracks the reconstruction error, one scalar)
GAMMA_LR_FACTOR = 10.0
#: rows per pass when sampling or evaluating (bounds the MLP's activations: 65,536 x 4096 float32 = 1 GiB at most)
ROWS_PER_PASS = 65536


class SecondStageVAE(nn.Module):
    """A VAE on d-dimensional points with a d-dimensional latent and a learned scalar decoder variance.

    ``encoder``: (B, d) -> (B, 2d) (mean and log-variance of q(u|x)); ``decoder``: (B, d) -> (B, d) (the mean of
    p(x|u)); ``log_gamma``: log of the variance of p(x|u) = N(D(u), gamma I), a scalar.
    """

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.dim = dim
        self.encoder = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                     nn.Linear(hidden, 2 * dim))
        self.decoder = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                     nn.Linear(hidden, dim))
        self.log_gamma = nn.Parameter(torch.tensor(math.log(GAMMA_START)))

    def negative_elbo(self, x: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """(B,) negative ELBO (nats) of rows ``x`` (B, d), with the reparameterisation noise ``noise`` (B, d)."""
        mean, log_var = self.encoder(x).chunk(2, dim=1)
        u = mean + torch.exp(0.5 * log_var) * noise
        kl = 0.5 * (mean ** 2 + torch.exp(log_var) - log_var - 1.0).sum(dim=1)
        error = ((x - self.decoder(u)) ** 2).sum(dim=1)
        return kl + 0.5 * error * torch.exp(-self.log_gamma) + 0.5 * self.dim * (self.log_gamma + math.log(2 * math.pi))


def _train(net: SecondStageVAE, train: torch.Tensor, val: torch.Tensor, *, epochs: int, batch_size: int, lr: float,
           seed: int) -> tuple[dict[str, torch.Tensor] | None, float]:
    """Minimise the mean negative ELBO; return the state dict of the epoch with the best mean held-out ELBO (nats per
    point, whitened units) and that ELBO (None, -inf when it was never finite). The held-out noise is one fixed draw,
    so epochs are compared on the same terms."""
    weights = [p for name, p in net.named_parameters() if name != "log_gamma"]
    opt = torch.optim.Adam([{"params": weights}, {"params": [net.log_gamma], "lr": lr * GAMMA_LR_FACTOR}], lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    generator = torch.Generator().manual_seed(seed)
    val_noise = torch.randn(val.shape, generator=generator)
    best, best_state = -float("inf"), None
    for epoch in range(epochs):
        net.train()
        for idx in torch.randperm(len(train), generator=generator).split(batch_size):
            batch = train[idx]
            loss = net.negative_elbo(batch, torch.randn(batch.shape, generator=generator)).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 10.0)
            opt.step()
        sched.step()
        net.eval()
        with torch.no_grad():
            val_elbo = -float(net.negative_elbo(val, val_noise).mean())
        if val_elbo > best:
            best, best_state = val_elbo, {k: v.detach().clone() for k, v in net.state_dict().items()}
        log.debug("two-stage VAE epoch %d: held-out ELBO %.3f, gamma %.3g", epoch + 1, val_elbo,
                  float(net.log_gamma.detach().exp()))
    return best_state, best


@register
class TwoStageVAESampler(Sampler):
    """``twostage[:H]``: the second-stage VAE of Dai and Wipf (2019) on the whitened codes (see the module docstring).

    Parameters
    ----------
    z_dim : int
    hidden : int, default 256
        Width H of the two hidden layers of the encoder and of the decoder (the spec's ``:H``).
    epochs : int, default 100
        Training budget in passes over the training part of the codes.
    max_fit_points : int, default 30000
        At most this many (seeded) codes are fitted.
    lr : float, default 1e-3
        Adam's initial learning rate (cosine decay to 0 over ``epochs``).
    batch_size : int, default 256
    decoder_noise : bool, default True
        Add the decoder's N(0, gamma I) noise to each drawn point (the fitted density); False: the decoder mean only,
        as Dai and Wipf's images.
    scaling : {"whiten", "isotropic"}, default "whiten"
        How the codes are put on a unit scale before the second stage learns them: PCA whitening (every direction
        variance 1), or centring and one scale for all directions (directions the codes hardly use stay small, as
        in Dai and Wipf's second stage on raw codes). benchmarks/bench_twostage.py compares them.
    """

    name = "twostage"
    needs_fit = True
    arg_type = int

    def __init__(self, z_dim: int, hidden: int = 256, epochs: int = 100, max_fit_points: int = 30000,
                 lr: float = 1e-3, batch_size: int = 256, decoder_noise: bool = True,
                 scaling: str = "whiten") -> None:
        super().__init__(z_dim)
        require(1 <= int(hidden) <= MAX_HIDDEN,
                f"sampler {self.name}:{hidden}: the hidden width must be between 1 and {MAX_HIDDEN}")
        require(int(epochs) >= 1 and int(batch_size) >= 1 and int(max_fit_points) >= 20 and lr > 0,
                f"sampler {self.name}: epochs and batch_size must be >= 1, max_fit_points >= 20 and lr > 0")
        self.hidden, self.epochs, self.batch_size = int(hidden), int(epochs), int(batch_size)
        self.max_fit_points, self.lr, self.decoder_noise = int(max_fit_points), float(lr), bool(decoder_noise)
        require(scaling in SCALINGS, f"sampler {self.name}: scaling {scaling!r} is not one of {', '.join(SCALINGS)}")
        self.scaling = scaling
        self._net: SecondStageVAE | None = None
        #: mean held-out ELBO (nats per code, in z units) of the kept epoch; None before fitting or after loading
        self.heldout_elbo: float | None = None

    def params(self) -> dict[str, Any]:
        return {"hidden": self.hidden, "epochs": self.epochs, "max_fit_points": self.max_fit_points, "lr": self.lr,
                "batch_size": self.batch_size, "decoder_noise": self.decoder_noise, "scaling": self.scaling}

    def fit(self, z: np.ndarray, seed: int = 0) -> "TwoStageVAESampler":
        """Fit the second stage to encoded points z (N, z_dim), N >= 20; at most ``max_fit_points`` seeded rows."""
        train = functools.partial(_train, epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, seed=seed)
        self._net, self.heldout_elbo = fit_network(self, z, lambda: SecondStageVAE(self.z_dim, self.hidden), train,
                                                   seed=seed, max_points=self.max_fit_points, score="ELBO",
                                                   scaling=self.scaling)
        return self

    @property
    def gamma(self) -> float:
        """The fitted decoder variance (whitened units; 1 = as wide as the codes themselves)."""
        self._require_fitted()
        return float(self._net.log_gamma.detach().exp())

    def learned_arrays(self) -> dict[str, np.ndarray]:
        return {**super().learned_arrays(), **network_arrays(STATE_PREFIX, self._net)}

    def set_learned(self, arrays: dict[str, np.ndarray]) -> None:
        state, rest = split_network_arrays(arrays, STATE_PREFIX, f"sampler {self.name} was saved without its second "
                                           f"stage; refit it: zspace fit-sampler RUN_DIR {self.name}")
        super().set_learned(rest)
        self._net = load_network(lambda: SecondStageVAE(self.z_dim, self.hidden), state,
                                 f"sampler {self.name}: the saved second stage")

    @property
    def is_fitted(self) -> bool:
        return self._net is not None

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """(n, z_dim) float32 points: u ~ N(0, I) from ``rng`` decoded by the second stage (+ its gamma noise,
        also from ``rng``), unwhitened."""
        self._require_fitted()
        u = rng.standard_normal((n, self.z_dim)).astype(np.float32)
        noise = rng.standard_normal((n, self.z_dim)) if self.decoder_noise else None
        x = np.empty((n, self.z_dim), dtype=np.float64)
        with torch.no_grad(), one_thread():
            for rows in row_chunks(n, ROWS_PER_PASS):
                x[rows] = self._net.decoder(torch.from_numpy(u[rows])).numpy()
        if noise is not None:
            x += math.sqrt(self.gamma) * noise
        return (x @ self.unwhiten_ + self.mean_).astype(np.float32)


__all__ = ["TwoStageVAESampler", "SecondStageVAE", "MAX_HIDDEN"]
