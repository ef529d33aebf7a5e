"""Fixtures shared by every test directory."""

from __future__ import annotations

import pytest

from tiny_runs import tiny_configs, train_tiny


@pytest.fixture(name="tiny_configs")
def tiny_configs_fixture():
    """The :func:`tiny_runs.tiny_configs` factory, for tests that train their own runs."""
    return tiny_configs


@pytest.fixture(name="train_tiny")
def train_tiny_fixture():
    """The :func:`tiny_runs.train_tiny` helper."""
    return train_tiny
