import dataclasses
import gzip
import hashlib
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest

from zspace.core.errors import ZspaceError
from zspace.data import idx, load_images

FILES = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


def write_mnist_like(directory: Path, n_train=12, n_test=5, value=7) -> dict[str, np.ndarray]:
    """Four small IDX files; image i of a split is filled with (value + i) % 256."""
    arrays = {}
    for prefix, count in (("train", n_train), ("t10k", n_test)):
        images = ((value + np.arange(count, dtype=np.int64)) % 256).astype(np.uint8)[:, None, None] \
            * np.ones((1, 28, 28), np.uint8)
        labels = (np.arange(count) % 10).astype(np.uint8)
        idx.write_idx(directory / f"{prefix}-images-idx3-ubyte.gz", images)
        idx.write_idx(directory / f"{prefix}-labels-idx1-ubyte.gz", labels)
        arrays[prefix] = images
    return arrays


def test_hand_written_idx_file_is_read(tmp_path):
    path = tmp_path / "tiny-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3]) + bytes(range(12)))
    np.testing.assert_array_equal(idx.read_idx(path), np.arange(12, dtype=np.uint8).reshape(2, 2, 3))


@pytest.mark.parametrize("name", ["a-idx3-ubyte", "a-idx3-ubyte.gz", "f.gz"])
def test_round_trip_raw_gzip_and_wide_types(tmp_path, name):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    np.testing.assert_array_equal(idx.read_idx(idx.write_idx(tmp_path / name, array)), array)
    floats = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(idx.read_idx(idx.write_idx(tmp_path / ("f-" + name), floats)), floats)


@pytest.mark.parametrize("content,words", [
    (b"PK\x03\x04 not an idx file at all", "wrong magic"),
    (bytes([0, 0, 8, 3, 0, 0, 0, 10, 0, 0, 0, 28, 0, 0, 0, 28]) + bytes(100), "truncated"),
    (bytes([0, 0, 8, 3, 0, 0]), "truncated inside its header"),
    (gzip.compress(bytes([0, 0, 8, 1, 0, 0, 0, 50]) + bytes(50))[:20], "truncated or corrupt gzip"),
    (b"", "wrong magic"),
])
def test_bad_idx_files_name_the_file_and_the_fix(tmp_path, content, words):
    path = tmp_path / "broken-idx3-ubyte"
    path.write_bytes(content)
    with pytest.raises(ZspaceError) as info:
        idx.read_idx(path)
    message = str(info.value)
    assert str(path) in message and words in message and "\n" not in message


def test_lookup_prefers_zspace_data_over_the_cache(tmp_path, monkeypatch, isolated_data_dirs):
    write_mnist_like(tmp_path / "data" / "mnist", value=1)
    write_mnist_like(isolated_data_dirs / "mnist", value=100)
    monkeypatch.setenv("ZSPACE_DATA", str(tmp_path / "data"))
    s = load_images("mnist")
    assert s.images.shape == (12, 28, 28, 1) and s.images[0, 0, 0, 0] == 1
    assert s.class_names == [str(d) for d in range(10)]
    np.testing.assert_array_equal(s.labels, np.arange(12) % 10)
    both = load_images("mnist", "all")
    assert len(both) == 17 and both.images[12, 0, 0, 0] == 1   # test images follow train
    monkeypatch.delenv("ZSPACE_DATA")
    assert load_images("mnist", "test").images[0, 0, 0, 0] == 100   # then the user cache


def test_image_size_other_than_28_is_refused(tmp_path, monkeypatch):
    write_mnist_like(tmp_path)
    monkeypatch.setenv("ZSPACE_DATA", str(tmp_path))
    with pytest.raises(ZspaceError, match="28x28"):
        load_images("mnist", image_size=32)


@pytest.fixture
def mirror(tmp_path):
    """A local HTTP server on 127.0.0.1 serving tmp_path/served; records request paths."""
    served = tmp_path / "served"
    served.mkdir()
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(served), **kwargs)

        def do_GET(self):
            requests.append(self.path)
            super().do_GET()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}/", requests
    server.shutdown()
    server.server_close()


def use_checksums(monkeypatch, served: Path, corrupt: str | None = None):
    sums = {name: "sha256:" + hashlib.sha256((served / name).read_bytes()).hexdigest() for name in FILES}
    if corrupt:
        sums[corrupt] = "md5:" + "0" * 32
    monkeypatch.setitem(idx.IDX_DATASETS, "mnist", dataclasses.replace(idx.IDX_DATASETS["mnist"], checksums=sums))


def test_download_from_a_local_mirror_verifies_and_is_reused(mirror, monkeypatch, isolated_data_dirs):
    served, url, requests = mirror
    expected = write_mnist_like(served, value=42)
    use_checksums(monkeypatch, served)
    monkeypatch.setenv("ZSPACE_MNIST_MIRROR", "http://127.0.0.1:9/nothing-here," + url)   # first mirror is dead
    s = load_images("mnist", "test")
    np.testing.assert_array_equal(s.images[..., 0], expected["t10k"])
    assert sorted(p.name for p in (isolated_data_dirs / "mnist").iterdir()) == sorted(FILES)
    assert len(requests) == 4
    load_images("mnist", "train")
    assert len(requests) == 4   # found in the cache, not fetched again


def test_checksum_mismatch_fails_and_leaves_nothing_behind(mirror, monkeypatch, isolated_data_dirs):
    served, url, _ = mirror
    write_mnist_like(served)
    use_checksums(monkeypatch, served, corrupt="train-images-idx3-ubyte.gz")
    monkeypatch.setenv("ZSPACE_MNIST_MIRROR", url)
    with pytest.raises(ZspaceError) as info:
        load_images("mnist")
    message = str(info.value)
    assert "train-images-idx3-ubyte.gz" in message and "md5 check" in message and "ZSPACE_MNIST_MIRROR" in message
    left = list((isolated_data_dirs / "mnist").iterdir()) if (isolated_data_dirs / "mnist").exists() else []
    assert "train-images-idx3-ubyte.gz" not in [p.name for p in left]
    assert not [p for p in left if p.name.startswith(".")]   # no temp files


def test_no_files_and_no_network_gives_one_line_with_the_fix(monkeypatch):
    monkeypatch.setenv("ZSPACE_MNIST_MIRROR", "http://127.0.0.1:9/")
    with pytest.raises(ZspaceError) as info:
        load_images("fashion-mnist")
    message = str(info.value)
    assert "fashion-mnist" in message and "apt-get install dataset-fashion-mnist" in message
    assert "\n" not in message


@pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz").exists(),
                    reason="Debian package dataset-fashion-mnist not installed")
def test_debian_fashion_mnist_package(monkeypatch):
    monkeypatch.setattr(idx, "SYSTEM_DATA_DIR", Path("/usr/share/datasets"))
    s = load_images("fashion-mnist", "test")
    assert s.images.shape == (10000, 28, 28, 1) and s.images.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(s.labels), [1000] * 10)
    assert s.class_names[9] == "Ankle boot"
