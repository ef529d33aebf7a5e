"""Two tiny runs served by a real explorer (uvicorn on 127.0.0.1, a free port), shared by the explore tests."""

from __future__ import annotations

import pytest

pytest.importorskip("starlette", reason="the explore extra is not installed (pip install 'zspace[explore]')")

from zspace.explore.server import Server, open_explorer  # noqa: E402

from explore_client import N_POINTS  # noqa: E402


@pytest.fixture(scope="session")
def served(ae_run, vae_run):
    """(server, {name: run dir}): the AE and the VAE run served side by side."""
    explorer = open_explorer([ae_run, vae_run], n=N_POINTS, device="cpu")
    server = Server(explorer).start()
    yield server, dict(zip(explorer.runs, [ae_run, vae_run]))
    server.stop()
