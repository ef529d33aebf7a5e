"""A second-stage density model on z: a normalizing flow from zuko (samplers ``flow[:L]``, ``maf[:L]``, ``nsf[:L]``).

Dai and Wipf (2019) fit a second model to the encoded points so that sampling
follows where the codes really are; a flow does the same job with an exact
likelihood. The flows themselves come from `zuko <https://github.com/probabilists/zuko>`_
(an optional extra: ``pip install 'zspace[flows]'``):

* ``maf[:L]``: masked autoregressive flow (Papamakarios et al. 2017), L affine
  autoregressive transforms (L = 8);
* ``nsf[:L]``: neural spline flow (Durkan et al. 2019), L autoregressive
  rational-quadratic spline transforms on [-5, 5] (L = 5);
* ``flow[:L]``: the project's pick, :data:`DEFAULT_KIND` = MAF. benchmarks/bench_flows.py
  compared both with the hand-written RealNVP this module replaced and with ``gmm:10``
  on the demo's three models: MAF had the lowest FD / reconstruction floor of the
  flows (and the best held-out likelihood) within the same minute of fitting
  (benchmarks/RESULTS.md, docs/question.md).

The encoded z are first whitened with their mean and full covariance (PCA
whitening; zero mean and identity covariance, so mostly inside the splines' [-5, 5]
box), then the flow maps them to N(0, I). Trained by maximum likelihood with
Adam (cosine learning-rate decay) for a fixed budget of epochs on 90 % of the
points; the epoch with the best likelihood on the other 10 % is kept.
Everything is seeded: the subsample, the split, the batches and the initial
weights. Sampling runs the flow backwards from Gaussian noise drawn with the
caller's numpy generator, so a saved and reloaded sampler draws the same points.

Learned state, in the sampler's ``state.safetensors``: ``mean_`` (d,),
``whiten_`` and ``unwhiten_`` (d, d), and the zuko module's state dict as
``zuko.<name>`` arrays; loading rebuilds the module from the JSON params and
loads that state dict (nothing is pickled).
"""

from __future__ import annotations

import importlib
import functools
from typing import Any

import numpy as np
import torch

from zspace.core.device import one_thread
from zspace.core.errors import ZspaceError, require
from zspace.core.log import get_logger
from zspace.core.rows import row_chunks
from zspace.science.samplers.base import Sampler, register
from zspace.science.samplers.networks import fit_network, load_network, network_arrays, split_network_arrays

log = get_logger(__name__)

#: what ``flow`` is (benchmarks/RESULTS.md, section "flows", has the comparison behind it)
DEFAULT_KIND = "maf"
#: most transforms of ``flow:L`` / ``maf:L`` / ``nsf:L``
MAX_LAYERS = 256
#: prefix of the zuko module's tensors among the learned arrays
STATE_PREFIX = "zuko."
INSTALL_HINT = "pip install 'zspace[flows]'"
#: rows per pass when sampling or evaluating densities (bounds the MLPs' activations: 65,536 x 128 float32 = 32 MiB)
ROWS_PER_PASS = 65536

#: per kind: transforms, hidden width (two layers), epochs, batch size, learning rate
KIND_DEFAULTS: dict[str, dict[str, Any]] = {
    "maf": {"n_layers": 8, "hidden": 128, "epochs": 30, "batch_size": 256, "lr": 2e-3},
    "nsf": {"n_layers": 5, "hidden": 128, "epochs": 15, "batch_size": 512, "lr": 2e-3},
}


def _zuko_flows(sampler: str = "flow") -> Any:
    """The ``zuko.flows`` module, or a one-line :class:`ZspaceError` saying how to install it."""
    try:
        return importlib.import_module("zuko.flows")
    except ImportError:
        raise ZspaceError(f"sampler {sampler} needs the optional package zuko: {INSTALL_HINT}") from None


def zuko_available() -> bool:
    """Whether the flow samplers can run here (zuko importable)."""
    try:
        _zuko_flows()
    except ZspaceError:
        return False
    return True


