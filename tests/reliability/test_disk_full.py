"""Disk full, read-only folders and Ctrl-C: one clear line, and every earlier checkpoint intact and loadable."""

from __future__ import annotations

import contextlib
import errno
import io as io_text
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


def _one_error_line(err: str) -> str:
    """The single ``zspace: error:`` line of ``err`` (stderr text), which must hold no traceback."""
    lines = [line for line in err.splitlines() if line.startswith("zspace: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _error_line(capsys) -> str:
    return _one_error_line(capsys.readouterr().err)


def _cli(argv: list[str]) -> tuple[int, str]:
    """(exit code, stderr text) of ``zspace ARGV`` run in this process."""
    err = io_text.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(argv)
    return code, err.getvalue()


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


#: the exit code of the namespace shell when its tmpfs mount is refused
MOUNT_REFUSED = 97
#: a child Python started in the namespace: import this file (argv[1]) and call scenario argv[2] on (where, run)
_RUN_SCENARIO = ("import importlib.util, sys; from pathlib import Path; "
                 "spec = importlib.util.spec_from_file_location('disk_full_scenarios', sys.argv[1]); "
                 "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module); "
                 "print(getattr(module, sys.argv[2])(Path(sys.argv[3]), Path(sys.argv[4])))")


@pytest.fixture()
def in_small_tmpfs(tmp_path, two_epochs, skip_or_fail_on_ci):
    """``in_small_tmpfs(scenario)``: call ``scenario(where, run)`` with ``where`` a real 2 MiB tmpfs and ``run``
    the two-epoch run to copy into it; returns what the scenario returned, as text.

    Plain ``mount -t tmpfs`` where it is allowed (root, as in CI): the scenario runs in this process. Where it
    is refused, a new user and mount namespace (``unshare -rm``) mounts it; that mount exists only for the
    processes inside the namespace, so the scenario runs in a child Python started there and fails the test
    with its output. Where neither works the test skips, or fails on CI (CI=true).
    """
    where = tmp_path / "tmpfs"
    where.mkdir()
    if shutil.which("mount") and subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(where)],
                                                capture_output=True).returncode == 0:
        try:
            yield lambda scenario: str(scenario(where, two_epochs))
        finally:
            subprocess.run(["umount", "-l", str(where)], check=False)
        return
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-rm", "true"],
                                                        capture_output=True).returncode != 0:
        skip_or_fail_on_ci("cannot mount a tmpfs here: plain mount is refused and so is `unshare -rm` "
                           "(needs root, or unprivileged user namespaces)")

    def in_namespace(scenario):
        done = subprocess.run(
            ["unshare", "-rm", "sh", "-c", f'mount -t tmpfs -o size=2m tmpfs "$1" || exit {MOUNT_REFUSED}; '
             'shift; exec "$@"', "sh", str(where), sys.executable, "-c", _RUN_SCENARIO, __file__, scenario.__name__,
             str(where), str(two_epochs)], capture_output=True, text=True, check=False)
        if done.returncode == MOUNT_REFUSED:
            skip_or_fail_on_ci(f"cannot mount a tmpfs here, not even in `unshare -rm`: {done.stderr.strip()}")
        assert done.returncode == 0, f"the scenario failed in its mount namespace:\n{done.stdout}\n{done.stderr}"
        return done.stdout.strip().splitlines()[-1]

    yield in_namespace


def a_really_full_disk(where: Path, source: Path) -> int:
    """Training that runs out of space on ``where`` stops with one line, keeps its history, and resumes later;
    returns the last epoch saved after the resume."""
    run = where / "run"
    shutil.copytree(source, run)
    free = shutil.disk_usage(where).free
    (where / "ballast").write_bytes(b"\0" * max(free - 40_000, 0))  # room for about half a checkpoint
    code, err = _cli(["train", "--resume", str(run), "--epochs", "6"])
    assert code == 2 and "No space left on device" in _one_error_line(err)
    _assert_history_intact(run, at_least=2)
    (where / "ballast").unlink()
    assert _cli(["train", "--resume", str(run)])[0] == 0
    return checkpoint.list_epochs(run / "checkpoints")[-1]


def a_read_only_output(where: Path, source: Path) -> int:
    """Every writing command on a read-only ``where`` gives one line naming the fix and changes nothing; returns
    how many commands were refused that way."""
    run = where / "run"
    shutil.copytree(source, run)
    subprocess.run(["mount", "-o", "remount,ro", str(where)], check=True)
    refused = 0
    for argv, fragment in [(["train", "--resume", str(run), "--epochs", "3"], "Read-only file system"),
                           (["encode", str(run), "--out", str(where / "z.npz")], "Read-only file system"),
                           (["fit-sampler", str(run), "diag-gauss"], "Read-only file system")]:
        code, err = _cli(argv)
        line = _one_error_line(err)
        assert code == 2 and fragment in line and "write to another folder" in line
        refused += 1
    _assert_history_intact(run, at_least=2)
    return refused


def test_a_really_full_disk_stops_training_with_one_line(in_small_tmpfs):
    assert in_small_tmpfs(a_really_full_disk) == "6"   # resumed to the end once the space was back


def test_a_read_only_output_is_one_line_and_changes_nothing(in_small_tmpfs):
    assert in_small_tmpfs(a_read_only_output) == "3"   # train, encode and fit-sampler each refused in one line


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


def _has_a_checkpoint(run: Path) -> bool:
    return (run / "checkpoints").exists() and checkpoint.latest_epoch(run / "checkpoints") is not None


@pytest.mark.timeout(600)
def test_ctrl_c_stops_training_keeps_the_last_checkpoint_and_prints_the_resume_command(tmp_path):
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "zspace", "train", "--out", str(run), "--data", "shapes",
                             "--model", "ae", "--z-dim", "4", "--filters", "8,16", "--epochs", "500",
                             "--n-train", "256", "--n-val", "64", "--device", "cpu"],
                            env={**os.environ, "ZSPACE_PROGRESS": "0"}, stderr=subprocess.PIPE, text=True)
    try:  # a hang is a failure through the timeout mark, a slow machine is not
        while not _has_a_checkpoint(run):
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        err = proc.communicate()[1]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    last = checkpoint.latest_epoch(run / "checkpoints")
    assert 1 <= last < 500
    assert f"the last complete checkpoint is epoch {last}; continue with: zspace train --resume {run}" in err
    checkpoint.verify_checkpoint(run / "checkpoints", last)
    assert not [p for p in (run / "checkpoints").iterdir() if p.name.startswith(".")]  # no temporaries left
