"""Configuration of an AE/VAE: the single place where model defaults live."""

from __future__ import annotations

from dataclasses import dataclass

from zspace.core.config import Config
from zspace.core.errors import ZspaceError, require
from zspace.models.registry import MODELS


@dataclass
class ModelConfig(Config):
    """Shape and options of a convolutional AE or VAE.

    Parameters
    ----------
    kind : {"ae", "vae"}
        Autoencoder (one Dense head to z) or variational (mu and logvar heads).
    input_shape : tuple of int, default (96, 96, 3)
        Image (H, W, C) in pixels and channels.
    z_dim : int, default 256
        Dimension of the latent space.
    filters : tuple of int, default (32, 64, 128, 256)
        Output channels of each stride-2 convolution; the decoder mirrors them.
    kernel_size : int, default 3
        Odd square kernel of every (transposed) convolution ('same' padding).
    batch_norm : bool, default False
        BatchNorm after every hidden convolution.
    extra_dense : int or None, default None
        Width of an extra Dense layer between Flatten and the latent head(s).
    leaky_slope : float, default 0.3
        Negative slope of LeakyReLU (Keras' default alpha).
    eps_clip : float, default 5.0
        VAE only: eps ~ N(0, 1) is clipped to |eps| <= eps_clip.
    eps_factor : float, default 1.0
        VAE only: z = mu + exp(logvar/2) * eps * eps_factor; may be changed
        after training (see ``VAE.eps_factor``).
    """

    kind: str = "ae"
    input_shape: tuple[int, int, int] = (96, 96, 3)
    z_dim: int = 256
    filters: tuple[int, ...] = (32, 64, 128, 256)
    kernel_size: int = 3
    batch_norm: bool = False
    extra_dense: int | None = None
    leaky_slope: float = 0.3
    eps_clip: float = 5.0
    eps_factor: float = 1.0

    def __post_init__(self) -> None:
        self.input_shape = tuple(int(x) for x in self.input_shape)
        self.filters = tuple(int(x) for x in self.filters)
        super().__post_init__()

    def validate(self) -> None:
        """Raise ZspaceError naming the field and the fix for any bad value."""
        require(self.kind in MODELS, f"model kind {self.kind!r} is unknown; use one of {', '.join(MODELS)}")
        require(len(self.input_shape) == 3 and all(x >= 1 for x in self.input_shape),
                f"input_shape {self.input_shape} must be (H, W, C) with positive sizes, e.g. 96x96x3")
        require(self.input_shape[2] in (1, 3), f"input channels {self.input_shape[2]} unsupported; use 1 (grey) or 3 (RGB)")
        require(self.z_dim >= 1, f"z_dim {self.z_dim} must be >= 1")
        require(len(self.filters) >= 1 and all(f >= 1 for f in self.filters),
                f"filters {self.filters} must be a non-empty list of positive channel counts, e.g. 32,64,128,256")
        require(self.kernel_size >= 1 and self.kernel_size % 2 == 1,
                f"kernel_size {self.kernel_size} must be a positive odd number (for 'same' padding), e.g. 3")
        require(self.extra_dense is None or self.extra_dense >= 1, f"extra_dense {self.extra_dense} must be >= 1 or unset")
        require(self.eps_clip > 0, f"eps_clip {self.eps_clip} must be > 0")
        h, w = self.input_shape[:2]
        for i in range(len(self.filters)):
            if h < 2 or w < 2:
                raise ZspaceError(
                    f"filters {self.filters}: convolution {i + 1} would see a {h}x{w} map; an input of "
                    f"{self.input_shape[0]}x{self.input_shape[1]} supports at most {i} stride-2 layers; "
                    f"use fewer filters or a larger --input")
            h, w = (h + 1) // 2, (w + 1) // 2


def parse_shape(text: str) -> tuple[int, int, int]:
    """Parse '96x96x3' (or '28x28', meaning one channel) into (H, W, C)."""
    try:
        parts = [int(p) for p in text.lower().split("x")]
    except ValueError:
        parts = []
    if len(parts) == 2:
        parts.append(1)
    require(len(parts) == 3, f"--input {text!r} is not HxWxC; write e.g. 96x96x3 or 28x28x1")
    return tuple(parts)  # type: ignore[return-value]


def parse_int_list(text: str, what: str) -> tuple[int, ...]:
    """Parse '32,64,128' into a tuple of ints; errors name the option."""
    try:
        return tuple(int(p) for p in text.split(",") if p.strip())
    except ValueError:
        raise ZspaceError(f"{what} {text!r} is not a comma-separated list of integers, e.g. 32,64,128,256") from None


__all__ = ["ModelConfig", "parse_shape", "parse_int_list"]
