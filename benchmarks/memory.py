"""Time and peak memory of one call, for the benchmark scripts."""

from __future__ import annotations

import threading
import time
from typing import Callable


def vmrss() -> int:
    """This process's resident set size now (bytes, /proc/self/status VmRSS)."""
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmRSS:"))


def timed(call: Callable[[], object]) -> tuple[object, float, int]:
    """(result, seconds, peak VmRSS above the level before in bytes) of ``call()``, sampled every 5 ms."""
    base, peak, done = vmrss(), [0], threading.Event()

    def sample():
        while not done.wait(0.005):
            peak[0] = max(peak[0], vmrss() - base)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    start = time.perf_counter()
    result = call()
    seconds = time.perf_counter() - start
    done.set()
    thread.join()
    return result, seconds, max(peak[0], vmrss() - base)
