"""Decode latent points into images: generation from samplers, and reconstructions."""

from __future__ import annotations

import numpy as np
import torch

from zspace.batches import iterate_batches, to_tensor
from zspace.data import load_images
from zspace.device import select_device
from zspace.errors import require
from zspace.models import Autoencoder
from zspace.progress import progress
from zspace.run import Run
from zspace.samplers import resolve_sampler


@torch.no_grad()
def decode_points(model: Autoencoder, z: np.ndarray, batch_size: int = 512, desc: str = "decoding") -> np.ndarray:
    """Decode latent points (N, z_dim) into float32 images (N, H, W, C) in [0, 1]."""
    device = next(model.parameters()).device
    out = np.empty((len(z), *model.config.input_shape), dtype=np.float32)
    bar = progress(total=len(z), desc=desc, unit="img")
    for start in range(0, len(z), batch_size):
        chunk = torch.from_numpy(np.ascontiguousarray(z[start:start + batch_size], dtype=np.float32)).to(device)
        out[start:start + len(chunk)] = model.decode(chunk).permute(0, 2, 3, 1).float().cpu().numpy()
        bar.update(len(chunk))
    bar.close()
    return out


def generate(run: Run, sampler: str = "normal", n: int = 64, seed: int = 0, *, epoch: int | None = None,
             device: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` points from ``sampler`` and decode them.

    ``sampler`` is a spec (``normal``, ``uniform:2``) or the name of a sampler
    fitted and saved in the run (``zspace fit-sampler RUN_DIR gmm:10``).

    Returns (z (n, z_dim) float32, images (n, H, W, C) float32 in [0, 1]).
    """
    require(n >= 1, f"--n {n} must be >= 1")
    model = run.load_model(epoch, device=select_device(device))
    z = resolve_sampler(run.root, sampler, model.config.z_dim).sample(n, np.random.default_rng(seed))
    return z, decode_points(model, z)


@torch.no_grad()
def reconstruct(run: Run, data: str | None = None, n: int = 16, seed: int = 0, *, epoch: int | None = None,
                device: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """Reconstruct ``n`` unseen test images (a seeded choice); a VAE decodes its mu.

    Returns (originals, reconstructions), both float32 (n, H, W, C) in [0, 1].
    """
    require(n >= 1, f"--n {n} must be >= 1")
    cfg = run.config["train"]
    test = load_images(data or cfg["data"], "test", image_size=cfg.get("image_size"), seed=cfg["seed"])
    dev = select_device(device)
    model = run.load_model(epoch, device=dev)
    pick = np.sort(np.random.default_rng(seed).choice(len(test), size=min(n, len(test)), replace=False))
    originals = test.images[pick]
    recos = []
    for _, batch in iterate_batches(originals, 256, prefetch=0):
        enc = model.encode(to_tensor(batch, dev))
        recos.append(model.decode(enc.mu if enc.mu is not None else enc.z).permute(0, 2, 3, 1).cpu().numpy())
    return originals.astype(np.float32) / 255.0, np.concatenate(recos).astype(np.float32)
