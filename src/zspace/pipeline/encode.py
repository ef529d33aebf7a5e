"""Model + data -> Z store: place every image of a split in latent space."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from zspace.core import faults
from zspace.core.device import select_device
from zspace.core.progress import progress
from zspace.pipeline.batches import iterate_batches, to_tensor
from zspace.pipeline.precision import Precision, autocast
from zspace.pipeline.run import Run, open_run
from zspace.pipeline.zstore import ZStore


@torch.no_grad()
def encode_images(model, images: np.ndarray, batch_size: int = 512, device: str | torch.device = "cpu",
                  seed: int = 0, desc: str = "encoding", precision: Precision | None = None) -> dict[str, np.ndarray]:
    """Encode uint8 images (N, H, W, C); return z (and mu, logvar for a VAE) as float32 (N, d).

    A VAE's z is sampled with torch's generator seeded by ``seed`` inside a
    forked RNG, so the same call gives the same z and leaves global state alone.
    The forward passes run in ``precision`` (None: float32); outputs are float32.
    """
    device = torch.device(device)
    n = len(images)
    out: dict[str, np.ndarray] = {}
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        bar = progress(total=n, desc=desc, unit="img")
        for idx, batch in iterate_batches(images, batch_size):
            with autocast(precision):
                enc = model.encode(to_tensor(batch, device))
            for name in ("z", "mu", "logvar"):
                value = getattr(enc, name)
                if value is None:
                    continue
                if name not in out:
                    out[name] = np.empty((n, value.shape[1]), dtype=np.float32)
                out[name][idx] = value.float().cpu().numpy()
            bar.update(len(batch))
            faults.point("encode.batch")
        bar.close()
    return out


def encode(run: Run | str | Path, data: str | None = None, split: str = "test", *, epoch: int | None = None,
           batch_size: int = 512, device: str = "auto", seed: int = 0, n: int | None = None,
           precision: str | None = None) -> ZStore:
    """Encode a split of ``data`` (default: the run's training data) with the run's model.

    ``precision``: fp32, bf16, fp16 or auto; default the run's training precision
    (:meth:`~zspace.pipeline.run.Run.inference_precision`).
    """
    run = open_run(run) if not isinstance(run, Run) else run
    spec = data or run.train_config.data
    images = run.data_split(split, data=spec, n=n)
    dev = select_device(device)
    model = run.load_model(epoch, device=dev)
    chosen = run.inference_precision(dev, precision)
    arrays = encode_images(model, images.images, batch_size, dev, seed, precision=chosen)
    meta = {"run": str(run.root), "data": spec, "split": split, "epoch": epoch or run.latest_epoch(),
            "precision": chosen.name,
            "model_kind": run.model_config.kind, "z_dim": run.model_config.z_dim,
            "class_names": images.class_names}
    return ZStore(z=arrays["z"], index=np.arange(len(images.images)), mu=arrays.get("mu"),
                  logvar=arrays.get("logvar"), labels=images.labels, factors=images.factors,
                  factor_names=list(images.factor_names), meta=meta)


__all__ = ["encode", "encode_images"]
