"""Every .npz member and every listed .npy is checked against its CRC-32 before it is used (core.npyfiles, core.checksums)."""

from __future__ import annotations

import os
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

from file_faults import flip_byte
from zspace.core import checksums, npyfiles
from zspace.core.checksums import ChecksumMismatch


def _z(n=400, d=6, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)


def _data_offset(path: Path, array: np.ndarray) -> int:
    """Offset of the middle byte of ``array``'s data inside the file ``path`` (stored bytes, found by search)."""
    at = Path(path).read_bytes().find(array.tobytes())
    assert at > 0
    return at + array.nbytes // 2


def test_a_flipped_byte_in_a_mapped_member_is_refused_and_the_intact_member_maps(tmp_path):
    z, mu = _z(), _z(seed=1)
    path = tmp_path / "z.npz"
    np.savez(path, z=z, mu=mu)
    mapped = npyfiles.open_npz_member(path, "mu")
    assert isinstance(mapped, np.memmap) and np.array_equal(mapped, mu)
    del mapped
    offset = flip_byte(path, _data_offset(path, mu))
    with pytest.raises(ChecksumMismatch) as caught:
        npyfiles.open_npz_member(path, "mu")
    assert str(caught.value).startswith("array 'mu': damaged") and "\n" not in str(caught.value)
    assert np.array_equal(npyfiles.open_npz_member(path, "z"), z)  # the other member is intact
    flip_byte(path, offset)  # back as written
    assert np.array_equal(npyfiles.open_npz_member(path, "mu"), mu)


@pytest.mark.parametrize("reader", ["open_npz_member", "load_npz"])
def test_a_flipped_byte_in_a_compressed_member_is_refused(tmp_path, reader):
    z = _z()
    path = tmp_path / "z.npz"
    np.savez_compressed(path, z=z)
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("z.npy")
    flip_byte(path, info.header_offset + info.compress_size // 2)  # inside the deflate stream, past the header
    read = (lambda: npyfiles.open_npz_member(path, "z")) if reader == "open_npz_member" else \
        (lambda: npyfiles.load_npz(path))
    with pytest.raises(ChecksumMismatch, match="^array 'z': damaged"):
        read()


def test_a_flipped_byte_in_a_stored_member_read_whole_is_refused(tmp_path):
    z = _z()
    path = tmp_path / "z.npz"
    np.savez(path, z=z, index=np.arange(len(z)))
    flip_byte(path, _data_offset(path, z))
    with pytest.raises(ChecksumMismatch, match="^array 'z': damaged"):
        npyfiles.load_npz(path)


def test_an_npy_given_its_crc_is_checked_and_one_without_cannot_be(tmp_path):
    z = _z()
    path = tmp_path / "z.npy"
    np.save(path, z)
    crc = zlib.crc32(path.read_bytes())  # independent of zspace's windowed sum
    assert checksums.file_crc32(path) == crc
    assert np.array_equal(npyfiles.open_npy(path, crc), z)
    flip_byte(path, _data_offset(path, z))
    with pytest.raises(ChecksumMismatch, match=f"^damaged: the CRC-32 of its {path.stat().st_size} bytes is "):
        npyfiles.open_npy(path, crc)
    # numpy's format records no checksum: without one the damaged array maps, and differs from what was saved
    assert not np.array_equal(npyfiles.open_npy(path), z)


def test_the_windowed_crc_of_any_range_equals_zlib_over_the_bytes(tmp_path, monkeypatch):
    data = np.random.default_rng(2).integers(0, 256, 300_000, dtype=np.uint8).tobytes()
    path = tmp_path / "bytes.bin"
    path.write_bytes(data)
    monkeypatch.setattr(checksums, "_CRC_WINDOW", 4 * 4096)  # many windows, each a multiple of the page size
    monkeypatch.setattr(checksums, "_CRC_SLICE", 1000)
    with open(path, "rb") as fh:
        for start, length in [(0, None), (12345, 200_000), (4096, 1), (299_999, 1), (7, 0), (100, 16384)]:
            want = data[start:] if length is None else data[start:start + length]
            assert checksums.crc32_range(fh.fileno(), start, length) == zlib.crc32(want), (start, length)


def _counting_reads(monkeypatch) -> list[int]:
    reads: list[int] = []
    original = checksums.crc32_range

    def counted(fd, start=0, length=None):
        reads.append(start)
        return original(fd, start, length)

    monkeypatch.setattr(checksums, "crc32_range", counted)
    return reads


def test_an_unchanged_file_is_read_once_per_process_and_a_replaced_one_again(tmp_path, monkeypatch):
    z = _z()
    path = tmp_path / "z.npz"
    np.savez(path, z=z)
    monkeypatch.setattr(checksums, "SETTLED_NS", 0)  # as if the file were older than the timestamps' granularity
    monkeypatch.setattr(checksums, "_VERIFIED", set())
    reads = _counting_reads(monkeypatch)
    for _ in range(3):
        assert np.array_equal(npyfiles.open_npz_member(path, "z"), z)
    assert len(reads) == 1
    damaged = tmp_path / "damaged.npz"
    damaged.write_bytes(path.read_bytes())
    flip_byte(damaged, _data_offset(damaged, z))
    os.replace(damaged, path)  # same path, size and (possibly) mtime; another inode and ctime
    with pytest.raises(ChecksumMismatch):
        npyfiles.open_npz_member(path, "z")
    assert len(reads) == 2


def test_a_file_changed_within_the_timestamp_granularity_is_checked_every_time(tmp_path, monkeypatch):
    z = _z()
    path = tmp_path / "z.npz"
    np.savez(path, z=z)  # just now: younger than SETTLED_NS
    reads = _counting_reads(monkeypatch)
    npyfiles.open_npz_member(path, "z")
    flip_byte(path, _data_offset(path, z))  # in place: may keep size and mtime within a coarse clock tick
    with pytest.raises(ChecksumMismatch):
        npyfiles.open_npz_member(path, "z")
    assert len(reads) == 2
