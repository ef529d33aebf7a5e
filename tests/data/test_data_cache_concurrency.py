"""The image cache shared by many processes (issue 24): one builder per cache, the others wait; no file replaced
under a reader; a warm start trusts the recorded stat instead of hashing; decode workers follow the process's
share of the cores."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from filelock import FileLock
from PIL import Image

from zspace.core import cores
from zspace.data import cache, imagefiles

SIZE = 16


@pytest.fixture
def source(tmp_path) -> Path:
    """40 random 16x16 RGB PNGs: decoding at size 16 keeps them as they are."""
    root = tmp_path / "images"
    root.mkdir()
    rng = np.random.default_rng(7)
    for i in range(40):
        Image.fromarray(rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)).save(root / f"{i:02d}.png")
    return root


def expected_images(root: Path) -> np.ndarray:
    """The images decoded by PIL alone, in file order."""
    return np.stack([np.asarray(Image.open(p).convert("RGB")) for p in sorted(root.glob("*.png"))])


def relpaths(root: Path) -> list[str]:
    return imagefiles.list_image_files(root, recursive=False)[0]


def load(root: Path, cache_dir: Path) -> cache.DecodedImages:
    return cache.load_or_build("folder", root, relpaths(root), image_size=SIZE, channels=3, cache_dir=cache_dir)


@pytest.fixture
def fresh_process(monkeypatch):
    """The module state of a process that has verified nothing yet, and no forced verification."""
    monkeypatch.setattr(cache, "_verified", set())
    monkeypatch.setattr(cache, "_corrupt", set())
    monkeypatch.delenv(cache.VERIFY_ENV, raising=False)


@pytest.fixture
def builds(monkeypatch) -> list[Path]:
    """The directories :func:`cache._build_cache` was called for, in this process."""
    calls: list[Path] = []
    real = cache._build_cache

    def counting(directory, *args, **kwargs):
        calls.append(directory)
        return real(directory, *args, **kwargs)

    monkeypatch.setattr(cache, "_build_cache", counting)
    return calls


@pytest.fixture
def hashes(monkeypatch) -> list[str]:
    """The files whose SHA-256 the cache computed (through verify_files or file_sha256), in this process."""
    calls: list[str] = []
    real_verify, real_sha = cache.verify_files, cache.file_sha256

    def verify(directory, expected, fix):
        calls.extend(str(Path(directory) / name) for name in expected)
        return real_verify(directory, expected, fix)

    def sha(path):
        calls.append(str(path))
        return real_sha(path)

    monkeypatch.setattr(cache, "verify_files", verify)
    monkeypatch.setattr(cache, "file_sha256", sha)
    return calls


@pytest.fixture
def messages():
    """Everything the zspace loggers say during the test (whatever the rank filter of the console handler)."""
    records: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: records.append(record.getMessage())
    logger = logging.getLogger("zspace")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def change_bytes_keeping_size(path: Path) -> None:
    """Invert one byte of the pixel data in place (same inode, same size)."""
    with open(path, "r+b") as fh:
        fh.seek(-7, os.SEEK_END)
        byte = fh.read(1)
        fh.seek(-7, os.SEEK_END)
        fh.write(bytes([byte[0] ^ 0xFF]))


# -- one builder, the others wait ------------------------------------------------------------------------------------

#: a process of the job: wait for the start file, load the cache (its build slowed down so that the others arrive
#: while it runs), save what it got and print how many builds it did
_RANK = """
import json, sys, time
from pathlib import Path
import numpy as np
from zspace.data import cache, imagefiles
root, cache_dir, start, out = map(Path, sys.argv[1:5])
built = []
real = cache._build_cache
def slow_build(*args, **kwargs):
    built.append(1)
    time.sleep(0.5)
    return real(*args, **kwargs)
cache._build_cache = slow_build
names = imagefiles.list_image_files(root, recursive=False)[0]
while not start.exists():
    time.sleep(0.002)
