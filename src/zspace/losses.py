"""Reconstruction and KL losses, per image summed and averaged over the batch.

Reconstruction BCE is computed from decoder logits with
``binary_cross_entropy_with_logits``: the same value as BCE on sigmoid outputs
but numerically stable (no log(0) when a pixel saturates), which is why the
decoder ends in logits and :meth:`Autoencoder.decode` applies the sigmoid.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

RECONSTRUCTION_LOSSES = ("bce", "mse")


def reconstruction_loss(logits: torch.Tensor, target: torch.Tensor, kind: str = "bce") -> torch.Tensor:
    """Per-image sum over pixels and channels, mean over the batch.

    Parameters
    ----------
    logits : (B, C, H, W) decoder logits.
    target : (B, C, H, W) images in [0, 1].
    kind : "bce" (binary cross-entropy, nats per image) or "mse" (squared error
        of sigmoid(logits), summed per image).
    """
    if kind == "bce":
        per_pixel = F.binary_cross_entropy_with_logits(logits.float(), target.float(), reduction="none")
    elif kind == "mse":
        per_pixel = (torch.sigmoid(logits.float()) - target.float()) ** 2
    else:  # validated at the door; a programming error here
        raise ValueError(f"unknown reconstruction loss {kind!r}")
    return per_pixel.flatten(1).sum(1).mean()


def kl_loss(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)), summed over z, mean over the batch (nats)."""
    mu, logvar = mu.float(), logvar.float()
    return (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)).mean()
