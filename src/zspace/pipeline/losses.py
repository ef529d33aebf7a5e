"""Reconstruction and KL losses, per image summed and averaged over the batch.

Reconstruction BCE is computed from decoder logits with
``binary_cross_entropy_with_logits``: the same value as BCE on sigmoid outputs
but numerically stable (no log(0) when a pixel saturates), which is why the
decoder ends in logits and :meth:`Autoencoder.decode` applies the sigmoid.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from zspace.core.registry import Registry


def _bce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy per pixel (nats), from logits."""
    return F.binary_cross_entropy_with_logits(logits.float(), target.float(), reduction="none")


def _mse(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Squared error per pixel of sigmoid(logits)."""
    return (torch.sigmoid(logits.float()) - target.float()) ** 2


#: reconstruction loss name -> per-pixel loss (logits (B, C, H, W), target (B, C, H, W)) -> (B, C, H, W)
RECONSTRUCTION_LOSSES: Registry[Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = Registry(
    "reconstruction loss", {"bce": _bce, "mse": _mse})


def reconstruction_loss(logits: torch.Tensor, target: torch.Tensor, kind: str = "bce") -> torch.Tensor:
    """Per-image sum over pixels and channels, mean over the batch.

    Parameters
    ----------
    logits : (B, C, H, W) decoder logits.
    target : (B, C, H, W) images in [0, 1].
    kind : a name of :data:`RECONSTRUCTION_LOSSES`: "bce" (binary cross-entropy,
        nats per image) or "mse" (squared error of sigmoid(logits), summed per image).
    """
    return RECONSTRUCTION_LOSSES[kind](logits, target).flatten(1).sum(1).mean()


def kl_loss(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)), summed over z, mean over the batch (nats)."""
    mu, logvar = mu.float(), logvar.float()
    return (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)).mean()
