"""load_zstore checks every byte of a Z file or a Z directory against its CRC-32 before returning the store."""

from __future__ import annotations

import json
import logging
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

from file_faults import flip_byte
from zspace.core.errors import ZspaceError
from zspace.pipeline.zstore import ZStore, load_zstore

N, D = 300, 5


def _store() -> ZStore:
    rng = np.random.default_rng(0)
    return ZStore(z=rng.standard_normal((N, D)).astype(np.float32), index=np.arange(N),
                  mu=rng.standard_normal((N, D)).astype(np.float32),
                  logvar=rng.standard_normal((N, D)).astype(np.float32), labels=np.arange(N) % 4,
                  factors=rng.random((N, 2)).astype(np.float32), factor_names=["size", "angle"],
                  meta={"run": "somewhere", "epoch": 2})


def _same(a: ZStore, b: ZStore) -> None:
    for name in ("z", "mu", "logvar", "labels", "factors", "index"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert a.factor_names == b.factor_names and a.meta == b.meta


def _data_offset(path: Path, array: np.ndarray) -> int:
    at = Path(path).read_bytes().find(np.ascontiguousarray(array).tobytes())
    assert at > 0
    return at + array.nbytes // 2


def _refused(path: Path, *fragments: str) -> str:
    with pytest.raises(ZspaceError) as caught:
        load_zstore(path)
    message = str(caught.value)
    assert "\n" not in message and "damaged" in message, message
    for fragment in (str(path), "zspace encode", f"--out {path} --force", *fragments):
        assert fragment in message, (fragment, message)
    return message


@pytest.mark.parametrize("name", ["z", "mu", "labels"])
def test_a_flipped_byte_in_a_z_file_is_refused_naming_the_array(tmp_path, name):
    store = _store()
    path = store.save(tmp_path / "z.npz")
    before = load_zstore(path)
    offset = flip_byte(path, _data_offset(path, getattr(store, name)))
    assert f"Z file {path}: array {name!r}" in _refused(path)
    flip_byte(path, offset)
    _same(load_zstore(path), before)


def test_a_flipped_byte_in_a_compressed_z_file_is_refused(tmp_path):
    store = _store()
    path = tmp_path / "z.npz"
    np.savez_compressed(path, z=store.z, index=store.index, meta=np.array(json.dumps(store.meta)))
    assert np.array_equal(load_zstore(path).z, store.z)
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("z.npy")
    flip_byte(path, info.header_offset + info.compress_size // 2)
    _refused(path, "array 'z'")


def test_a_z_directory_lists_the_crc32_of_every_data_file(tmp_path):
    path = _store().save(tmp_path / "zdir")
    listing = json.loads((path / "meta.json").read_text())["crc32"]
    files = sorted(f.name for f in path.iterdir() if f.suffix == ".npy")
    assert sorted(listing) == files == ["factors.npy", "index.npy", "labels.npy", "logvar.npy", "mu.npy", "z.npy"]
    for name in files:
        assert listing[name] == f"{zlib.crc32((path / name).read_bytes()):08x}", name


@pytest.mark.parametrize("name", ["z", "logvar", "index"])
def test_a_flipped_byte_in_a_z_directory_is_refused_naming_the_file(tmp_path, name):
    store = _store()
    path = store.save(tmp_path / "zdir")
    before = load_zstore(path)
    _same(before, store)
    file = path / f"{name}.npy"
    offset = flip_byte(file, _data_offset(file, getattr(store, name)))
    assert f"Z directory {path}: {name}.npy is damaged" in _refused(path)
    flip_byte(file, offset)
    _same(load_zstore(path), before)


def test_an_older_z_directory_without_checksums_warns_and_reads(tmp_path, caplog):
    store = _store()
    path = store.save(tmp_path / "zdir")
    info = json.loads((path / "meta.json").read_text())
    del info["crc32"]  # as zspace wrote it before listing them
    (path / "meta.json").write_text(json.dumps(info))
    with caplog.at_level(logging.WARNING, logger="zspace"):
        again = load_zstore(path)
    _same(again, store)
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and f"Z directory {path}" in warned[0] and "no CRC-32" in warned[0] \
        and "--force" in warned[0], warned


def _drop_mu(path: Path) -> None:
    (path / "mu.npy").unlink()


def _add_unlisted(path: Path) -> None:  # mu.npy present, but not written with the listing
    info = json.loads((path / "meta.json").read_text())
    del info["crc32"]["mu.npy"]
    (path / "meta.json").write_text(json.dumps(info))


def _bad_listing(path: Path) -> None:
    info = json.loads((path / "meta.json").read_text())
    info["crc32"]["z.npy"] = "not hex!"
    (path / "meta.json").write_text(json.dumps(info))


@pytest.mark.parametrize("damage, fragment", [(_drop_mu, "mu.npy is listed in meta.json but missing"),
                                              (_add_unlisted, "mu.npy is not among the files meta.json lists"),
                                              (_bad_listing, "meta.json field 'crc32'")])
def test_a_listing_that_does_not_match_the_files_is_refused(tmp_path, damage, fragment):
    path = _store().save(tmp_path / "zdir")
    damage(path)
    with pytest.raises(ZspaceError) as caught:
        load_zstore(path)
    message = str(caught.value)
    assert fragment in message and f"Z directory {path}" in message and "--force" in message, message
    assert "\n" not in message
