"""The one convolutional encoder/decoder builder shared by every model.

Encoder: ``len(filters)`` stride-2 convolutions with 'same' padding (output
size ceil(in/2), as in Keras), optional BatchNorm, LeakyReLU, then Flatten and
an optional extra Dense layer. Decoder: Dense to the pre-flatten shape,
Reshape, and the mirrored stack of stride-2 transposed convolutions ending in
``C`` channels of logits. ``output_padding`` is chosen per layer so that the
decoder reproduces the encoder's spatial sizes exactly for any H and W
(e.g. 28 -> 14 -> 7 -> 4 and back 4 -> 7 -> 14 -> 28).
"""

from __future__ import annotations

import torch
from torch import nn

from zspace.models.config import ModelConfig


def spatial_sizes(config: ModelConfig) -> list[tuple[int, int]]:
    """(H, W) before each encoder convolution and after the last one."""
    h, w = config.input_shape[:2]
    sizes = [(h, w)]
    for _ in config.filters:
        h, w = (h + 1) // 2, (w + 1) // 2
        sizes.append((h, w))
    return sizes


def flat_features(config: ModelConfig) -> int:
    """Number of features after Flatten (H_last * W_last * filters[-1])."""
    h, w = spatial_sizes(config)[-1]
    return h * w * config.filters[-1]


def _activation(config: ModelConfig) -> nn.Module:
    return nn.LeakyReLU(config.leaky_slope)


class ConvEncoderTrunk(nn.Module):
    """Images (B, C, H, W) in [0, 1] -> features (B, F) before the latent head(s)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        in_ch = config.input_shape[2]
        pad = config.kernel_size // 2
        for out_ch in config.filters:
            layers.append(nn.Conv2d(in_ch, out_ch, config.kernel_size, stride=2, padding=pad))
            if config.batch_norm:
                layers.append(nn.BatchNorm2d(out_ch))
            layers.append(_activation(config))
            in_ch = out_ch
        layers.append(nn.Flatten())
        self.out_features = flat_features(config)
        if config.extra_dense:
            layers += [nn.Linear(self.out_features, config.extra_dense), _activation(config)]
            self.out_features = config.extra_dense
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class ConvDecoder(nn.Module):
    """Latent points (B, z_dim) -> image logits (B, C, H, W); apply sigmoid for pixels."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        sizes = spatial_sizes(config)
        h0, w0 = sizes[-1]
        self.start_shape = (config.filters[-1], h0, w0)
        self.dense = nn.Linear(config.z_dim, flat_features(config))
        channels = list(config.filters[::-1]) + [config.input_shape[2]]
        pad = config.kernel_size // 2
        layers: list[nn.Module] = []
        for i in range(len(config.filters)):
            (h_in, w_in), (h_out, w_out) = sizes[-1 - i], sizes[-2 - i]
            # ConvTranspose2d gives 2*in - 1 + output_padding for stride 2, kernel k, padding k//2.
            output_padding = (h_out - (2 * h_in - 1), w_out - (2 * w_in - 1))
            layers.append(nn.ConvTranspose2d(channels[i], channels[i + 1], config.kernel_size, stride=2,
                                             padding=pad, output_padding=output_padding))
            if i < len(config.filters) - 1:
                if config.batch_norm:
                    layers.append(nn.BatchNorm2d(channels[i + 1]))
                layers.append(_activation(config))
        self.layers = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.dense(z).view(z.shape[0], *self.start_shape)
        return self.layers(x)
