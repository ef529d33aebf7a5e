"""Decode latent points into images, and reconstruct images through a run's model.

Drawing the points from a sampler is :func:`zspace.science.generation.generate`.
"""

from __future__ import annotations

import numpy as np
import torch

from zspace.core.device import select_device
from zspace.core.errors import require
from zspace.core.progress import progress
from zspace.models import Autoencoder
from zspace.pipeline.batches import iterate_batches, to_tensor
from zspace.pipeline.precision import Precision, autocast
from zspace.pipeline.run import Run


@torch.no_grad()
def decode_points(model: Autoencoder, z: np.ndarray, batch_size: int = 512, desc: str = "decoding",
                  precision: Precision | None = None) -> np.ndarray:
    """Decode latent points (N, z_dim) into float32 images (N, H, W, C) in [0, 1], computed in ``precision``."""
    device = next(model.parameters()).device
    out = np.empty((len(z), *model.config.input_shape), dtype=np.float32)
    bar = progress(total=len(z), desc=desc, unit="img")
    for start in range(0, len(z), batch_size):
        chunk = torch.from_numpy(np.ascontiguousarray(z[start:start + batch_size], dtype=np.float32)).to(device)
        with autocast(precision):
            images = model.decode(chunk)
        out[start:start + len(chunk)] = images.permute(0, 2, 3, 1).float().cpu().numpy()
        bar.update(len(chunk))
    bar.close()
    return out


@torch.no_grad()
def reconstruct(run: Run, data: str | None = None, n: int = 16, seed: int = 0, *, epoch: int | None = None,
                device: str = "auto", precision: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Reconstruct ``n`` unseen test images (a seeded choice); a VAE decodes its mu.

    Returns (originals, reconstructions), both float32 (n, H, W, C) in [0, 1].
    """
    require(n >= 1, f"--n {n} must be >= 1")
    test = run.data_split("test", data=data)
    dev = select_device(device)
    model = run.load_model(epoch, device=dev)
    pick = np.sort(np.random.default_rng(seed).choice(len(test), size=min(n, len(test)), replace=False))
    originals = test.images[pick]
    return originals.astype(np.float32) / 255.0, reconstruct_images(model, originals,
                                                                     precision=run.inference_precision(dev, precision))


@torch.no_grad()
def reconstruct_images(model: Autoencoder, images: np.ndarray, batch_size: int = 512,
                       desc: str = "reconstructing", precision: Precision | None = None) -> np.ndarray:
    """Decode the deterministic code (a VAE's mu) of uint8 images (N, H, W, C); float32 (N, H, W, C) in [0, 1].

    The global RNG is left untouched (a VAE's encoder draws eps for z, unused here).
    """
    device = next(model.parameters()).device
    out = np.empty((len(images), *model.config.input_shape), dtype=np.float32)
    bar = progress(total=len(images), desc=desc, unit="img")
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        for idx, batch in iterate_batches(images, batch_size, prefetch=0):
            with autocast(precision):
                decoded = model.decode(model.encode(to_tensor(batch, device)).code)
            out[idx] = decoded.permute(0, 2, 3, 1).float().cpu().numpy()
            bar.update(len(batch))
    bar.close()
    return out
