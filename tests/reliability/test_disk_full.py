"""Disk full, read-only folders and Ctrl-C: one clear line, and every earlier checkpoint intact and loadable."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from zspace.cli import main
from zspace.core import io
from zspace.pipeline import checkpoint
from zspace.pipeline.run import open_run


@pytest.fixture(scope="module")
def two_epochs(tmp_path_factory):
    from tiny_runs import tiny_configs
    from zspace.pipeline.train import train

    out = tmp_path_factory.mktemp("disk") / "run"
    train(*tiny_configs("ae", epochs=2, keep_every=1), out)
    return out


def _error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("zspace: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _assert_history_intact(run: Path, at_least: int) -> None:
    """Every kept checkpoint verifies and loads; metrics.jsonl lists the epochs of the checkpoints, in order."""
    epochs = checkpoint.list_epochs(run / "checkpoints")
    assert epochs[:at_least] == list(range(1, at_least + 1))
    opened = open_run(run)
    for epoch in epochs:
        checkpoint.verify_checkpoint(opened.checkpoints_dir, epoch)
        opened.load_model(epoch)
    metric_epochs = [r["epoch"] for r in opened.metrics() if "event" not in r]
    assert metric_epochs[:len(epochs)] == epochs


@pytest.mark.parametrize("nth_write", [1, 2, 3, 4, 6, 9, 13])
def test_disk_full_at_the_nth_write_is_one_line_and_loses_nothing(two_epochs, tmp_path, monkeypatch, capsys,
                                                                   nth_write):
    run = tmp_path / "run"
    shutil.copytree(two_epochs, run)
    real_fsync, calls = os.fsync, {"n": 0}

    def fsync_on_a_full_disk(fd):
        calls["n"] += 1
        if calls["n"] >= nth_write:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync_on_a_full_disk)
    assert main(["train", "--resume", str(run), "--epochs", "5"]) == 2
    line = _error_line(capsys)
    assert "No space left on device" in line and "free disk space" in line
    # before the loop the same command runs again; inside it, the resume command is printed
    assert f"zspace train --resume {run}" in line or "run the command again" in line
    monkeypatch.setattr(os, "fsync", real_fsync)
    _assert_history_intact(run, at_least=2)
    assert main(["train", "--resume", str(run), "--epochs", "5"]) == 0  # space is back: it goes on
    assert checkpoint.list_epochs(run / "checkpoints")[-1] == 5


def _mount_tmpfs(where: Path, size: str) -> bool:
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True)
    return done.returncode == 0


@pytest.fixture()
def small_tmpfs(tmp_path):
    """A real 2 MiB file system (needs root, as in CI and this container); skipped where it cannot be mounted."""
    where = tmp_path / "tmpfs"
    if not _mount_tmpfs(where, "2m"):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield where
    subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_really_full_disk_stops_training_with_one_line(two_epochs, small_tmpfs, capsys):
    run = small_tmpfs / "run"
    shutil.copytree(two_epochs, run)
    free = shutil.disk_usage(small_tmpfs).free
    (small_tmpfs / "ballast").write_bytes(b"\0" * max(free - 40_000, 0))  # room for about half a checkpoint
    assert main(["train", "--resume", str(run), "--epochs", "6"]) == 2
    assert "No space left on device" in _error_line(capsys)
    _assert_history_intact(run, at_least=2)
    (small_tmpfs / "ballast").unlink()
    assert main(["train", "--resume", str(run)]) == 0
    assert checkpoint.list_epochs(run / "checkpoints")[-1] == 6


def test_a_read_only_output_is_one_line_and_changes_nothing(two_epochs, small_tmpfs, capsys):
    run = small_tmpfs / "run"
    shutil.copytree(two_epochs, run)
    subprocess.run(["mount", "-o", "remount,ro", str(small_tmpfs)], check=True)
    for argv, fragment in [(["train", "--resume", str(run), "--epochs", "3"], "Read-only file system"),
                           (["encode", str(run), "--out", str(small_tmpfs / "z.npz")], "Read-only file system"),
                           (["fit-sampler", str(run), "diag-gauss"], "Read-only file system")]:
        assert main(argv) == 2
        line = _error_line(capsys)
        assert fragment in line and "write to another folder" in line
    _assert_history_intact(run, at_least=2)


def test_write_errors_of_libraries_that_write_in_rust_are_recognised(tmp_path):
    import torch
    from safetensors.torch import save_file

    class RustStyleError(Exception):
        pass

    with pytest.raises(io.WriteError, match="No space left on device"):
        with io.atomic_path(tmp_path / "x.safetensors") as tmp:
            save_file({"a": torch.zeros(2)}, str(tmp))
            raise RustStyleError("Error while serializing: I/O error: No space left on device (os error 28)")
    with pytest.raises(KeyError):  # anything else passes through unchanged
        with io.atomic_path(tmp_path / "y.json"):
            raise KeyError("not a write error")
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_stops_training_keeps_the_last_checkpoint_and_prints_the_resume_command(tmp_path):
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "zspace", "train", "--out", str(run), "--data", "shapes",
                             "--model", "ae", "--z-dim", "4", "--filters", "8,16", "--epochs", "500",
                             "--n-train", "256", "--n-val", "64", "--device", "cpu"],
                            env={**os.environ, "ZSPACE_PROGRESS": "0"}, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while checkpoint.latest_epoch(run / "checkpoints") is None if (run / "checkpoints").exists() else True:
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=60)[1]
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    last = checkpoint.latest_epoch(run / "checkpoints")
    assert 1 <= last < 500
    assert f"the last complete checkpoint is epoch {last}; continue with: zspace train --resume {run}" in err
    checkpoint.verify_checkpoint(run / "checkpoints", last)
    assert not [p for p in (run / "checkpoints").iterdir() if p.name.startswith(".")]  # no temporaries left
