"""Merge concurrent decode requests into one forward pass (``zspace explore --batch-decodes``), off by default.

While one forward pass runs, the requests that arrive queue up; the next pass
decodes all of them at once (at most ``max_points`` points), and each request
gets its own rows back. Nothing waits for company: a lone request is decoded
at once, so a single user sees no added latency, and under load the number of
passes falls with the number of waiting clients.

The price, and why it is off by default: a point decoded in a batch with
others can differ in the last float bits from the same point decoded alone
(the kernels of a batch of 32 are not those of a batch of 1), so a pixel can
differ by one level of 255 from ``decode`` of the request's own z; measured on
the seeds' 96x96x3 model, 2 of 1.77 million values. The default keeps the
API's promise of pixel-equal decodes.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Callable

import numpy as np


class DecodeBatcher:
    """Decode ``(n, d)`` requests from many threads through one ``decode`` function, merged (see the module).

    ``decode``: float32 (N, d) -> float32 images (N, H, W, C). :attr:`passes` counts the forward passes made.
    """

    def __init__(self, decode: Callable[[np.ndarray], np.ndarray], max_points: int = 256) -> None:
        self._decode = decode
        self.max_points = max_points
        self._queue: list[tuple[np.ndarray, Future]] = []
        self._lock = threading.Lock()
        self._busy = False
        self.passes = 0

    def __call__(self, z: np.ndarray) -> np.ndarray:
        """Images of ``z`` (n, d), decoded in a pass with whatever other requests are waiting."""
        future: Future = Future()
        with self._lock:
            self._queue.append((np.asarray(z, dtype=np.float32), future))
            lead = not self._busy
            self._busy = True
        if lead:  # this thread decodes until the queue is empty; the others wait for their rows
            self._drain()
        return future.result()

    def _take(self) -> list[tuple[np.ndarray, Future]]:
        with self._lock:
            taken, points = [], 0
            while self._queue and (not taken or points + len(self._queue[0][0]) <= self.max_points):
                taken.append(self._queue.pop(0))
                points += len(taken[-1][0])
            if not taken:
                self._busy = False
            return taken

    def _drain(self) -> None:
        while taken := self._take():
            try:
                images = self._decode(np.concatenate([z for z, _ in taken]))
                self.passes += 1
            except BaseException as exc:  # every waiting request gets the error, none hangs
                for _, future in taken:
                    future.set_exception(exc)
                continue
            start = 0
            for z, future in taken:
                future.set_result(images[start:start + len(z)])
                start += len(z)


__all__ = ["DecodeBatcher"]
