"""A directory replaced by :func:`zspace.core.io.atomic_dir` and killed at any step is never lost.

Each case runs a small Python process that replaces a directory of known old
files with known new files and sends itself SIGKILL (``ZSPACE_KILL_AT``) at one
kill point of ``atomic_dir``: once with renameat2 ``RENAME_EXCHANGE`` (this
machine's file system) and once with the two-rename fallback
(``ZSPACE_NO_RENAME_EXCHANGE=1``). After the recovery the next zspace command
runs (:func:`zspace.core.io.remove_stale_temporaries`), the path holds exactly
the old files or exactly the new ones, byte for byte, and no temporary is left.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from zspace.core import faults, io

OLD = {"weights.bin": bytes(range(256)), "state.json": b'{"epoch": 1}\n', "notes.txt": b"old\n"}
NEW = {"weights.bin": bytes(range(255, -1, -1)), "meta.json": b'{"epoch": 2}\n', "extra.txt": b"new\n"}

#: the child: replace the directory argv[1] by one holding the files of the JSON argv[2] (name -> hex content)
REPLACE = ("import json, sys\n"
           "from pathlib import Path\n"
           "from zspace.core import io\n"
           "with io.atomic_dir(sys.argv[1]) as tmp:\n"
           "    for name, content in json.loads(sys.argv[2]).items():\n"
           "        io.write_bytes(Path(tmp, name), bytes.fromhex(content))\n")

#: kill point -> (its hit that kills, the directory a kill there leaves: "old" or "new")
OUTCOME = {"atomic_dir.written": (1, "old"), "atomic_dir.synced": (1, "old"), "atomic_dir.aside": (1, "old"),
           "atomic_dir.swapped": (1, "new"), "atomic_dir.durable": (1, "new"),
           "atomic_dir.deleting": (2, "new")}  # the 2nd of the old directory's 3 files: in the middle of deleting
CASES = [(mode, point) for mode in ("exchange", "fallback") for point in io.ATOMIC_DIR_POINTS
         if not (mode == "exchange" and point == "atomic_dir.aside")]  # the exchange moves nothing aside


def _files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in directory.iterdir()}


def _make(directory: Path, files: dict[str, bytes]) -> None:
    directory.mkdir()
    for name, content in files.items():
        (directory / name).write_bytes(content)


def _replace(target: Path, mode: str, kill_at: str | None = None) -> subprocess.CompletedProcess:
    """Run the child that replaces ``target`` by the NEW files, killed at ``kill_at`` ("NAME:N") if given."""
    env = {k: v for k, v in os.environ.items() if k not in (faults.ENV, io.NO_EXCHANGE_ENV)}
    env.update({faults.ENV: kill_at} if kill_at else {})
    env.update({io.NO_EXCHANGE_ENV: "1"} if mode == "fallback" else {})
    new = json.dumps({name: content.hex() for name, content in NEW.items()})
    return subprocess.run([sys.executable, "-c", REPLACE, str(target), new], env=env, capture_output=True, text=True)


@pytest.fixture
def exchange_works(tmp_path, skip_or_fail_on_ci):
    """Skip (fail on CI) where the file system of the test's folder cannot exchange two directories."""
    a, b = tmp_path / "probe_a", tmp_path / "probe_b"
    a.mkdir()
    b.mkdir()
    (a / "x").touch()
    if not io._renameat2(a, b, io._RENAME_EXCHANGE):
        skip_or_fail_on_ci(f"the file system of {tmp_path} has no renameat2 RENAME_EXCHANGE")
    assert (b / "x").exists() and not (a / "x").exists()
    a.rmdir()
    (b / "x").unlink()
    b.rmdir()


@pytest.fixture
def dead_pid():
    """The process id of a process that has ended (and was reaped)."""
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    assert ended.wait() == 0
    return ended.pid


@pytest.mark.parametrize("mode,point", CASES)
def test_a_kill_at_any_step_leaves_the_old_or_the_new_directory(mode, point, tmp_path, request):
    if mode == "exchange":
        request.getfixturevalue("exchange_works")
    target = tmp_path / "dir"
    _make(target, OLD)
    hit, survivor = OUTCOME[point]
    killed = _replace(target, mode, f"{point}:{hit}")
    assert killed.returncode == -9, killed.stderr  # SIGKILL at the point: it was reached
    expected = OLD if survivor == "old" else NEW
    if point == "atomic_dir.aside":  # the fallback's gap: no directory until the recovery renames the old one back
        assert not target.exists()
        [aside] = [p for p in tmp_path.iterdir() if p.name.startswith(".dir.old-")]
        assert _files(aside) == OLD
    else:  # the path is a complete directory before any recovery
        assert _files(target) == expected
    io.remove_stale_temporaries(target)
    assert [p.name for p in tmp_path.iterdir()] == ["dir"]  # no temporary left
    assert _files(target) == expected


