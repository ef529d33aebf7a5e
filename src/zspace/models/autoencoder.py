"""AE and VAE built from the shared conv stack, and the model registry."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from zspace.models.config import ModelConfig
from zspace.models.conv import ConvDecoder, ConvEncoderTrunk
from zspace.models.registry import MODELS, register_model


@dataclass
class Encoding:
    """Encoder output for a batch: z (B, z_dim); for a VAE also mu and logvar (B, z_dim)."""

    z: torch.Tensor
    mu: torch.Tensor | None = None
    logvar: torch.Tensor | None = None

    @property
    def code(self) -> torch.Tensor:
        """The deterministic code of each image: a VAE's ``mu``, an AE's ``z`` (B, z_dim)."""
        return self.mu if self.mu is not None else self.z


@register_model("ae")
class Autoencoder(nn.Module):
    """Convolutional AE: images (B, C, H, W) in [0, 1] -> z (B, z_dim) -> image logits."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = ConvEncoderTrunk(config)
        self._build_heads(self.encoder.out_features)
        self.decoder = ConvDecoder(config)

    def _build_heads(self, features: int) -> None:
        self.z_head = nn.Linear(features, self.config.z_dim)

    def encode(self, x: torch.Tensor, eps: torch.Tensor | None = None) -> Encoding:
        """Place images (B, C, H, W) in latent space (``eps``, the noise of a VAE, is not used)."""
        return Encoding(z=self.z_head(self.encoder(x)))

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """Latent points (B, z_dim) -> logits (B, C, H, W)."""
        return self.decoder(z)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latent points (B, z_dim) -> images (B, C, H, W) in [0, 1]."""
        return torch.sigmoid(self.decode_logits(z))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, Encoding]:
        """Reconstruction logits (B, C, H, W) and the encoding of ``x``."""
        enc = self.encode(x)
        return self.decode_logits(enc.z), enc


@register_model("vae")
class VariationalAutoencoder(Autoencoder):
    """Convolutional VAE with heads mu, logvar and z = mu + exp(logvar/2) * clip(eps) * eps_factor.

    ``eps_factor`` (from the config) can be changed after training, e.g. set to
    0 to decode mu itself. Training draws the noise from torch's global
    generator (seeded per epoch and process); encoding passes its own noise,
    seeded per row, so z does not depend on batch size or process count.
    """

    def _build_heads(self, features: int) -> None:
        self.mu_head = nn.Linear(features, self.config.z_dim)
        self.logvar_head = nn.Linear(features, self.config.z_dim)
        self.eps_factor = float(self.config.eps_factor)

    def encode(self, x: torch.Tensor, eps: torch.Tensor | None = None) -> Encoding:
        """Encode images (B, C, H, W); ``eps`` (B, z_dim) is standard normal noise, drawn here when None."""
        h = self.encoder(x)
        mu, logvar = self.mu_head(h), self.logvar_head(h)
        eps = torch.randn_like(mu) if eps is None else eps.to(device=mu.device, dtype=mu.dtype)
        eps = eps.clamp(-self.config.eps_clip, self.config.eps_clip)
        z = mu + torch.exp(0.5 * logvar) * eps * self.eps_factor
        return Encoding(z=z, mu=mu, logvar=logvar)


def build_model(config: ModelConfig) -> Autoencoder:
    """Instantiate the model class registered for ``config.kind``."""
    return MODELS[config.kind](config)
