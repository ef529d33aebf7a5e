"""Z directories: encoding streamed to .npy memory maps, equal to the .npz, atomic, checked on read."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from zspace.cli import main
from zspace.core import faults
from zspace.core.errors import ZspaceError
from zspace.pipeline.encode import encode, encode_images
from zspace.pipeline.run import open_run
from zspace.pipeline.zstore import ZDIR_FORMAT, ZStore, load_zstore

N, BATCH = 100, 32  # 4 batches, the last one short


def _same_store(a: ZStore, b: ZStore) -> None:
    for name in ("z", "mu", "logvar", "labels", "factors", "index"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            np.testing.assert_array_equal(x, y, err_msg=name)
            assert x.dtype == y.dtype, name
    assert a.factor_names == b.factor_names and a.meta == b.meta


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize("kind", ["ae", "vae"])
def test_directory_holds_the_arrays_of_the_npz(kind, ae_run, vae_run, tmp_path):
    run = {"ae": ae_run, "vae": vae_run}[kind]
    in_npz = encode(run, split="test", n=N, batch_size=BATCH, device="cpu", seed=5, out=tmp_path / "z.npz")
    in_dir = encode(run, split="test", n=N, batch_size=BATCH, device="cpu", seed=5, out=tmp_path / "zdir")
    _same_store(load_zstore(tmp_path / "z.npz"), in_dir)
    _same_store(in_npz, in_dir)
    assert (in_dir.mu is None) == (kind == "ae") and in_dir.labels is not None and in_dir.factors is not None
    assert in_dir.z.shape == (N, 4) and in_dir.meta["model_kind"] == kind and in_dir.meta["split"] == "test"
    # the arrays are plain .npy files, readable without zspace, and what load_zstore maps
    expected = {"z.npy", "index.npy", "labels.npy", "factors.npy", "meta.json"} | \
        ({"mu.npy", "logvar.npy"} if kind == "vae" else set())
    assert {p.name for p in (tmp_path / "zdir").iterdir()} == expected
    plain = np.load(tmp_path / "zdir" / "z.npy", mmap_mode="r")
    assert isinstance(plain, np.memmap) and plain.dtype == np.float32
    np.testing.assert_array_equal(plain, in_npz.z)
    loaded = load_zstore(tmp_path / "zdir")
    for name in ("z", "index", "labels", "factors") + (("mu", "logvar") if kind == "vae" else ()):
        assert isinstance(getattr(loaded, name), np.memmap), name
        assert isinstance(getattr(in_dir, name), np.memmap), name  # encode returns the mapped store
    info = json.loads((tmp_path / "zdir" / "meta.json").read_text())
    assert info["format"] == ZDIR_FORMAT and info["n_points"] == N and info["dim"] == 4
    assert info["factor_names"] == in_npz.factor_names and info["meta"] == in_npz.meta
    assert _leftovers(tmp_path) == []


def test_encode_images_fills_the_arrays_the_caller_allocates(vae_run):
    run = open_run(vae_run)
    images = run.data_split("test", n=20).images
    given = {}

    def allocate(name, shape):
        given[name] = np.full(shape, np.nan, np.float32)
        return given[name]

    out = encode_images(run.load_model(), images, batch_size=8, allocate=allocate)
    assert sorted(given) == ["logvar", "mu", "z"] and all(out[name] is given[name] for name in given)
    assert all(np.isfinite(a).all() for a in given.values())  # every row written
    np.testing.assert_allclose(out["mu"], encode_images(run.load_model(), images, batch_size=20)["mu"], atol=1e-6)


def test_an_in_memory_store_saves_as_a_directory(tmp_path):
    rng = np.random.default_rng(0)
    store = ZStore(z=rng.normal(size=(7, 3)), index=np.arange(7)[::-1].copy(), mu=rng.normal(size=(7, 3)),
                   logvar=rng.normal(size=(7, 3)), labels=np.arange(7) % 2, factors=rng.random((7, 2)),
                   factor_names=["size", "angle"], meta={"epoch": 3, "note": "in memory"})
    assert store.save(tmp_path / "d") == tmp_path / "d"
    again = load_zstore(tmp_path / "d")
    assert again.z.dtype == np.float32 and again.labels.dtype == np.int64
    np.testing.assert_array_equal(again.z, store.z.astype(np.float32))
    np.testing.assert_array_equal(again.index, store.index)  # not 0..N-1: kept as given
    np.testing.assert_array_equal(again.factors, store.factors.astype(np.float32))
    assert again.factor_names == ["size", "angle"] and again.meta == store.meta
    # the same store as .npz reads back the same
    _same_store(load_zstore(store.save(tmp_path / "d.npz")), again)


def test_cli_writes_a_directory_and_refuses_to_replace_it_without_force(ae_run, tmp_path, capsys):
    out = tmp_path / "codes"
    assert main(["encode", str(ae_run), "--n", "20", "--batch-size", "8", "--out", str(out)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"wrote Z directory {out} (z.npy,") and "20 points in 4 dimensions" in line
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert main(["encode", str(ae_run), "--n", "10", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and "--force" in err and "Traceback" not in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert main(["encode", str(ae_run), "--n", "10", "--out", str(out), "--force"]) == 0
    assert load_zstore(out).z.shape == (10, 4)
    # --force replaces a Z directory, never a folder of other files
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    assert main(["encode", str(ae_run), "--n", "10", "--out", str(precious), "--force"]) == 2
    assert "thesis.tex" in capsys.readouterr().err
    assert (precious / "thesis.tex").read_text() == "years of work" and _leftovers(tmp_path) == []


def _damage_truncated_z(d):
    data = (d / "z.npy").read_bytes()
    (d / "z.npy").write_bytes(data[:len(data) - 12])


def _damage_short_labels(d):
    np.save(d / "labels.npy", np.zeros(5, np.int64))


def _damage_float_labels(d):
    np.save(d / "labels.npy", np.zeros(7, np.float32))


def _damage_no_meta(d):
    (d / "meta.json").unlink()


def _damage_no_z(d):
    (d / "z.npy").unlink()


def _damage_meta_not_json(d):
    (d / "meta.json").write_text("{not json")


def _damage_meta_wrong_count(d):
    info = json.loads((d / "meta.json").read_text())
    (d / "meta.json").write_text(json.dumps({**info, "n_points": 8}))


@pytest.mark.parametrize("damage, file", [(_damage_truncated_z, "z.npy"), (_damage_short_labels, "labels.npy"),
                                          (_damage_float_labels, "labels.npy"), (_damage_no_meta, "meta.json"),
                                          (_damage_no_z, "z.npy"), (_damage_meta_not_json, "meta.json"),
                                          (_damage_meta_wrong_count, "z.npy")])
def test_a_damaged_directory_is_one_error_naming_the_file(damage, file, tmp_path):
    d = ZStore(z=np.ones((7, 3), np.float32), index=np.arange(7), labels=np.arange(7)).save(tmp_path / "d")
    load_zstore(d)  # intact: reads
    damage(d)
    with pytest.raises(ZspaceError) as caught:
        load_zstore(d)
    message = str(caught.value)
    assert f"Z directory {d}" in message and file in message and "zspace encode" in message, message
    assert "\n" not in message


def test_a_run_directory_is_no_z_directory(ae_run):
    with pytest.raises(ZspaceError, match="not a Z directory"):
        load_zstore(ae_run)


def test_a_failure_while_encoding_leaves_no_directory(ae_run, tmp_path, monkeypatch):
    batches = []

    def fail_after_first_batch(name):
        batches.append(name)
        if len(batches) == 2:
            raise RuntimeError("the machine caught fire")

    monkeypatch.setattr(faults, "point", fail_after_first_batch)
    with pytest.raises(RuntimeError, match="caught fire"):
        encode(ae_run, split="test", n=N, batch_size=BATCH, device="cpu", out=tmp_path / "zdir")
    assert batches == ["encode.batch"] * 2
    assert list(tmp_path.iterdir()) == []  # no directory, no temporary
    # an existing directory survives a failed replacement unchanged
    monkeypatch.undo()
    encode(ae_run, split="test", n=10, device="cpu", out=tmp_path / "zdir")
    before = {p.name: p.read_bytes() for p in (tmp_path / "zdir").iterdir()}
    batches.clear()
    monkeypatch.setattr(faults, "point", fail_after_first_batch)
    with pytest.raises(RuntimeError):
        encode(ae_run, split="test", n=N, batch_size=BATCH, device="cpu", out=tmp_path / "zdir")
    assert {p.name: p.read_bytes() for p in (tmp_path / "zdir").iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["zdir"]


def test_the_temporary_of_a_killed_encode_is_removed_by_the_next(ae_run, tmp_path):
    out = tmp_path / "zdir"
    env = {**os.environ, "ZSPACE_PROGRESS": "0", faults.ENV: "encode.batch:2"}
    killed = subprocess.Popen([sys.executable, "-m", "zspace", "encode", str(ae_run), "--n", str(N), "--batch-size",
                               str(BATCH), "--out", str(out)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    output, _ = killed.communicate()
    assert killed.returncode == -9, output
    assert not out.exists()
    [stale] = _leftovers(tmp_path)  # SIGKILL left the temporary directory, half written
    assert stale.startswith(f".zdir.{killed.pid}-") and (tmp_path / stale / "z.npy").is_file()
    # a temporary whose writer is alive (here: this process) may be in use: it stays
    alive = tmp_path / f".zdir.{os.getpid()}-abcd1234.tmp"
    alive.mkdir()
    other = tmp_path / f".zdir2.{killed.pid}-abcd1234.tmp"  # another target's temporary is not ours to judge
    other.mkdir()
    store = encode(ae_run, split="test", n=N, batch_size=BATCH, device="cpu", out=out)
    assert store.z.shape == (N, 4)
    assert _leftovers(tmp_path) == sorted([alive.name, other.name])


def test_analyze_and_factors_read_a_z_directory_as_they_read_the_npz(vae_run, tmp_path):
    from zspace.analysis import load_latents
    from zspace.core.arrays import RowStore
    from zspace.factors import factor_input

    encode(vae_run, split="test", n=N, batch_size=BATCH, device="cpu", seed=5, out=tmp_path / "z.npz")
    encode(vae_run, split="test", n=N, batch_size=BATCH, device="cpu", seed=5, out=tmp_path / "zdir")
    from_dir, from_npz = load_latents(tmp_path / "zdir"), load_latents(tmp_path / "z.npz")
    assert isinstance(from_dir.z, RowStore) and from_dir.has_vae and from_dir.n_points == N
    for name in ("z", "mu", "logvar"):
        np.testing.assert_array_equal(np.asarray(getattr(from_dir, name)), np.asarray(getattr(from_npz, name)))
    np.testing.assert_array_equal(from_dir.labels, from_npz.labels)
    a, b = factor_input(tmp_path / "zdir"), factor_input(tmp_path / "z.npz")
    assert a.factor_names == b.factor_names and len(a.factor_names) >= 1
    np.testing.assert_array_equal(a.factors, b.factors)
    np.testing.assert_array_equal(a.codes, b.codes)
    assert main(["analyze", str(tmp_path / "zdir"), "--out", str(tmp_path / "analysis"), "--only", "axes,vae",
                 "--no-figures"]) == 0
    report = json.loads((tmp_path / "analysis" / "analysis.json").read_text())
    assert report["complete"] and report["input"]["n_points"] == N and report["input"]["has_mu_logvar"]
