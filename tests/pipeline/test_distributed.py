"""torchrun + DistributedDataParallel on CPU (gloo): 2 processes, 2 machines simulated on 127.0.0.1.

What is compared, and why the tolerance:
* a 2-process run stopped by SIGTERM, then restarted by torchrun after a worker is SIGKILLed, ends
  bit-identical to an uninterrupted 2-process run (same seed); so does one formed by srun-style tasks;
* a 2-process run matches a 1-process run with the same global batch within rtol 1e-5 per epoch loss: the
  gradient all-reduce adds the two processes' partial gradients in another order than one process sums
  the whole batch; float32 rounding of that (~1e-7 relative per step) is all that differs for an AE, and
  2-3 epochs of 6 steps amplify it to ~1e-8..1e-6 measured;
* encoding on 2 processes: tests/pipeline/test_sharded_encode.py;
* only rank 0 writes in the run directory: the shared 2-process run is watched by a test-only audit hook
  (``sys.addaudithook`` in a ``sitecustomize.py`` put on the processes' PYTHONPATH) that logs, per process and
  into a folder beside the run directory, every file it opens for writing, renames, removes or makes.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors.torch import load_file

from zspace import cli
from zspace.core import faults, io
from zspace.pipeline import checkpoint

TRAIN = ["--data", "shapes", "--z-dim", "4", "--filters", "8,16", "--n-train", "256", "--n-val", "64",
         "--seed", "5", "--keep-every", "1", "--device", "cpu"]


def _env(kill_at: str | None = None, **extra: str) -> dict:
    env = {**os.environ, "ZSPACE_PROGRESS": "0", "OMP_NUM_THREADS": "1", **extra}
    env.pop(faults.ENV, None)
    if kill_at:
        env[faults.ENV] = kill_at
    return env


def torchrun(nproc: int, *argv, kill_at: str | None = None, extra: tuple = (),
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``torchrun`` ``nproc`` processes of ``zspace ARGV``; ``env``: variables added to the environment."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}", *extra,
               "-m", "zspace", *map(str, argv)]
    return subprocess.run(command, env=_env(kill_at, **(env or {})), capture_output=True, text=True, timeout=300)


def zspace(*argv) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "zspace", *map(str, argv)], env=_env(), capture_output=True,
                          text=True, timeout=300)


def _ok(done: subprocess.CompletedProcess) -> None:
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def _weights(run: Path, epoch: int) -> dict:
    return load_file(str(run / "checkpoints" / f"epoch_{epoch:04d}" / "model.safetensors"))


def _losses(run: Path) -> list[float]:
    return [r["train"]["total"] for r in io.read_jsonl(run / "metrics.jsonl") if "event" not in r]


def _same_weights(a: Path, b: Path, epoch: int) -> bool:
    wa, wb = _weights(a, epoch), _weights(b, epoch)
    return wa.keys() == wb.keys() and all(wa[k].equal(wb[k]) for k in wa)


#: the test-only sitecustomize.py that logs each process's file-system writes (see the module docstring)
WRITE_AUDIT = '''"""Test-only (tests/pipeline/test_distributed.py): log this process's file-system writes.

