"""Fuzzing the readers at the door: shared hypothesis settings, isolation and the case count.

The fuzz tests here (``test_fuzz_*.py``, ``test_untrusted_pickles.py``) feed
generated input to one reader each (IDX files, image folders, arrays, Z
files, sampler and data specs, command-line values) and check the contract
of :mod:`zspace.core.errors`: the input ends in a valid result or in a
one-line :class:`~zspace.core.errors.ZspaceError` that names the file; never
another exception, a hang or a giant allocation (a hang is ended by
pytest-timeout: ``@pytest.mark.timeout`` where a test could hang by design,
the default of pyproject.toml elsewhere). The other tests of this directory
use none of this but the profile (no example database). ``launcher`` (this
directory) starts ``zspace`` commands as forks of one warm process, for the
kill soak.

Each generated case calls ``fuzzkit.CASES.tick()``; the total is printed at
the end of the run as ``hypothesis cases tried: N``.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.configuration import set_hypothesis_home_dir

sys.path.insert(0, os.path.dirname(__file__))

from fuzzkit import CASES  # noqa: E402

from zspace.data import idx  # noqa: E402

# Nothing in the working tree: hypothesis keeps its caches in the temporary directory, and there is
# no example database, so every run draws fresh cases.
if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
    set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "zspace-hypothesis")
settings.register_profile("zspace-reliability", database=None, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                                 HealthCheck.data_too_large, HealthCheck.filter_too_much])
settings.load_profile("zspace-reliability")


def pytest_terminal_summary(terminalreporter):
    if CASES.total:
        terminalreporter.write_line(f"hypothesis cases tried: {CASES.total}")


@pytest.fixture()
def isolated_environment(tmp_path_factory, monkeypatch):
    """A private cache, no system data sets and no downloads (an unreachable mirror).

    Used by the fuzz modules (``pytestmark``), not by the other tests of this directory.
    """
    root = tmp_path_factory.mktemp("env")
    monkeypatch.setenv("ZSPACE_CACHE", str(root / "cache"))
    monkeypatch.setenv("ZSPACE_PROGRESS", "0")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("ZSPACE_DATA", str(root / "data"))
    monkeypatch.setenv("ZSPACE_MNIST_MIRROR", "http://127.0.0.1:9/")
    monkeypatch.setattr(idx, "SYSTEM_DATA_DIR", root / "no-system-datasets")


@pytest.fixture(scope="session")
def fuzz_run(tmp_path_factory):
    """A tiny trained VAE run (28x28 shapes, z_dim 4) shared by the CLI and pickle tests; copy it to change it."""
    from tiny_runs import train_tiny

    return train_tiny(tmp_path_factory, "vae")