decoded = cache.load_or_build("folder", root, names, image_size=16, channels=3, cache_dir=cache_dir)
np.save(out, np.asarray(decoded.images))
print(json.dumps({"built": len(built)}))
"""


@pytest.mark.timeout(120)
def test_four_processes_on_a_cold_cache_build_it_once_and_all_read_it_whole(source, tmp_path):
    start = tmp_path / "start"
    env = {**os.environ, "ZSPACE_PROGRESS": "0", "LOCAL_WORLD_SIZE": "4"}
    env.pop(cache.VERIFY_ENV, None)
    ranks = [subprocess.Popen([sys.executable, "-c", _RANK, str(source), str(tmp_path / "cache"), str(start),
                               str(tmp_path / f"rank{r}.npy")], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for r in range(4)]
    time.sleep(0.3)  # let them import, then release all at one instant
    start.touch()
    results = [rank.communicate(timeout=100) for rank in ranks]
    assert [rank.returncode for rank in ranks] == [0] * 4, [err for _, err in results]
    assert sum(json.loads(out)["built"] for out, _ in results) == 1
    expected = expected_images(source)
    for r in range(4):
        np.testing.assert_array_equal(np.load(tmp_path / f"rank{r}.npy"), expected)
    assert not [p for p in (tmp_path / "cache").rglob("*") if ".tmp" in p.name]  # no temporary left behind


@pytest.mark.timeout(60)
def test_a_process_waits_for_the_lock_holder_then_uses_its_build(source, tmp_path, fresh_process, builds,
                                                                 messages):
    directory = cache.cache_directory(tmp_path / "cache", "folder", source, SIZE, 3)
    directory.mkdir(parents=True)
    holder = FileLock(cache.lock_path(directory))
    holder.acquire()
    result: list[cache.DecodedImages] = []
    waiter = threading.Thread(target=lambda: result.append(load(source, tmp_path / "cache")))
    try:
        waiter.start()
        deadline = time.monotonic() + 30
        while not any("waiting for another process building the image cache" in m for m in messages):
            assert time.monotonic() < deadline, messages
            time.sleep(0.01)
        time.sleep(0.1)
        assert waiter.is_alive() and not builds and not (directory / "meta.json").exists()
    finally:
        holder.release()
        waiter.join(30)
    assert [m for m in messages if m.startswith("waiting")] == [
        f"waiting for another process building the image cache {directory}"]
    assert builds == [directory]
    np.testing.assert_array_equal(result[0].images, expected_images(source))


def test_a_rebuild_leaves_a_reader_of_the_old_file_its_whole_mapping(source, tmp_path, fresh_process, builds):
    first = load(source, tmp_path / "cache")
    old = first.images
    old_copy = np.array(old)
    old_inode = os.stat(first.directory / "images.npy").st_ino
    Image.new("RGB", (SIZE, SIZE), (1, 2, 3)).save(source / "00.png")
    os.utime(source / "00.png", ns=(10**9, 10**9))  # a new fingerprint
    second = load(source, tmp_path / "cache")
    assert len(builds) == 2 and os.stat(first.directory / "images.npy").st_ino != old_inode
    assert np.array_equal(second.images[0], np.broadcast_to(np.array([1, 2, 3], np.uint8), (SIZE, SIZE, 3)))
    np.testing.assert_array_equal(old, old_copy)  # the old memory map still reads the old inode, whole


# -- the cheap check -------------------------------------------------------------------------------------------------

def test_a_warm_start_hashes_nothing(source, tmp_path, fresh_process, hashes, builds, monkeypatch):
    first = np.array(load(source, tmp_path / "cache").images)
    assert len(builds) == 1 and len(hashes) == 1  # the builder hashes what it wrote, once
    hashes.clear()
    cache._verified.clear()
    again = load(source, tmp_path / "cache")
    assert hashes == [] and len(builds) == 1
    np.testing.assert_array_equal(again.images, first)
    monkeypatch.setenv(cache.VERIFY_ENV, "1")  # the opt-in full check does hash (the counter sees it)
    load(source, tmp_path / "cache")
    assert hashes == [str(again.directory / "images.npy")]


def test_a_cache_without_a_recorded_stat_is_hashed_once_then_trusted(source, tmp_path, fresh_process, hashes,
                                                                    builds):
    directory = load(source, tmp_path / "cache").directory
    meta = json.loads((directory / "meta.json").read_text())
    del meta["stat"]  # as written before the stat was recorded
    (directory / "meta.json").write_text(json.dumps(meta))
    hashes.clear()
    load(source, tmp_path / "cache")
    assert hashes == [str(directory / "images.npy")] and len(builds) == 1
    recorded = json.loads((directory / "meta.json").read_text())["stat"]["images.npy"]
    st = os.stat(directory / "images.npy")
    assert recorded == {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "inode": st.st_ino}
    hashes.clear()
    cache._verified.clear()
    load(source, tmp_path / "cache")
    assert hashes == [] and len(builds) == 1


@pytest.mark.parametrize("change", ["byte and mtime", "size"])
def test_changed_bytes_with_a_changed_stat_are_found_and_rebuilt(source, tmp_path, fresh_process, builds, messages,
                                                                 change):
    directory = load(source, tmp_path / "cache").directory
    images_file = directory / "images.npy"
    st = os.stat(images_file)
    if change == "size":
        with open(images_file, "ab") as fh:
            fh.write(b"\0")
    else:
        change_bytes_keeping_size(images_file)
        os.utime(images_file, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    again = load(source, tmp_path / "cache")
    assert len(builds) == 2
    corrupted = [m for m in messages if "is corrupted" in m]
    assert len(corrupted) == 1 and corrupted[0].startswith(f"{images_file} is corrupted"), corrupted
    np.testing.assert_array_equal(again.images, expected_images(source))


def test_changed_bytes_with_the_stat_restored_pass_unless_verification_is_forced(source, tmp_path, fresh_process,
                                                                                builds, messages, monkeypatch):
    """The documented limit of the cheap check: a change that keeps size, mtime_ns and inode is not seen."""
    directory = load(source, tmp_path / "cache").directory
    images_file = directory / "images.npy"
    st = os.stat(images_file)
    change_bytes_keeping_size(images_file)
    os.utime(images_file, ns=(st.st_atime_ns, st.st_mtime_ns))
    expected = expected_images(source)
    trusted = load(source, tmp_path / "cache")
    assert len(builds) == 1 and not np.array_equal(trusted.images, expected)  # not detected
    monkeypatch.setenv(cache.VERIFY_ENV, "1")
    checked = load(source, tmp_path / "cache")
    assert len(builds) == 2 and sum("is corrupted" in m for m in messages) == 1
    np.testing.assert_array_equal(checked.images, expected)


def test_a_stat_recorded_in_the_same_tick_as_the_write_proves_nothing(source, tmp_path, fresh_process, builds,
                                                                      messages):
    """git's racy-clean rule: a write in the clock tick of the record would keep the recorded mtime."""
    directory = load(source, tmp_path / "cache").directory
    images_file, meta_file = directory / "images.npy", directory / "meta.json"
    st = os.stat(images_file)
    assert os.stat(meta_file).st_mtime_ns > st.st_mtime_ns  # the builder made its record provable
    change_bytes_keeping_size(images_file)
    os.utime(images_file, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.utime(meta_file, ns=(st.st_atime_ns, st.st_mtime_ns))  # as if meta.json were written in the same tick
    again = load(source, tmp_path / "cache")
    assert len(builds) == 2 and sum("is corrupted" in m for m in messages) == 1
    np.testing.assert_array_equal(again.images, expected_images(source))


def test_a_record_written_in_the_tick_of_its_data_is_written_again(tmp_path, monkeypatch):
    data_mtime = 1_700_000_000_123_456_789
    writes: list[Path] = []
    real = cache.write_json

    def same_tick_first(path, obj):  # the first write lands in the data file's clock tick
        real(path, obj)
        writes.append(path)
        if len(writes) == 1:
            os.utime(path, ns=(data_mtime, data_mtime))

    monkeypatch.setattr(cache, "write_json", same_tick_first)
    cache._write_record(tmp_path / "meta.json", {"a": 1}, data_mtime)
    assert len(writes) == 2 and os.stat(tmp_path / "meta.json").st_mtime_ns != data_mtime
    assert json.loads((tmp_path / "meta.json").read_text()) == {"a": 1}


def test_split_files_get_the_same_cheap_check(source, tmp_path, fresh_process, hashes, builds, messages,
                                              monkeypatch):
    monkeypatch.setattr(cache, "IN_MEMORY_SPLIT_BYTES", 0)  # every non-contiguous split goes to a file
    decoded = load(source, tmp_path / "cache")
    rows = np.arange(0, 40, 3)
    expected = expected_images(source)[rows]
    first = cache.select_rows(decoded, rows, "train-0")
    [split_file] = decoded.directory.glob("split-*.npy")
    assert isinstance(first, np.memmap) and np.array_equal(first, expected)
    hashes.clear()
    cache._verified.clear()
    np.testing.assert_array_equal(cache.select_rows(decoded, rows, "train-0"), expected)
    assert hashes == []  # trusted by its recorded stat
    change_bytes_keeping_size(split_file)
    os.utime(split_file, ns=(1, 1))
    again = cache.select_rows(decoded, rows, "train-0")
    assert sum(f"{split_file} is corrupted" in m for m in messages) == 1
    np.testing.assert_array_equal(again, expected)  # written anew
    assert os.stat(split_file).st_mtime_ns != 1


# -- decode workers --------------------------------------------------------------------------------------------------

def test_workers_are_the_cores_of_this_process_shared_by_the_local_processes(monkeypatch, tmp_path, source):
    monkeypatch.setattr(cores.os, "cpu_count", lambda: 16)
    monkeypatch.setattr(cores.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")
    assert cores.cores_per_process() == 4  # bound to 4 of 16 cores by its launcher: all 4 are its own
    monkeypatch.setattr(cores.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(cores.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert cores.cores_per_process() == 1
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "1")
    assert cores.cores_per_process() == 2
    assert cores.cores_per_process(share_with=2) == 1

    pools: list[int] = []

    class NoPool:
        def __init__(self, max_workers, **kwargs):
            pools.append(max_workers)
            raise RuntimeError("no pool in this test")

    monkeypatch.setattr(imagefiles.concurrent.futures, "ProcessPoolExecutor", NoPool)
    monkeypatch.setattr(imagefiles, "CHUNK_SIZE", 8)  # 5 chunks
    paths = [str(source / name) for name in relpaths(source)]
    with pytest.raises(RuntimeError, match="no pool"):
        list(imagefiles.decode_files(paths, SIZE, 3))
    assert pools == [2]
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")  # 2 cores among 4 processes: 1 worker, decoding in-process
    decoded = np.concatenate([images for _, images, _ in imagefiles.decode_files(paths, SIZE, 3)])
    assert pools == [2]
    np.testing.assert_array_equal(decoded, expected_images(source))
