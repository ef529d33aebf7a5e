"""A tiny trained run for the core tests that read a run's files."""

from __future__ import annotations

import pytest

from tiny_runs import train_tiny


@pytest.fixture(scope="session")
def vae_run(tmp_path_factory):
    """A trained tiny VAE run directory (2 epochs)."""
    return train_tiny(tmp_path_factory, "vae")