Every write (an open for writing, a rename, a removal, a directory made or
removed, a change of mode or size) anywhere, and every read under
$ZSPACE_TEST_WATCH, is appended as "WHO<TAB>PID<TAB>EVENT<TAB>PATH" to
$ZSPACE_TEST_WRITE_LOG/WHO-PID.log; WHO is $RANK (torchrun's workers) or
"launcher". The last line, at exit, counts the opens the hook saw.
"""
import atexit
import os
import sys


def _install():
    log_dir = os.environ.get("ZSPACE_TEST_WRITE_LOG")
    if not log_dir:
        return
    who = os.environ.get("RANK", "launcher")
    watch = os.environ.get("ZSPACE_TEST_WATCH", "\\0")
    fd = os.open(os.path.join(log_dir, f"{who}-{os.getpid()}.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    writing = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    path_args = {"os.rename": 2, "os.remove": 1, "os.rmdir": 1, "os.mkdir": 1, "shutil.rmtree": 1,
                 "os.truncate": 1, "os.symlink": 2, "os.link": 2, "os.chmod": 1, "os.utime": 1}
    opens = [0]

    def emit(event, path):
        os.write(fd, f"{who}\\t{os.getpid()}\\t{event}\\t{path}\\n".encode("utf-8", "surrogateescape"))

    def absolute(path):
        return os.path.abspath(os.fsdecode(path)) if isinstance(path, (str, bytes, os.PathLike)) else None

    def hook(event, args):
        try:
            if event == "open":
                opens[0] += 1
                path, flags = absolute(args[0]), args[2]
                if path is None:
                    return
                if isinstance(flags, int) and flags & writing:
                    emit("write", path)
                elif path.startswith(watch):
                    emit("read", path)
            elif event in path_args:
                for path in args[:path_args[event]]:
                    if absolute(path) is not None:
                        emit(event, absolute(path))
        except Exception as exc:  # a hook must never break the process it watches
            emit("hook-error", repr(exc))

    atexit.register(lambda: emit("opens-seen", opens[0]))
    sys.addaudithook(hook)


_install()
'''


def _watched(root: Path, run: Path) -> dict[str, str]:
    """Environment that makes every Python process log its writes to ROOT/writes/ (outside ``run``)."""
    (root / "hook").mkdir()
    (root / "hook" / "sitecustomize.py").write_text(WRITE_AUDIT)
    (root / "writes").mkdir()
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(root / "hook"), os.environ.get("PYTHONPATH")])),
            "ZSPACE_TEST_WRITE_LOG": str(root / "writes"), "ZSPACE_TEST_WATCH": str(run)}


def _write_log(root: Path) -> dict[str, list[tuple[str, str]]]:
    """{WHO: [(event, path), ...]} from the logs of :data:`WRITE_AUDIT` in ROOT/writes/ (WHO: rank or launcher)."""
    events: dict[str, list[tuple[str, str]]] = {}
    for log in sorted((root / "writes").glob("*.log")):
        for line in log.read_text().splitlines():
            who, _pid, event, path = line.split("\t", 3)
            events.setdefault(who, []).append((event, path))
    return events


@pytest.fixture(scope="module")
def two_process_vae(tmp_path_factory):
    """A 2-process VAE run of 3 epochs, every checkpoint kept; its processes' writes logged to ../writes/."""
    root = tmp_path_factory.mktemp("ddp")
    out = root / "vae2"
    _ok(torchrun(2, "train", "--out", out, "--model", "vae", "--epochs", "3", "--batch-size", "64", *TRAIN,
                 env=_watched(root, out)))
    return out


def test_only_rank_0_writes_in_the_run_directory(two_process_vae):
    run = two_process_vae
    events = _write_log(run.parent)
    assert {"0", "1", "launcher"} <= set(events), sorted(events)  # every process ran with the hook

    def inside(who: str) -> list[tuple[str, str]]:
        return [(e, p) for e, p in events.get(who, []) if e != "read" and Path(p).is_relative_to(run)]

    assert inside("1") == [] and inside("launcher") == []
    written = {Path(p).relative_to(run).as_posix() for e, p in inside("0") if e in ("write", "os.rename")}
    assert {"config.json", "metrics.jsonl", "checkpoints/latest.json", "checkpoints/epoch_0003"} <= written
    # the hook is not blind in rank 1: it saw that process's opens (its imports, at least)
    seen = {who: int(p) for who in events for e, p in events[who] if e == "opens-seen"}
    assert seen["1"] > 100, events["1"]
    assert all(e != "hook-error" for who in events for e, _ in events[who])


def test_a_preempted_job_and_a_killed_worker_under_max_restarts_still_end_bit_identical(two_process_vae, tmp_path):
    """What a cluster does to a job, on 2 processes (torchrun, gloo). SLURM's SIGTERM reaches rank 0 after batch 3
    of epoch 2: both processes finish that step, write a checkpoint inside the epoch and exit 75. The same command
    again, under torchrun --max-restarts 1: rank 1 is SIGKILLed after batch 3 of epoch 3 (once), torchrun restarts
    both, and they continue by themselves from the checkpoint of batch 2 (--checkpoint-every 2). The job ends
    bit-identical to the uninterrupted run."""
    run = tmp_path / "preempted"
    argv = ["train", "--out", run, "--model", "vae", "--epochs", "3", "--batch-size", "64", *TRAIN,
            "--checkpoint-every", "2"]
    stopped = torchrun(2, *argv, kill_at="batch:7@0", env={faults.SIGNAL_ENV: "TERM"})
    assert stopped.returncode != 0
    # torchrun's report: the first worker to end exits 75; torchrun then sends SIGTERM to the other, which is
    # leaving too (its own exit 75, or -15 when the signal arrives while Python shuts down)
    exits = dict(re.findall(r"rank\s*:\s*(\d+) \(local_rank: \d+\)\s*exitcode\s*:\s*(-?\d+)", stopped.stderr))
    assert "75" in exits.values() and set(exits.values()) <= {"75", "-15"}, stopped.stderr[-3000:]
    assert "SIGTERM received: stopped in epoch 2 after batch 3 of 4" in stopped.stderr  # rank 0, signalled
    assert "a stop signal received: stopped in epoch 2 after batch 3 of 4" in stopped.stderr  # rank 1, told
    assert checkpoint.in_epoch_position(run / "checkpoints") == (2, 3)
    assert [r["epoch"] for r in io.read_jsonl(run / "metrics.jsonl")] == [1]

    once = tmp_path / "killed-once"
    restarted = torchrun(2, *argv, kill_at="batch:4@1", extra=("--max-restarts=1",), env={faults.ONCE_ENV: str(once)})
    _ok(restarted)
    assert once.exists()  # the worker was killed, and the job finished by itself
    assert "resuming" in restarted.stderr and "in epoch 3 after batch 2" in restarted.stderr
    assert _same_weights(run, two_process_vae, 3)
    assert _losses(run) == _losses(two_process_vae)


def test_two_processes_follow_the_one_process_loss_curve(tmp_path):
    # batch 45, the harder split: parts of 23 and 22, a last batch of 31 (16 + 15); an even split (64) is the
    # two_process_vae fixture's, compared bit for bit after a kill below. The 2-process run is started the way a
    # user would: `zspace train --nproc 2`, which launches torchrun and says the command line it runs
    batch_size = "45"
    one, two = tmp_path / "one", tmp_path / "two"
    _ok(zspace("train", "--out", one, "--model", "ae", "--epochs", "2", "--batch-size", batch_size, *TRAIN))
    done = zspace("train", "--nproc", "2", "--out", two, "--model", "ae", "--epochs", "2", "--batch-size",
                  batch_size, *TRAIN)
    _ok(done)
    assert np.allclose(_losses(two), _losses(one), rtol=1e-5, atol=0)
    assert len(io.read_jsonl(two / "metrics.jsonl")) == 2  # one writer: one line per epoch
    assert "running: " in done.stdout and "torch.distributed.run" in done.stdout and "--nproc-per-node=2" in done.stdout
    assert "--nproc 2" not in done.stdout.split("running: ", 1)[1].splitlines()[0]  # not passed on to the workers
    assert done.stdout.count("trained ") == 1  # one process reports


def test_resume_on_more_processes_than_trained_it(two_process_vae, tmp_path):
    """Trained on 1 process, continued on 2 (the other way round, and a checkpoint of 8 processes resumed on 1,
    are in test_preemption.py)."""
    up = tmp_path / "up"
    assert cli.main(["train", "--out", str(up), "--model", "vae", "--epochs", "2", "--batch-size", "64",
                     *map(str, TRAIN)]) == 0  # in this process: one interpreter start fewer
    _ok(torchrun(2, "train", "--resume", up, "--epochs", "3"))
    assert [r["epoch"] for r in io.read_jsonl(up / "metrics.jsonl")] == [1, 2, 3]
    # epoch 3 of "up" ran on 2 processes from the 1-process epoch 2; its loss is that of the 2-process run's epoch 3
    assert _losses(up)[2] == pytest.approx(_losses(two_process_vae)[2], rel=2e-2)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_machines_by_rendezvous_on_localhost_match_two_processes_on_one(two_process_vae, tmp_path):
    run = tmp_path / "two-nodes"
    port = _free_port()
    nodes = []
    for node_rank in (0, 1):
        command = [sys.executable, "-m", "torch.distributed.run", "--nnodes=2", "--nproc-per-node=1",
                   f"--node-rank={node_rank}", "--rdzv-backend=c10d", f"--rdzv-endpoint=127.0.0.1:{port}",
                   "--rdzv-id=zspace-test", "-m", "zspace", "train", "--out", str(run), "--model", "vae",
                   "--epochs", "3", "--batch-size", "64", *TRAIN]
        # one core per "machine": one intra-op thread each, as the 2 processes of the one-machine run have
        core = {sorted(os.sched_getaffinity(0))[node_rank % len(os.sched_getaffinity(0))]}
        nodes.append(subprocess.Popen(command, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      text=True, preexec_fn=lambda core=core: os.sched_setaffinity(0, core)))
    outputs = [node.communicate(timeout=300)[0] for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], "\n".join(o[-3000:] for o in outputs)
    assert _same_weights(run, two_process_vae, 3)
    assert _losses(run) == _losses(two_process_vae)


def test_zspace_train_nproc_refuses_zero_processes(tmp_path, capsys):
    assert cli.main(["train", "--nproc", "0", "--out", str(tmp_path / "zero"), *map(str, TRAIN)]) == 2
    assert "--nproc 0 must be >= 1" in capsys.readouterr().err
    assert not (tmp_path / "zero").exists()

def test_two_tasks_started_as_srun_starts_them_form_one_job_equal_to_torchrun(two_process_vae, tmp_path):
    """srun without torchrun: each task has SLURM's variables only (MASTER_ADDR 127.0.0.1, as a one-node job
    could give); they form one 2-process job, not two racing trainings."""
    run = tmp_path / "srun"
    slurm = {"SLURM_JOB_ID": "4242", "SLURM_STEP_ID": "0", "SLURM_NTASKS": "2", "SLURM_STEP_NUM_TASKS": "2",
             "SLURM_NODEID": "0", "SLURM_STEP_TASKS_PER_NODE": "2", "SLURM_STEP_NODELIST": "localhost",
             "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port())}
    tasks = []
    for rank in (0, 1):
        env = {k: v for k, v in _env(**slurm, SLURM_PROCID=str(rank), SLURM_LOCALID=str(rank)).items()
               if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "TORCHELASTIC_RUN_ID")}
        tasks.append(subprocess.Popen([sys.executable, "-m", "zspace", "train", "--out", str(run), "--model", "vae",
                                       "--epochs", "3", "--batch-size", "64", *TRAIN], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = [task.communicate(timeout=300)[0] for task in tasks]
    assert [task.returncode for task in tasks] == [0, 0], "\n".join(o[-3000:] for o in outputs)
    assert [r["epoch"] for r in io.read_jsonl(run / "metrics.jsonl")] == [1, 2, 3]  # one writer, one job
    assert sum(o.count("trained ") for o in outputs) == 1
    assert _same_weights(run, two_process_vae, 3)
    assert _losses(run) == _losses(two_process_vae)
