"""``--batch-decodes``: concurrent requests share forward passes and each gets exactly its own rows back."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import zspace
from zspace.core.images import to_uint8
from zspace.explore.batching import DecodeBatcher


def slow_decode(calls: list[int]):
    def decode(z: np.ndarray) -> np.ndarray:
        calls.append(len(z))
        time.sleep(0.05)  # a forward pass long enough for the other requests to queue up
        return np.repeat(z[:, :1, None, None] * 2.0, 3, axis=1)  # (n, 3, 1, 1): row i is 2 * z[i, 0]
    return decode


def test_waiting_requests_share_a_pass_and_each_gets_its_own_rows():
    calls: list[int] = []
    batcher = DecodeBatcher(slow_decode(calls), max_points=256)
    requests = [np.full((k % 3 + 1, 4), float(k), dtype=np.float32) for k in range(12)]
    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(batcher, requests))
    for z, images in zip(requests, answers):
        assert images.shape == (len(z), 3, 1, 1) and np.all(images == 2.0 * z[0, 0])
    assert sum(calls) == sum(len(z) for z in requests)
    assert batcher.passes == len(calls) < len(requests)  # 12 requests, fewer passes
    lone = batcher(np.ones((2, 4), dtype=np.float32))  # nobody waiting: decoded at once, alone
    assert calls[-1] == 2 and np.all(lone == 2.0)


def test_a_pass_never_exceeds_the_point_limit_and_an_error_reaches_every_waiting_request():
    calls: list[int] = []
    batcher = DecodeBatcher(slow_decode(calls), max_points=5)
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(batcher, [np.zeros((2, 4), dtype=np.float32)] * 6))
    assert max(calls) <= 5

    started = threading.Event()

    def failing(z: np.ndarray) -> np.ndarray:
        started.set()
        time.sleep(0.05)
        raise RuntimeError("out of memory")

    broken = DecodeBatcher(failing)
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(broken, np.zeros((1, 4), dtype=np.float32)) for _ in range(4)]
        for future in futures:
            with pytest.raises(RuntimeError, match="out of memory"):
                future.result(timeout=10)


def test_a_real_model_s_batched_decodes_are_within_one_level_of_lone_decodes(ae_run):
    run = zspace.open_run(ae_run)
    session = run.session(device="cpu")
    batcher = DecodeBatcher(lambda z: (time.sleep(0.02), session.decode(z))[1])  # slow enough for others to queue
    z = np.random.default_rng(0).normal(size=(16, run.model_config.z_dim)).astype(np.float32)
    with ThreadPoolExecutor(16) as pool:
        batched = np.concatenate(list(pool.map(batcher, [z[i:i + 1] for i in range(16)])))
    alone = np.concatenate([session.decode(z[i:i + 1]) for i in range(16)])
    assert np.abs(to_uint8(batched).astype(int) - to_uint8(alone).astype(int)).max() <= 1
    assert batcher.passes < 16
