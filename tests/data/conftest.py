"""Every data test gets its own empty cache and no system data directories."""

import pytest

from zspace.data import idx


@pytest.fixture(autouse=True)
def isolated_data_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("ZSPACE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("ZSPACE_PROGRESS", "0")
    monkeypatch.delenv("ZSPACE_DATA", raising=False)
    monkeypatch.delenv("ZSPACE_MNIST_MIRROR", raising=False)
    monkeypatch.setattr(idx, "SYSTEM_DATA_DIR", tmp_path / "no-system-datasets")
    return tmp_path / "cache"
