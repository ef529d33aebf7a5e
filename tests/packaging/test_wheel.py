"""A clean install: ``python -m build`` makes a wheel that installs into a fresh venv and runs.

The fresh venv gets the wheel only (``--no-deps``); its dependencies (torch and
the rest, hundreds of MB) are made visible through one ``.pth`` line pointing at
this environment's site-packages, so the test downloads nothing. What is
checked is the wheel itself: the package, its console script, its metadata.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

import zspace

ROOT = Path(__file__).resolve().parents[2]


def run(*command, **kwargs) -> str:
    done = subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=300, **kwargs)
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from a copy of the source tree (the build writes build/ and egg-info into its tree)."""
    tree = tmp_path_factory.mktemp("tree")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, tree / name)
    shutil.copytree(ROOT / "src", tree / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    dist = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", dist, tree)
    (found,) = dist.glob("zspace-*.whl")
    return found


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory, wheel) -> Path:
    venv = tmp_path_factory.mktemp("venv")
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps", "--no-index", wheel)
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip())
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def test_the_wheel_holds_the_package_and_its_metadata(wheel):
    version = zspace.__version__
    assert wheel.name == f"zspace-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(f"zspace-{version}.dist-info/METADATA").decode()
        entry_points = archive.read(f"zspace-{version}.dist-info/entry_points.txt").decode()
    assert "zspace/cli.py" in names and "zspace/analysis/battery.py" in names
    assert not [n for n in names if n.startswith("tests/") or "__pycache__" in n]
    assert "zspace = zspace.cli:main" in entry_points
    for extra in ("tensorboard", "flows", "notebook", "explore", "fidelity", "all", "dev"):
        assert f"Provides-Extra: {extra}" in metadata
    assert "Requires-Dist: torch>=" in metadata and "License-Expression: MIT" in metadata


def test_the_installed_command_runs_from_the_fresh_venv(fresh_venv):
    python, command = fresh_venv / "bin" / "python", fresh_venv / "bin" / "zspace"
    where = run(python, "-c", "import zspace; print(zspace.__file__)").strip()
    assert Path(where).is_relative_to(fresh_venv), f"zspace imported from {where}, not from the wheel"
    assert run(command, "--version").strip() == f"zspace {zspace.__version__}"
    assert run(python, "-c", "import importlib.metadata as m; print(m.version('zspace'))").strip() == \
        zspace.__version__
    # SPEC section 2: the 96x96x3 VAE with z_dim 256 and an extra Dense 256 has a 2.88 M-parameter encoder
    counts = json.loads(run(command, "summary", "--model", "vae", "--z-dim", "256", "--extra-dense", "256", "--json"))
    assert round(counts["encoder_params"] / 1e6, 2) == 2.88 and round(counts["decoder_params"] / 1e6, 2) == 2.76