def _apply(function: Any, rows: np.ndarray) -> np.ndarray:
    """``function`` (a flow's transform or log-density) of float32 ``rows``, without gradients, on one thread."""
    with torch.no_grad(), one_thread():
        return function(torch.from_numpy(rows)).numpy()


def _train_epoch(flow: torch.nn.Module, opt: torch.optim.Optimizer, train: torch.Tensor,
                 batches: tuple[torch.Tensor, ...]) -> None:
    """One pass of Adam steps on the mean negative log-likelihood of ``train[batch]`` for each batch of row indices
    (gradient norm clipped at 10)."""
    flow.train()
    for idx in batches:
        loss = -flow().log_prob(train[idx]).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(flow.parameters(), 10.0)
        opt.step()
    flow.eval()


def _train(flow: torch.nn.Module, train: torch.Tensor, val: torch.Tensor, *, epochs: int, batch_size: int,
           lr: float, seed: int) -> tuple[dict[str, torch.Tensor] | None, float]:
    """Maximum-likelihood training; returns the state dict of the epoch with the best mean held-out
    log-likelihood (nats per point, whitened units) and that value (None, -inf when it was never finite)."""
    opt = torch.optim.Adam(flow.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    batches = torch.Generator().manual_seed(seed)
    best, best_state = -float("inf"), None
    for epoch in range(epochs):
        _train_epoch(flow, opt, train, torch.randperm(len(train), generator=batches).split(batch_size))
        sched.step()
        with torch.no_grad():
            val_ll = float(flow().log_prob(val).mean())
        if val_ll > best:
            best, best_state = val_ll, {k: v.detach().clone() for k, v in flow.state_dict().items()}
        log.debug("flow epoch %d: held-out log-likelihood %.3f", epoch + 1, val_ll)
    return best_state, best


class ZukoFlowSampler(Sampler):
    """A zuko normalizing flow fitted to the whitened encoded z (see the module docstring).

    Parameters
    ----------
    z_dim : int
    n_layers : int, optional
        Autoregressive transforms (default per kind, :data:`KIND_DEFAULTS`).
    hidden : int, optional
        Width of the two hidden layers of each transform's masked MLP.
    epochs : int, optional
        Training budget in passes over the training part of the points.
    max_fit_points : int, default 30000
        At most this many (seeded) encoded points are fitted.
    lr : float, optional
        Adam's initial learning rate (cosine decay to 0 over ``epochs``).
    batch_size : int, optional
    bins : int, default 8
        Spline bins (``nsf`` only).
    kind : {"maf", "nsf"}, optional
        The flow; default: the class's (``flow``: :data:`DEFAULT_KIND`).
    """

    needs_fit = True
    arg_type = int
    default_kind = DEFAULT_KIND

    def __init__(self, z_dim: int, n_layers: int | None = None, hidden: int | None = None, epochs: int | None = None,
                 max_fit_points: int = 30000, lr: float | None = None, batch_size: int | None = None, bins: int = 8,
                 kind: str | None = None) -> None:
        super().__init__(z_dim)
        self.kind = kind or self.default_kind
        require(self.kind in KIND_DEFAULTS, f"sampler {self.name}: kind {self.kind!r} is not one of "
                                            f"{', '.join(KIND_DEFAULTS)}")
        defaults = KIND_DEFAULTS[self.kind]
        self.n_layers = int(defaults["n_layers"] if n_layers is None else n_layers)
        require(1 <= self.n_layers <= MAX_LAYERS, f"sampler {self.name}:{n_layers}: the number of transforms must "
                                                  f"be between 1 and {MAX_LAYERS}")
        self.hidden = int(defaults["hidden"] if hidden is None else hidden)
        self.epochs = int(defaults["epochs"] if epochs is None else epochs)
        self.batch_size = int(defaults["batch_size"] if batch_size is None else batch_size)
        self.lr = float(defaults["lr"] if lr is None else lr)
        self.max_fit_points, self.bins = int(max_fit_points), int(bins)
        require(self.hidden >= 1 and self.epochs >= 1 and self.batch_size >= 1 and self.bins >= 2,
                f"sampler {self.name}: hidden, epochs and batch_size must be >= 1 and bins >= 2")
        self._zuko = _zuko_flows(self.name)
        self._flow: torch.nn.Module | None = None
        self.heldout_log_likelihood: float | None = None

    def params(self) -> dict[str, Any]:
        return {"kind": self.kind, "n_layers": self.n_layers, "hidden": self.hidden, "epochs": self.epochs,
                "batch_size": self.batch_size, "lr": self.lr, "bins": self.bins,
                "max_fit_points": self.max_fit_points}

    def _build(self) -> torch.nn.Module:
        """A fresh zuko flow of this sampler's kind and size (weights from torch's global generator)."""
        common = {"transforms": self.n_layers, "hidden_features": (self.hidden, self.hidden)}
        if self.kind == "nsf":
            return self._zuko.NSF(self.z_dim, bins=self.bins, **common)
        return self._zuko.MAF(self.z_dim, **common)

    def fit(self, z: np.ndarray, seed: int = 0) -> "ZukoFlowSampler":
        """Fit the flow to encoded points z (N, z_dim), N >= 20; at most ``max_fit_points`` seeded rows are used."""
        train = functools.partial(_train, epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, seed=seed)
        self._flow, self.heldout_log_likelihood = fit_network(self, z, self._build, train, seed=seed,
                                                              max_points=self.max_fit_points, score="likelihood")
        return self

    def _log_det_whiten(self) -> float:
        return float(np.linalg.slogdet(self.whiten_)[1])

    def learned_arrays(self) -> dict[str, np.ndarray]:
        return {**super().learned_arrays(), **network_arrays(STATE_PREFIX, self._flow)}

    def set_learned(self, arrays: dict[str, np.ndarray]) -> None:
        stale = (f"sampler {self.name} was saved by an older zspace (the hand-written RealNVP); refit it: "
                 f"zspace fit-sampler RUN_DIR {self.name}")
        state, rest = split_network_arrays(arrays, STATE_PREFIX, stale)
        super().set_learned(rest)
        self._flow = load_network(self._build, state, f"sampler {self.name}: the saved flow")

    @property
    def is_fitted(self) -> bool:
        return self._flow is not None

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """(n, z_dim) float32 points: Gaussian noise from ``rng`` through the inverse flow, unwhitened."""
        self._require_fitted()
        eps = rng.standard_normal((n, self.z_dim)).astype(np.float32)
        inverse = self._flow().transform.inv
        x = np.concatenate([_apply(inverse, eps[rows]) for rows in row_chunks(n, ROWS_PER_PASS)] or
                           [np.empty((0, self.z_dim), np.float32)])
        return (x.astype(np.float64) @ self.unwhiten_ + self.mean_).astype(np.float32)

    def log_prob(self, z: np.ndarray) -> np.ndarray:
        """(N,) log density (nats) of points z (N, z_dim) under the fitted flow, in z units."""
        self._require_fitted()
        x = ((np.asarray(z, dtype=np.float64) - self.mean_) @ self.whiten_).astype(np.float32)
        log_prob = self._flow().log_prob
        values = [_apply(log_prob, x[rows]) for rows in row_chunks(len(x), ROWS_PER_PASS)]
        return np.concatenate(values or [np.empty(0, np.float32)]).astype(np.float64) + self._log_det_whiten()


@register
class FlowSampler(ZukoFlowSampler):
    """``flow[:L]``: the project's second-stage flow, zuko's :data:`DEFAULT_KIND` (see the module docstring)."""

    name = "flow"


@register
class MAFSampler(ZukoFlowSampler):
    """``maf[:L]``: zuko's masked autoregressive flow, L affine transforms (8)."""

    name = "maf"
    default_kind = "maf"


@register
class NSFSampler(ZukoFlowSampler):
    """``nsf[:L]``: zuko's neural spline flow, L rational-quadratic spline transforms (5)."""

    name = "nsf"
    default_kind = "nsf"
