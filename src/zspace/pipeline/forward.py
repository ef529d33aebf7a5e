"""Forward passes of a model over arrays, a batch at a time: encode, decode, reconstruct.

The primitives that :class:`zspace.pipeline.session.InferenceSession` calls
with its model and precision; nothing here opens a run or loads a checkpoint.
"""

from __future__ import annotations

import numpy as np
import torch

from zspace.core import faults, rng, timing
from zspace.core.progress import progress
from zspace.models import Autoencoder
from zspace.pipeline.batches import iterate_batches, iterate_index_batches, to_tensor
from zspace.pipeline.precision import Precision, autocast
from zspace.pipeline.zstore import Allocate

#: rows per block of encoding noise: the noise of row i comes from the generator of block i // NOISE_BLOCK
NOISE_BLOCK = 4096


class RowNoise:
    """Standard normal noise (N, d) whose row i depends only on (seed, i): the same for any batch or shard."""

    def __init__(self, seed: int, dim: int) -> None:
        self.seed, self.dim = seed, dim
        self._block: tuple[int, torch.Tensor] | None = None

    def _block_noise(self, block: int) -> torch.Tensor:
        if self._block is None or self._block[0] != block:
            g = torch.Generator().manual_seed(rng.stream_seed(self.seed, block))
            self._block = (block, torch.randn(NOISE_BLOCK, self.dim, generator=g))
        return self._block[1]

    def rows(self, rows: np.ndarray) -> torch.Tensor:
        """(len(rows), d) float32 noise of the given row numbers."""
        out = torch.empty(len(rows), self.dim)
        blocks = rows // NOISE_BLOCK
        for block in np.unique(blocks):
            mask = blocks == block
            out[torch.from_numpy(mask)] = self._block_noise(int(block))[torch.from_numpy(rows[mask] % NOISE_BLOCK)]
        return out


class _Batches:
    """Rows 0..n-1 in batches of ``size``, each made when asked for (no index array of all n rows)."""

    def __init__(self, n: int, size: int) -> None:
        self.n, self.size = n, size

    def __len__(self) -> int:
        return -(-self.n // self.size)

    def __getitem__(self, i: int) -> np.ndarray:
        if not 0 <= i < len(self):
            raise IndexError(i)
        return np.arange(i * self.size, min((i + 1) * self.size, self.n))


def _in_memory(name: str, shape: tuple[int, int]) -> np.ndarray:
    return np.empty(shape, dtype=np.float32)


@timing.timed("encode")
@torch.no_grad()
def encode_images(model, images: np.ndarray, batch_size: int = 512, device: str | torch.device = "cpu",
                  seed: int = 0, desc: str = "encoding", precision: Precision | None = None,
                  first_row: int = 0, allocate: Allocate | None = None) -> dict[str, np.ndarray]:
    """Encode uint8 images (N, H, W, C); return z (and mu, logvar for a VAE) as float32 (N, d).

    A VAE's z uses :class:`RowNoise` seeded by ``seed``, where ``images[i]`` is
    row ``first_row + i`` of the whole set: the same image gets the same z
    whatever the batch size or the number of processes sharing the set. The
    forward passes run in ``precision`` (None: float32); outputs are float32.

    ``allocate(name, (N, d))`` gives the array each output is written into, a
    batch at a time (default: a new array in memory); a memory map of a file
    (:func:`zspace.pipeline.zstore.writing_zdir`) keeps memory to one batch
    whatever N. ``images`` is only read a batch at a time, so a memory map of
    the data cache is never copied whole. No images (a process's empty share
    of fewer rows than processes) give (0, d) arrays of every output the
    model has, as any other share does.
    """
    allocate = allocate or _in_memory
    device = torch.device(device)
    n = len(images)
    out: dict[str, np.ndarray] = {}
    noise = RowNoise(seed, model.config.z_dim)
    bar = progress(total=n, desc=desc, unit="img")
    for idx, batch in iterate_index_batches(images, _Batches(n, batch_size)):
        with autocast(precision):
            enc = model.encode(to_tensor(batch, device), eps=noise.rows(first_row + idx))
        for name in ("z", "mu", "logvar"):
            value = getattr(enc, name)
            if value is None:
                continue
            if name not in out:
                out[name] = allocate(name, (n, int(value.shape[1])))
            out[name][idx] = value.float().cpu().numpy()
        bar.update(len(batch))
        faults.point("encode.batch")
    bar.close()
    if n == 0:  # no batch told which outputs the model has and how wide: one empty forward pass tells
        with autocast(precision):
            enc = model.encode(to_tensor(images[:0], device), eps=noise.rows(np.arange(0)))
        for name in ("z", "mu", "logvar"):
            value = getattr(enc, name)
            if value is not None:
                out[name] = allocate(name, (0, int(value.shape[1])))
    return out



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


__all__ = ["NOISE_BLOCK", "RowNoise", "encode_images", "decode_points", "reconstruct_images"]
