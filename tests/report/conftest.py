"""Two tiny prepared runs (AE and VAE) shared by the report tests, and headless Chromium to load reports in."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import tempfile

import pytest

from tiny_runs import train_tiny
from zspace.analysis import BatteryConfig, TsneVariant
from zspace.report import ReportConfig, prepare_run

os.environ.setdefault("ZSPACE_PROGRESS", "0")


def fast_report_config() -> ReportConfig:
    """Small t-SNE (one short variant on 300 points) so the suite stays fast; everything else as in a real report."""
    battery = BatteryConfig(figure_dpi=60)
    battery = dataclasses.replace(
        battery, tsne=dataclasses.replace(battery.tsne, sample_size=300, variants=(TsneVariant(12.0, 30.0, 250),)),
        pca=dataclasses.replace(battery.pca, tsne_sample_size=300))
    return ReportConfig(samplers=("normal", "uniform:2"), n_generated=12, n_reconstructed=8, device="cpu",
                        battery=battery)


@pytest.fixture(name="fast_report_config", scope="session")
def fast_report_config_fixture():
    return fast_report_config()


@pytest.fixture(scope="session")
def prepared_runs(tmp_path_factory):
    """[ae_dir, vae_dir], trained one epoch on shapes and prepared for the report."""
    dirs = []
    for kind, fact in (("ae", 0.0), ("vae", 1.0)):
        out = train_tiny(tmp_path_factory, kind, data="shapes,test=600", epochs=1, fact=fact)
        prepare_run(out, fast_report_config())
        dirs.append(out)
    return dirs


def _browser() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


@pytest.fixture(scope="session")
def chromium(skip_or_fail_on_ci):
    """``chromium(*args, window="1400,2400")``: run headless Chromium (network off) with ``args``
    (e.g. ``--dump-dom URL``); where no Chromium is installed the test skips, or fails on CI."""
    browser = _browser()
    if browser is None:
        skip_or_fail_on_ci("no chromium on this machine (`make test` installs it on CI; "
                           "ZSPACE_INSTALL_BROWSER=1 bash scripts/ensure-browser.sh as root installs it elsewhere)")

    def run(*args: str, window: str = "1400,2400") -> subprocess.CompletedProcess:
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--enable-unsafe-swiftshader", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--host-resolver-rules=MAP * ~NOTFOUND",  # the network is off for the page
                 f"--user-data-dir={tempfile.mkdtemp()}", "--virtual-time-budget=30000", f"--window-size={window}"]
        return subprocess.run([browser, *flags, *args], capture_output=True, text=True, timeout=240,
                              check=False)

    return run
