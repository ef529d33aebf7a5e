"""Image batches as tensors, straight from a uint8 (N, H, W, C) array or memmap.

No DataLoader: the data set is already decoded into one contiguous uint8 array
(or a memory-mapped cache), so a batch is one fancy-index plus a conversion;
a background thread prepares the next batch while the model works on this one.
Shuffling uses its own generator seeded from (seed, epoch), so the order of an
epoch does not depend on how many random numbers earlier epochs drew: a
resumed run sees exactly the batches an uninterrupted run would.
"""

from __future__ import annotations

import queue
import threading
from typing import Iterator

import numpy as np
import torch

from zspace.core.rng import item_seed


def to_tensor(images: np.ndarray, device: torch.device | str = "cpu", channels_last: bool = False) -> torch.Tensor:
    """uint8 (B, H, W, C) -> float32 (B, C, H, W) in [0, 1] on ``device``.

    The batch travels as uint8 (4x fewer bytes than float32) and is converted on
    the device; for a CUDA device it is first copied to pinned memory, so the
    host-to-device copy is asynchronous (``non_blocking``).
    """
    t = torch.from_numpy(np.ascontiguousarray(images))
    if torch.device(device).type == "cuda":
        t = t.pin_memory()
    t = t.to(device, non_blocking=True)
    t = t.permute(0, 3, 1, 2).float().div_(255.0)
    return t.contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)


def epoch_order(n: int, seed: int, epoch: int, shuffle: bool = True) -> np.ndarray:
    """Indices 0..n-1 in the order of ``epoch`` (1-based), reproducible from (seed, epoch)."""
    if not shuffle:
        return np.arange(n)
    g = torch.Generator().manual_seed(item_seed(seed, epoch))
    return torch.randperm(n, generator=g).numpy()


def batch_indices(order: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """``order`` cut into consecutive batches of ``batch_size`` (the last one may be shorter)."""
    return [order[start:start + batch_size] for start in range(0, len(order), batch_size)]


def iterate_batches(images: np.ndarray, batch_size: int, order: np.ndarray | None = None,
                    prefetch: int = 2) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (indices, uint8 images) batches in ``order``, read ahead by a thread."""
    order = np.arange(len(images)) if order is None else order
    return iterate_index_batches(images, batch_indices(order, batch_size), prefetch)


def iterate_index_batches(images: np.ndarray, batches: list[np.ndarray],
                          prefetch: int = 2) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (indices, uint8 images) for each index array of ``batches``, read ahead by a thread.

    Indices inside one batch are sorted before reading, which makes reads of a
    memory-mapped cache sequential; the loss of a batch does not depend on the
    order of its images.
    """
    starts = range(len(batches))

    def read(i: int) -> tuple[np.ndarray, np.ndarray]:
        idx = np.sort(batches[i])
        return idx, images[idx]

    if prefetch <= 0:
        for s in starts:
            yield read(s)
        return
    q: queue.Queue = queue.Queue(maxsize=prefetch)
    stop = threading.Event()

    def worker() -> None:
        try:
            for s in starts:
                if stop.is_set():
                    return
                q.put(read(s))
        except BaseException as exc:  # surfaced in the consumer
            q.put(exc)
            return
        q.put(None)

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.01)
