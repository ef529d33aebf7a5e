"""Tiny runs for the question suite: small enough to train in seconds on 2 CPU cores."""

from __future__ import annotations

import os

import pytest
import torch

from tiny_runs import train_tiny

os.environ.setdefault("ZSPACE_PROGRESS", "0")


@pytest.fixture(scope="session", autouse=True)
def _one_core():
    """Run this suite on one core, and give the others back afterwards.

    The models here are tiny: on a shared 2-core machine, intra-op threads only
    add synchronisation (measured 10x slower than one thread under load);
    zspace.core.device.use_all_cores() then picks one thread.
    """
    if not hasattr(os, "sched_setaffinity"):
        yield
        return
    before = os.sched_getaffinity(0)
    threads = torch.get_num_threads()
    os.sched_setaffinity(0, {min(before)})
    torch.set_num_threads(1)
    yield
    os.sched_setaffinity(0, before)
    torch.set_num_threads(threads)


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory):
    """Feature nets are cached in a per-session directory, never in the user's cache."""
    before = os.environ.get("ZSPACE_CACHE")
    os.environ["ZSPACE_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if before is None:
        os.environ.pop("ZSPACE_CACHE", None)
    else:
        os.environ["ZSPACE_CACHE"] = before


@pytest.fixture(scope="session")
def ae_run(tmp_path_factory):
    """A trained tiny AE run directory (2 epochs on 512 shapes)."""
    return train_tiny(tmp_path_factory, "ae", n_train=512)


@pytest.fixture(scope="session")
def vae_run(tmp_path_factory):
    """A trained tiny VAE run directory (2 epochs on 512 shapes)."""
    return train_tiny(tmp_path_factory, "vae", n_train=512)
