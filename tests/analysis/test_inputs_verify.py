"""``zspace analyze`` checks every byte it uses of a Z file or a Z directory before an analysis sees it."""

from __future__ import annotations

import json
import logging
import zipfile
from pathlib import Path

import numpy as np
import pytest

from file_faults import flip_byte
from zspace.analysis import inputs, load_latents
from zspace.cli import main
from zspace.core.errors import ZspaceError
from zspace.pipeline.zstore import ZDIR_FORMAT, ZStore

N, D = 240, 4


def _store() -> ZStore:
    rng = np.random.default_rng(3)
    z = rng.standard_normal((N, D)).astype(np.float32)
    return ZStore(z=z, index=np.arange(N), mu=z * 0.5, logvar=np.full_like(z, -1.0), labels=np.arange(N) % 3,
                  meta={"run": "somewhere"})


def _data_offset(path: Path, array: np.ndarray) -> int:
    at = Path(path).read_bytes().find(np.ascontiguousarray(array).tobytes())
    assert at > 0
    return at + array.nbytes // 2


def _analyze(path: Path, out: Path, capsys) -> tuple[int, dict | str]:
    """Exit code of ``zspace analyze`` and, on success, its analyses (JSON), else its one error line."""
    code = main(["analyze", str(path), "--out", str(out), "--only", "axes,radius", "--no-figures"])
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("zspace: error:")]
    if code == 0:
        return code, json.loads((out / "analysis.json").read_text())["analyses"]
    assert len(err) == 1, err
    return code, err[0]


def _damage_then_restore(path: Path, file: Path, array: np.ndarray, tmp_path: Path, capsys, *fragments: str) -> str:
    """Analyse, flip a byte of ``file``, analyse again (refused, nothing written), restore it, analyse (as
    before); return the refusal's line."""
    code, before = _analyze(path, tmp_path / "before", capsys)
    assert code == 0
    offset = flip_byte(file, _data_offset(file, array))
    code, line = _analyze(path, tmp_path / "damaged", capsys)
    assert code == 2 and "damaged" in line and "zspace encode" in line and "--force" in line, line
    for fragment in fragments:
        assert fragment in line, (fragment, line)
    assert not (tmp_path / "damaged" / "analysis.json").exists()
    flip_byte(file, offset)
    code, after = _analyze(path, tmp_path / "after", capsys)
    assert code == 0 and after == before
    return line


@pytest.mark.parametrize("name", ["z", "mu"])
def test_analyze_refuses_a_flipped_byte_in_a_mapped_z_file_member(tmp_path, capsys, name):
    store = _store()
    path = store.save(tmp_path / "z.npz")
    line = _damage_then_restore(path, path, getattr(store, name), tmp_path, capsys)
    assert f"{path}: array {name!r}: damaged" in line, line


def test_analyze_refuses_a_flipped_byte_in_a_compressed_member(tmp_path, capsys):
    store = _store()
    path = tmp_path / "z.npz"
    np.savez_compressed(path, z=store.z, labels=store.labels)
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("z.npy")
    flip_byte(path, info.header_offset + info.compress_size // 2)
    code, line = _analyze(path, tmp_path / "out", capsys)
    assert code == 2 and f"{path}: array 'z': damaged" in line and "np.savez" in line, line


@pytest.mark.parametrize("name", ["z", "labels"])
def test_analyze_refuses_a_flipped_byte_in_a_z_directory(tmp_path, capsys, name):
    store = _store()
    path = store.save(tmp_path / "zdir")
    file = path / f"{name}.npy"
    line = _damage_then_restore(path, file, getattr(store, name), tmp_path, capsys)
    assert f"{file}: damaged" in line and f"--out {path} --force" in line, line


def test_an_older_z_directory_without_checksums_warns_and_analyses(tmp_path, caplog):
    store = _store()
    path = store.save(tmp_path / "zdir")
    info = json.loads((path / "meta.json").read_text())
    del info["crc32"]
    (path / "meta.json").write_text(json.dumps(info))
    with caplog.at_level(logging.WARNING, logger="zspace"):
        latents = load_latents(path)
    assert np.array_equal(np.asarray(latents.z), store.z) and np.array_equal(latents.labels, store.labels)
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "no CRC-32" in warned[0] and f"--out {path} --force" in warned[0], warned


def test_a_shard_directory_of_plain_arrays_reads_without_a_warning(tmp_path, caplog):
    z = _store().z
    np.save(tmp_path / "emb_0000.npy", z[:100])
    np.save(tmp_path / "emb_0001.npy", z[100:])
    (tmp_path / "meta.json").write_text(json.dumps({"model": "someone else's"}))  # not a Z directory's
    with caplog.at_level(logging.WARNING, logger="zspace"):
        latents = load_latents(tmp_path)
    assert np.array_equal(np.asarray(latents.z), z)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_z_directory_whose_meta_json_is_unreadable_is_refused(tmp_path):
    path = _store().save(tmp_path / "zdir")
    (path / "meta.json").write_text("{not json")
    with pytest.raises(ZspaceError, match="meta.json: not readable JSON") as caught:
        load_latents(path)
    assert "\n" not in str(caught.value) and "--force" in str(caught.value)


def test_the_z_directory_format_is_recognised():
    assert ZDIR_FORMAT.startswith(inputs.ZDIR_FORMAT_PREFIX)