def test_the_exchange_moves_nothing_aside(tmp_path, exchange_works):
    # the fallback is killed at this point (the parametrized case above); the exchange never reaches it
    target = tmp_path / "dir"
    _make(target, OLD)
    run = _replace(target, "exchange", "atomic_dir.aside:1")
    assert run.returncode == 0, run.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["dir"] and _files(target) == NEW


def test_a_dead_writers_old_directory_is_restored_when_the_path_is_missing(tmp_path, dead_pid):
    # what the two renames of zspace before this fix left when killed between them: nothing at the path
    target = tmp_path / "sampler"
    _make(tmp_path / f".sampler.old-{dead_pid}", OLD)
    assert io.remove_stale_temporaries(target) == []  # restored, not deleted
    assert [p.name for p in tmp_path.iterdir()] == ["sampler"] and _files(target) == OLD
    # where the new one made it, the old one is deleted
    _make(tmp_path / f".sampler.old-{dead_pid}", NEW)
    assert io.remove_stale_temporaries(target) == [tmp_path / f".sampler.old-{dead_pid}"]
    assert [p.name for p in tmp_path.iterdir()] == ["sampler"] and _files(target) == OLD
    # checkpoints clean up by pattern: the old epoch directory comes back under its own name
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    _make(checkpoints / f".epoch_0003.old-{dead_pid}", OLD)
    io.remove_stale_temporaries(checkpoints / "epoch_*", pattern=True)
    assert [p.name for p in checkpoints.iterdir()] == ["epoch_0003"] and _files(checkpoints / "epoch_0003") == OLD


def test_the_next_replacement_restores_the_old_directory_before_it_writes(tmp_path, dead_pid):
    # a save that fails after a killed one (samplers call no cleanup) still leaves the previous directory
    target = tmp_path / "sampler"
    _make(tmp_path / f".sampler.old-{dead_pid}", OLD)
    with pytest.raises(RuntimeError):
        with io.atomic_dir(target) as tmp:
            (tmp / "half").write_bytes(b"x")
            raise RuntimeError("the save fails")
    assert [p.name for p in tmp_path.iterdir()] == ["sampler"] and _files(target) == OLD


def test_a_live_writers_old_directory_is_left_alone(tmp_path):
    # the parent of this process is alive: its ".NAME.old-PID" may be in the gap of a replacement right now
    live = os.getppid()
    target = tmp_path / "zdir"
    aside = tmp_path / f".zdir.old-{live}"
    _make(aside, OLD)
    assert io.remove_stale_temporaries(target) == []
    assert not target.exists() and _files(aside) == OLD
    with io.atomic_dir(target) as tmp:  # nor does a replacement restore it
        (tmp / "new").write_bytes(b"n")
    assert _files(aside) == OLD and _files(target) == {"new": b"n"}
    assert io.remove_stale_temporaries(target) == [] and _files(aside) == OLD


@pytest.mark.parametrize("writer", ["atomic_path", "atomic_dir"])
def test_an_interrupt_inside_mkstemp_leaves_no_temporary(writer, tmp_path, monkeypatch):
    # Ctrl-C between the temporary's creation and its name coming back: the name is unknown, the pid prefix is not
    def made_then_interrupted(maker):
        def interrupted(*args, **kwargs):
            made = maker(*args, **kwargs)
            raise KeyboardInterrupt(made)
        return interrupted

    monkeypatch.setattr(tempfile, "mkstemp", made_then_interrupted(tempfile.mkstemp))
    monkeypatch.setattr(tempfile, "mkdtemp", made_then_interrupted(tempfile.mkdtemp))
    with pytest.raises(KeyboardInterrupt) as interrupt:
        with getattr(io, writer)(tmp_path / "target.json"):
            pass
    assert interrupt.value.args[0]  # the temporary was made before the interrupt
    assert list(tmp_path.iterdir()) == []


def test_readers_bring_back_a_directory_a_killed_fallback_replacement_left_aside(tmp_path, dead_pid):
    # the fallback's gap: a killed `encode --force` or refit leaves only ``.NAME.old-PID``; the next reader
    # (load_zstore, analyze's load_latents, load_sampler) restores it instead of saying it does not exist
    import numpy as np

    from zspace.analysis.inputs import load_latents
    from zspace.pipeline.zstore import ZStore, load_zstore
    from zspace.science.samplers.base import load_sampler, make_sampler

    z = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
    zdir = tmp_path / "z_train"
    ZStore(z=z, index=np.arange(40)).save(zdir)
    sampler_dir = tmp_path / "gauss"
    make_sampler("full-gauss", 3).fit(z).save(sampler_dir)
    for directory in (zdir, sampler_dir):
        directory.rename(directory.with_name(f".{directory.name}.old-{dead_pid}"))

    np.testing.assert_array_equal(load_zstore(zdir).z, z)
    zdir.rename(zdir.with_name(f".z_train.old-{dead_pid}"))  # stranded again: analyze's reader restores it too
    np.testing.assert_array_equal(np.asarray(load_latents(zdir).z), z)
    assert load_sampler(sampler_dir).sample(5, np.random.default_rng(1)).shape == (5, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gauss", "z_train"]
