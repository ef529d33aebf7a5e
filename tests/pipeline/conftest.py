"""Shared tiny runs of the core suite (see tests/conftest.py)."""

from __future__ import annotations

import pytest

from tiny_runs import train_tiny


@pytest.fixture(scope="session")
def vae_run(tmp_path_factory):
    """A trained tiny VAE run directory (2 epochs)."""
    return train_tiny(tmp_path_factory, "vae")


@pytest.fixture(scope="session")
def ae_run(tmp_path_factory):
    """A trained tiny AE run directory (2 epochs)."""
    return train_tiny(tmp_path_factory, "ae")
