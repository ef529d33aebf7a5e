"""Fixtures shared by every test directory."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("ZSPACE_PROGRESS", "0")

from board_runs import board_run, plain_run, tensorboard_blocked_fixture  # noqa: F401  (fixtures)
from tiny_runs import tiny_configs, train_tiny


@pytest.fixture(name="tiny_configs")
def tiny_configs_fixture():
    """The :func:`tiny_runs.tiny_configs` factory, for tests that train their own runs."""
    return tiny_configs


@pytest.fixture(name="train_tiny")
def train_tiny_fixture():
    """The :func:`tiny_runs.train_tiny` helper."""
    return train_tiny


def on_ci() -> bool:
    """True where the environment says CI=true (as `.ci/run` sets it)."""
    return os.environ.get("CI") == "true"


@pytest.fixture(name="skip_or_fail_on_ci", scope="session")
def skip_or_fail_on_ci_fixture():
    """``skip_or_fail_on_ci(reason)``: the test cannot run here. On CI (CI=true) that is a failure with
    ``reason``, since CI must prove what the test proves; elsewhere the test skips and says ``reason``."""

    def cannot_run(reason: str):
        if on_ci():
            pytest.fail(f"CI=true but this test cannot run: {reason}", pytrace=False)
        pytest.skip(reason)

    return cannot_run


@pytest.fixture(scope="session")
def vae_run(tmp_path_factory):
    """A trained tiny VAE run directory (2 epochs; tests/science has its own, on 512 images)."""
    return train_tiny(tmp_path_factory, "vae")


@pytest.fixture(scope="session")
def ae_run(tmp_path_factory):
    """A trained tiny AE run directory (2 epochs)."""
    return train_tiny(tmp_path_factory, "ae")
