"""Sharded Z directories: N writers (torchrun processes or ``--shard i/N`` jobs), one shard each, nothing gathered.

Why the stores are compared bit for bit: on CPU a row's z, mu and logvar do not depend on the other rows of
its batch (measured: equal bit for bit for batches of 7 to 300 rows), and a VAE's noise of row i depends on
(seed, i) only (RowNoise), so a shard computes exactly what one process computes for its rows. The one
exception is a batch of a single row, which takes another kernel (matrix-vector) and differs in the last
bits (2.4e-7 measured): the sizes below never make one (2000 rows in batches of 64, shards of 1000; 100 rows
in batches of 16, shards of 50).

The killed writers are forked from this process (SIGKILL by ``ZSPACE_KILL_AT``, as a cluster's OOM killer
or a pulled plug would); only the 2-process encode starts torchrun, the one slow test here.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import tracemalloc

import numpy as np
import pytest
import torch

from pipeline.test_distributed import torchrun  # noqa: E402  (tests/ is on the path: the shared torchrun helper)
from zspace.analysis import load_latents
from zspace.cli import main
from zspace.core import faults
from zspace.core.arrays import RowStore
from zspace.core.errors import ZspaceError
from zspace.core.inputkind import InputKind, kind_of
from zspace.pipeline import encode as encode_module
from zspace.pipeline.encode import encode, encode_images
from zspace.pipeline.run import open_run
from zspace.pipeline.session import InferenceSession
from zspace.pipeline.zstore import ZDIR_FORMAT, ZDIR_SHARDED_FORMAT, ZStore, load_zstore

SEED = 5
ARRAYS = ("z", "mu", "logvar", "index", "labels", "factors")


def _argv(run, out, n: int = 100) -> list[str]:
    return ["encode", str(run), "--n", str(n), "--batch-size", "16", "--seed", str(SEED), "--device", "cpu",
            "--out", str(out)]


@pytest.fixture(scope="module")
def one_100(vae_run, tmp_path_factory):
    """100 test images encoded by one process into a Z directory: what every sharded store below must equal."""
    return encode(vae_run, n=100, batch_size=16, device="cpu", seed=SEED,
                  out=tmp_path_factory.mktemp("one") / "z")


def _same_store(got: ZStore, want: ZStore) -> None:
    for name in ARRAYS:
        a, b = getattr(got, name), getattr(want, name)
        assert (a is None) == (b is None), name
        if a is not None:
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=name)
    assert got.factor_names == want.factor_names and got.meta == want.meta


def _hidden(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def _stamps(folder) -> dict:
    """(inode, mtime) of a folder and of each file in it: equal before and after only if nothing rewrote them."""
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in [folder, *folder.iterdir()]}


def _killed(argv: list[str], kill_at: str) -> int:
    """Run ``zspace ARGV`` in a forked copy of this process that SIGKILLs itself at ``kill_at``; its exit code."""
    def child():
        torch.set_num_threads(1)  # no OpenMP pool inherited across fork
        os.environ[faults.ENV] = kill_at
        os._exit(main(argv))

    process = multiprocessing.get_context("fork").Process(target=child)
    process.start()
    process.join(120)
    return process.exitcode


def test_two_processes_write_the_one_process_z_directory_in_shards(vae_run, tmp_path):
    one = encode(vae_run, batch_size=64, device="cpu", seed=SEED, out=tmp_path / "one")  # the 2000 test images
    out = tmp_path / "two"
    done = torchrun(2, "encode", vae_run, "--out", out, "--batch-size", "64", "--seed", str(SEED), "--device", "cpu")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "wrote Z directory" in done.stdout and "2000 points in 4 dimensions" in done.stdout
    # the layout: a top-level meta.json written last, and one complete Z directory per process
    assert sorted(p.name for p in out.iterdir()) == ["meta.json", "shards"] and _hidden(tmp_path) == []
    shards = sorted((out / "shards").iterdir())
    assert [p.name for p in shards] == ["00000-of-00002", "00001-of-00002"] and _hidden(out / "shards") == []
    for i, shard in enumerate(shards):
        part, rows = load_zstore(shard), slice(1000 * i, 1000 * (i + 1))
        assert json.loads((shard / "meta.json").read_text())["format"] == ZDIR_FORMAT
        np.testing.assert_array_equal(part.index, np.arange(2000)[rows])  # positions in the split
        np.testing.assert_array_equal(part.z, one.z[rows])
    info = json.loads((out / "meta.json").read_text())
    assert info["format"] == ZDIR_SHARDED_FORMAT and info["n_points"] == 2000 and info["dim"] == 4
    assert info["shards"] == ["shards/00000-of-00002", "shards/00001-of-00002"]
    assert sorted(info["crc32"]) == [f"shards/{p.name}/meta.json" for p in shards]
    # read whole, in row order: equal to the one-process store, z and mu memory-mapped behind a RowStore
    store = load_zstore(out)
    assert isinstance(store.z, RowStore) and isinstance(store.mu, RowStore) and len(store.z.parts) == 2
    _same_store(store, one)
    assert kind_of(out) is InputKind.Z_DIR
    # and zspace analyze's loader reads the same N x d, with mu, logvar and labels
    sharded, whole = load_latents(out), load_latents(tmp_path / "one")
    assert (sharded.n_points, sharded.dim, sharded.has_vae) == (2000, 4, True)
    assert isinstance(sharded.z, RowStore) and len(sharded.z.parts) == 2 and "2 shards" in sharded.source
    for name in ("z", "mu", "logvar", "labels"):
        np.testing.assert_array_equal(np.asarray(getattr(sharded, name)), np.asarray(getattr(whole, name)))


def test_a_shard_holds_one_batch_of_rows_in_memory_whatever_its_size(vae_run, tmp_path, monkeypatch):
    """Instrumented instead of a peak RSS: at these sizes the arrays that gathering held (48 bytes a row for
    d = 4) are far below the noise of a process's RSS, while tracemalloc counts every numpy allocation exactly.

    Each encode's traced peak is taken while the model encodes (data loading excluded); every output array
    must come from the shard's memory maps, and the peak of a 1000-row shard must equal that of a 256-row one
    (within a quarter of the 36 KB that the extra rows would take in memory). The control: the same encode
    kept in memory grows by at least the size of its arrays, so the measure does see them.
    """
    peaks, kinds = {}, {}
    original = InferenceSession.encode

    def traced(self, images, *args, allocate=None, **kwargs):
        key = ("shard" if allocate is not None else "memory", len(images))

        def recording(name, shape):
            array = allocate(name, shape) if allocate is not None else np.empty(shape, np.float32)
            kinds.setdefault(key, set()).add(type(array))
            return array

        tracemalloc.start()
        try:
            return original(self, images, *args, allocate=recording, **kwargs)
        finally:
            peaks[key] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()

    monkeypatch.setattr(InferenceSession, "encode", traced)
    for n in (64, 512, 2000):  # 64: the first encode of a process allocates for good, not for its rows
        encode(vae_run, n=n, batch_size=32, device="cpu", seed=SEED, out=tmp_path / f"z{n}", shard=(1, 2))
        in_memory = encode(vae_run, n=n, batch_size=32, device="cpu", seed=SEED)  # the control
    assert kinds[("shard", 256)] == kinds[("shard", 1000)] == {np.memmap}  # outputs: the shard's files
    assert kinds[("memory", 2000)] == {np.ndarray}
    extra = (1000 - 256) * 3 * 4 * 4  # bytes of the large shard's extra rows in z, mu, logvar (float32, d = 4)
    assert abs(peaks[("shard", 1000)] - peaks[("shard", 256)]) < extra / 4, peaks
    assert peaks[("memory", 2000)] - peaks[("memory", 512)] >= 0.9 * (2000 - 512) * 3 * 4 * 4, peaks
    shard = load_zstore(tmp_path / "z2000" / "shards" / "00001-of-00002")  # and the rows are the right ones
    for name in ("z", "mu", "logvar", "labels", "factors"):
        np.testing.assert_array_equal(getattr(shard, name), getattr(in_memory, name)[1000:], err_msg=name)


def test_fewer_rows_than_shards_leave_an_empty_shard(vae_run, tmp_path, monkeypatch):
    out = tmp_path / "z"
    for part in ("1/2", "0/2"):  # the empty part first: it waits for nothing
        assert main([*_argv(vae_run, out, n=1), "--shard", part]) == 0
    empty = out / "shards" / "00001-of-00002"
    shapes = {name: np.load(empty / f"{name}.npy").shape for name in ARRAYS}
    assert shapes == {"z": (0, 4), "mu": (0, 4), "logvar": (0, 4), "index": (0,), "labels": (0,), "factors": (0, 6)}
    one = encode(vae_run, n=1, device="cpu", seed=SEED)
    _same_store(load_zstore(out), one)
    assert load_zstore(empty).z.shape == (0, 4)
    # the cause of the KeyError under torchrun: a process with no rows returned z without mu and logvar
    run = open_run(vae_run)
    nothing = encode_images(run.load_model(), run.data_split("test", n=1).images[:0], seed=SEED)
    assert {name: a.shape for name, a in nothing.items()} == {"z": (0, 4), "mu": (0, 4), "logvar": (0, 4)}

    # so a Z file gathered from 2 processes, one of them without rows, is the one-process file (rank 0's view)
    class RankZeroOfTwo:
        rank, world_size = 0, 2

        def gather(self, arrays):
            return [arrays, nothing]

        def close(self):
            return None

    monkeypatch.setattr(encode_module, "process_strategy", lambda device: RankZeroOfTwo())
    _same_store(encode(vae_run, n=1, device="cpu", seed=SEED, out=tmp_path / "z.npz"), one)


def test_a_killed_shard_encode_resumes_at_the_shards_that_are_done(vae_run, one_100, tmp_path, monkeypatch):
    out = tmp_path / "z"
    argv = _argv(vae_run, out)
    assert main([*argv, "--shard", "0/2"]) == 0
    first = _stamps(out / "shards" / "00000-of-00002")
    # killed in its 2nd batch: half a shard under a temporary name; no shard 1, no meta.json
    assert _killed([*argv, "--shard", "1/2"], "encode.batch:2") == -9
    [stale] = _hidden(out / "shards")
    assert stale.startswith(".00001-of-00002.") and sorted(p.name for p in out.iterdir()) == ["shards"]
    assert kind_of(out) is InputKind.Z_DIR  # an encode in progress is a Z directory, which readers refuse:
    with pytest.raises(ZspaceError, match="not complete: 1 of its 2 shards are written"):
        load_zstore(out)
    with pytest.raises(ZspaceError, match="run.* the same zspace encode again"):
        load_latents(out)
    assert main(argv) == 2  # a one-process encode does not take it over without --force
    # the same command again, killed just after its shard was renamed into place: the temporary is gone
    assert _killed([*argv, "--shard", "1/2"], "encode.shard:1") == -9
    assert _hidden(out / "shards") == [] and not (out / "meta.json").exists()
    second = _stamps(out / "shards" / "00001-of-00002")
    assert _stamps(out / "shards" / "00000-of-00002") == first
    # and once more: both shards are complete and of this encode, so nothing is encoded; meta.json is written
    calls = []
    monkeypatch.setattr(InferenceSession, "encode", lambda *a, **k: calls.append(a))
    assert main([*argv, "--shard", "1/2"]) == 0
    assert calls == [] and (out / "meta.json").is_file()
    assert _stamps(out / "shards" / "00000-of-00002") == first and _stamps(out / "shards" / "00001-of-00002") == second
    _same_store(load_zstore(out), one_100)


def test_shards_by_hand_make_the_same_store_in_any_order(vae_run, one_100, tmp_path, capsys, monkeypatch):
    out = tmp_path / "z"
    argv = _argv(vae_run, out)
    assert main([*argv, "--shard", "1/2"]) == 0
    assert "1 of 2 shards are complete" in capsys.readouterr().out and not (out / "meta.json").exists()
    assert main([*argv, "--shard", "0/2"]) == 0  # the last to finish joins them
    assert f"wrote Z directory {out} (2 shards" in capsys.readouterr().out
    _same_store(load_zstore(out), one_100)
    # a damaged shard is not kept: the same command encodes it again
    data = bytearray((out / "shards" / "00000-of-00002" / "z.npy").read_bytes())
    data[-1] ^= 0xFF
    (out / "shards" / "00000-of-00002" / "z.npy").write_bytes(data)
    with pytest.raises(ZspaceError, match="z.npy is damaged"):
        load_zstore(out)
    assert main([*argv, "--shard", "0/2"]) == 0
    _same_store(load_zstore(out), one_100)
    # a complete store of another encode is refused without --force, replaced with it
    other = [*_argv(vae_run, out, n=90), "--shard", "0/2"]
    assert main(other) == 2
    assert "another encode (n 100 there, 90 here)" in capsys.readouterr().err
    assert main([*other, "--force"]) == 0 and not (out / "meta.json").exists()  # shard 1 is still of n=100
    assert main([*_argv(vae_run, out, n=90), "--shard", "1/2"]) == 0
    assert load_zstore(out).z.shape == (90, 4)
    # and a one-process encode replaces the sharded directory with its own layout only with --force
    assert main([*argv, "--force"]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(["z.npy", "mu.npy", "logvar.npy", "labels.npy",
                                                            "factors.npy", "index.npy", "meta.json"])
    _same_store(load_zstore(out), one_100)


@pytest.mark.parametrize("value, words", [("2/2", "the part i must be 0..1 for N = 2"),
                                          ("-1/2", "the part i must be 0..1"),
                                          ("0/0", "the number of parts N must be >= 1"),
                                          ("3", "is not i/N"), ("a/b", "is not i/N")])
def test_a_bad_shard_is_refused_naming_the_option_and_the_fix(value, words, vae_run, tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        main([*_argv(vae_run, tmp_path / "z"), f"--shard={value}"])
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and "argument --shard" in err and words in err and "--shard 0/" in err, err
    assert not (tmp_path / "z").exists()


def test_a_shard_of_a_z_file_or_of_several_processes_is_refused(vae_run, tmp_path, capsys, monkeypatch):
    assert main([*_argv(vae_run, tmp_path / "z.npz"), "--shard", "0/2"]) == 2
    err = capsys.readouterr().err
    assert "is a Z file (.npz)" in err and "give --out a directory path" in err and "drop --shard" in err
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main([*_argv(vae_run, tmp_path / "z"), "--shard", "0/2"]) == 2
    assert "one of 2 processes" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
