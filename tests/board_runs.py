"""Runs shared by the TensorBoard tests (tests/pipeline/test_training_board.py, tests/exports/test_projector.py):
a tiny VAE trained with --tensorboard, and one trained without it. tests/conftest.py registers the fixtures.

Nothing here imports TensorBoard: the test modules skip themselves first when it is not installed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
from typing import Iterator

import pytest

from tiny_runs import tiny_configs
from zspace.pipeline.train import train


@contextlib.contextmanager
def tensorboard_blocked() -> Iterator[None]:
    """Inside the block every import of tensorboard (or torch.utils.tensorboard) fails, as if it were not installed."""
    with pytest.MonkeyPatch.context() as mp:
        for name in [n for n in sys.modules if n.split(".")[0] == "tensorboard"
                     or n.startswith("torch.utils.tensorboard")]:
            mp.setitem(sys.modules, name, None)
        mp.setitem(sys.modules, "tensorboard", None)
        mp.setitem(sys.modules, "torch.utils.tensorboard", None)
        yield


@pytest.fixture(name="tensorboard_blocked")
def tensorboard_blocked_fixture():
    """The :func:`tensorboard_blocked` context manager, for the tests."""
    return tensorboard_blocked


def board_configs(**train_overrides):
    """tiny_configs of a VAE with batch norm: a forward pass in training mode would change its weights' file."""
    train_config, model_config = tiny_configs("vae", **train_overrides)
    return train_config, dataclasses.replace(model_config, batch_norm=True)


@pytest.fixture(scope="session")
def board_run(tmp_path_factory):
    """A tiny VAE (2 epochs, 28x28 shapes, z_dim 4, batch norm) trained with tensorboard=True."""
    out = tmp_path_factory.mktemp("board") / "vae"
    train(*board_configs(tensorboard=True), out)
    return out


@pytest.fixture(scope="session")
def plain_run(tmp_path_factory):
    """The same VAE trained without the flag, while importing TensorBoard fails."""
    out = tmp_path_factory.mktemp("plain") / "vae"
    with tensorboard_blocked():
        train(*board_configs(), out)
    return out
