"""Model + data -> Z store: place every image of a split in latent space."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from zspace.core import faults, rng
from zspace.core.device import select_device
from zspace.core.progress import progress
from zspace.pipeline.batches import iterate_index_batches, to_tensor
from zspace.pipeline.precision import Precision, autocast
from zspace.pipeline.processes import process_device, process_strategy, shard_rows
from zspace.pipeline.run import Run, open_run
from zspace.pipeline.zstore import Allocate, ZStore, is_zdir_path, load_zstore, writing_zdir

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
    the data cache is never copied whole.
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
    if "z" not in out:  # no images: no batch told the width
        out["z"] = allocate("z", (0, model.config.z_dim))
    return out


def encode(run: Run | str | Path, data: str | None = None, split: str = "test", *, epoch: int | None = None,
           batch_size: int = 512, device: str = "auto", seed: int = 0, n: int | None = None,
           precision: str | None = None, out: str | Path | None = None) -> ZStore | None:
    """Encode a split of ``data`` (default: the run's training data) with the run's model.

    ``out``: None keeps the store in memory and returns it. A path ending in
    .npz writes the store there as a Z file (all rows gathered in memory
    first) and returns it. Any other path is a Z directory (see
    :mod:`zspace.pipeline.zstore`): its z.npy (and mu.npy, logvar.npy) are
    written through memory maps while encoding goes, so memory holds one
    batch whatever the number of images; the returned store is
    :func:`~zspace.pipeline.zstore.load_zstore` of it, memory-mapped. The
    directory is built under a temporary name and renamed at the end: a
    failed or killed encode leaves no part of it, and an existing one is
    replaced only when encoding succeeds.

    Under torchrun each process encodes a contiguous share of the rows and
    process 0 gathers them in order (in memory, also for a Z directory, which
    process 0 then writes): it returns the whole store, the other processes
    return None.

    ``precision``: fp32, bf16, fp16 or auto; default the run's training precision
    (:meth:`~zspace.pipeline.run.Run.inference_precision`).
    """
    run = open_run(run) if not isinstance(run, Run) else run
    spec = data or run.train_config.data
    images = run.data_split(split, data=spec, n=n)
    dev = process_device(select_device(device))
    model = run.load_model(epoch, device=dev)
    chosen = run.inference_precision(dev, precision)
    processes = process_strategy(dev)
    total = len(images.images)
    meta = {"run": str(run.root), "data": spec, "split": split, "epoch": epoch or run.latest_epoch(),
            "precision": chosen.name,
            "model_kind": run.model_config.kind, "z_dim": run.model_config.z_dim,
            "class_names": images.class_names}
    rows = shard_rows(total, processes)
    if out is not None and is_zdir_path(out) and processes.world_size == 1:
        with writing_zdir(out, total, labels=images.labels, factors=images.factors,
                          factor_names=list(images.factor_names), meta=meta) as allocate:
            encode_images(model, images.images[rows], batch_size, dev, seed, precision=chosen,
                          first_row=rows.start, allocate=allocate)
        return load_zstore(out)
    arrays = encode_images(model, images.images[rows], batch_size, dev, seed, precision=chosen, first_row=rows.start)
    if processes.world_size > 1:
        parts = processes.gather(arrays)
        processes.close()
        if parts is None:
            return None
        arrays = {name: np.concatenate([part[name] for part in parts]) for name in arrays}
    store = ZStore(z=arrays["z"], index=np.arange(total), mu=arrays.get("mu"),
                   logvar=arrays.get("logvar"), labels=images.labels, factors=images.factors,
                   factor_names=list(images.factor_names), meta=meta)
    if out is None:
        return store
    store.save(out)
    return load_zstore(out) if is_zdir_path(out) else store


__all__ = ["encode", "encode_images"]
