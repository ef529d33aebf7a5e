"""Kill soak: ``zspace train`` killed with SIGKILL again and again, resumed after each kill.

Kills land at the named kill points of :mod:`zspace.core.faults` (inside a
batch, between the metrics line and the checkpoint, after a checkpoint's files
are written but before its directory is renamed, between the rename and
``latest.json``, half-way through pruning) and at random moments of training.
A random kill waits for the command's second ``epoch N/M`` line (written after
that epoch's checkpoint; the first epoch of a process is slowed by warm-up, so
the second is the one timed), then waits a random part of the time the second
epoch took, or until the next epoch's line if that comes first, and kills: the
kill falls anywhere in the command's third epoch (a batch, the validation, the
checkpoint), however fast or slow the machine is at the time. Every kill must
land during training: exit status -9 (our SIGKILL), no ``trained`` line, the
last epoch not reached. After every kill the run directory is checked: each checkpoint a later
command would use verifies, and metrics.jsonl never runs ahead of the
checkpoints by more than the one epoch that resume drops. The end must be
bit-identical to an uninterrupted run's: the model weights,
``state.safetensors`` (Adam's moments and step counts, every RNG state),
``state.json`` and every metrics line but its timings.

CI kills 11 times: once at each named point and 5 times at random moments, in
an order, with hit counts and with delays drawn from a base seed that is new on
every run and printed; each kill has a seed of its own, named in any failure.
``ZSPACE_SOAK_SEED=N`` replays a run: the same kills in the same order, a
random moment at the same fraction of its epoch (which need not be the same
instant of the code). ``ZSPACE_SOAK_KILLS=25`` (or more) runs the full soak.
The commands are forks of one warm process (:mod:`launcher`): a kill costs a
fraction of a second instead of the ~8 s of ``python -m zspace``'s imports.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from launcher import Command, WarmLauncher
from safetensors.torch import load_file

from zspace.core import faults, io
from zspace.pipeline import checkpoint

N_TRAIN, BATCH = 256, 64
BATCHES_PER_EPOCH = N_TRAIN // BATCH
#: kill point -> hits of it per remaining epoch
POINTS = {"batch": BATCHES_PER_EPOCH, "epoch.metrics": 1, "checkpoint.files": 1, "checkpoint.renamed": 1,
          "checkpoint.latest": 1, "checkpoint.prune": 1}
#: kills at random moments of training per CI run
N_RANDOM = 5
#: the kills of a CI run: each named point once, and N_RANDOM random moments ("time")
KINDS = [*POINTS, *["time"] * N_RANDOM]
N_KILLS = int(os.environ.get("ZSPACE_SOAK_KILLS", str(len(KINDS))))
#: a kill advances the run by three epochs at most (a named one by two), so this many epochs outlast every kill
EPOCHS = 3 * N_KILLS + 4
TRAIN_ARGS = ["--data", "shapes", "--model", "ae", "--z-dim", "4", "--filters", "8,16", "--epochs", str(EPOCHS),
              "--batch-size", str(BATCH), "--n-train", str(N_TRAIN), "--n-val", "64", "--seed", "3",
              "--keep-every", "0", "--device", "cpu"]
#: the log line after each epoch's checkpoint: a random kill's delay starts at the second of a command
EPOCH_DONE = "zspace: epoch "
#: the line `zspace train` prints when it has finished
FINISHED = "trained "
#: fields of a metrics line that measure time, which differs between any two runs
TIMINGS = ("seconds", "images_per_s")


@pytest.fixture(name="launcher", scope="module")
def launcher_fixture(tmp_path_factory):
    """The :class:`launcher.WarmLauncher` of this module's commands (their logs in a temporary directory)."""
    with WarmLauncher(tmp_path_factory.mktemp("command-logs")) as launcher:
        yield launcher


def _start(launcher: WarmLauncher, argv: list, kill_at: str | None = None) -> Command:
    """``zspace ARGV`` without progress bars, killing itself at ``kill_at`` (faults.ENV) when given."""
    return launcher.start(argv, {faults.ENV: kill_at, "ZSPACE_PROGRESS": "0"})


def _launch(launcher: WarmLauncher, run: Path, kill_at: str | None = None) -> Command:
    argv = ["--resume", run] if (run / "config.json").exists() else ["--out", run, *TRAIN_ARGS]
    return _start(launcher, ["train", *argv], kill_at)


def _done_epochs(run: Path) -> int:
    return checkpoint.latest_epoch(run / "checkpoints") or 0 if (run / "checkpoints").exists() else 0


def _check_nothing_is_trusted_wrongly(run: Path) -> None:
    ckpts = run / "checkpoints"
    if not (run / "config.json").exists():
        return
    epochs = checkpoint.list_epochs(ckpts) if ckpts.exists() else []
    for epoch in epochs:  # every checkpoint a later command can pick verifies
        checkpoint.verify_checkpoint(ckpts, epoch)
    latest = checkpoint.latest_epoch(ckpts) if ckpts.exists() else None
    # latest.json points at a complete checkpoint: the newest, or the one before when the kill fell between
    # the rename of the newest and the pointer (resume then trains that epoch again)
    assert latest == (epochs[-1] if epochs else None) or (latest in epochs and latest == epochs[-1] - 1)
    metric_epochs = [r["epoch"] for r in io.read_jsonl(run / "metrics.jsonl") if "event" not in r]
    done = latest or 0
    # the lines of epochs 1..done, plus at most one line of an epoch whose checkpoint did not land (resume drops it)
    assert metric_epochs[:done] == list(range(1, done + 1))
    assert len(metric_epochs) - done in (0, 1) and metric_epochs == list(range(1, len(metric_epochs) + 1))


def _base_seed() -> int:
    """``ZSPACE_SOAK_SEED``, or a new seed on every run."""
    given = os.environ.get("ZSPACE_SOAK_SEED")
    return int(given) if given else int.from_bytes(os.urandom(4), "little")


def _plan(base: int, n_kills: int) -> list[tuple[str, int]]:
    """(kind, seed) of each kill: KINDS shuffled, then kinds drawn from KINDS; a seed of its own per kill."""
    rng = np.random.default_rng(base)
    kinds = [str(k) for k in rng.permutation(KINDS)]
    kinds += [str(rng.choice(KINDS)) for _ in range(n_kills - len(kinds))]
    seeds = [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(base).spawn(n_kills)]
    return list(zip(kinds, seeds))


def _kill_once(launcher: WarmLauncher, run: Path, kind: str, seed: int) -> str:
    """Start ``zspace train`` on ``run`` and kill it during training (at a named point or a random moment).

    Returns what the kill was, e.g. ``checkpoint.files:2`` or ``time+0.034s/0.061s`` (when it fell after
    the second epoch line / the time the second epoch took), with the epochs it found and left (``@3->6``).
    """
    rng = np.random.default_rng(seed)
    before = _done_epochs(run)
    remaining = EPOCHS - before
    assert remaining > 3, "too few epochs are left for this kill; raise EPOCHS"
    if kind == "time":
        command = _launch(launcher, run)
        assert command.wait_for_line(EPOCH_DONE, 1), f"ended before its first epoch:\n{command.output()}"
        began = time.monotonic()
        assert command.wait_for_line(EPOCH_DONE, 2), f"ended before its second epoch:\n{command.output()}"
        second = time.monotonic()
        deadline = second + float(rng.uniform(0.0, second - began))
        # the random moment, or the end of the third epoch if the machine got faster: never after the run's end
        while time.monotonic() < deadline and command.lines_with(EPOCH_DONE) < 3:
            time.sleep(0.002)
        command.kill()
        spec = f"time+{time.monotonic() - second:.3f}s/{second - began:.3f}s"
    else:
        hits = min(POINTS[kind] * remaining, 2 * POINTS[kind])  # small counts: many kills fit in one run
        spec = f"{kind}:{int(rng.integers(1, hits + 1))}"
        command = _launch(launcher, run, spec)
    status, output, after = command.wait(), command.output(), _done_epochs(run)
    # killed by SIGKILL, not ended by itself: before the end of training (and, above, after its beginning)
    assert status == -9 and FINISHED not in output and after < EPOCHS, \
        f"{spec} did not land during training (exit {status}, epoch {after} of {EPOCHS}):\n{output}"
    return f"{spec}@{before}->{after}"


def _soak(launcher: WarmLauncher, run: Path, base: int, n_kills: int) -> list[str]:
    plan = _plan(base, n_kills)
    done_kills: list[str] = []
    for number, (kind, seed) in enumerate(plan, 1):
        try:
            done_kills.append(_kill_once(launcher, run, kind, seed))
            _check_nothing_is_trusted_wrongly(run)
        except AssertionError as exc:
            raise AssertionError(f"kill {number} of {n_kills} ({kind}, seed {seed}; the soak replays with "
                                 f"ZSPACE_SOAK_SEED={base}), after {', '.join(done_kills) or 'none'}: {exc}") from exc
    final = _launch(launcher, run)
    assert final.wait() == 0, f"the last resume (ZSPACE_SOAK_SEED={base}) failed:\n{final.output()}"
    return done_kills


def _last_checkpoint(run: Path) -> tuple[dict, dict, dict]:
    """(model tensors, state tensors, state.json) of the run's checkpoint of epoch EPOCHS."""
    d = run / "checkpoints" / checkpoint.epoch_dir_name(EPOCHS)
    return (load_file(str(d / "model.safetensors")), load_file(str(d / "state.safetensors")),
            json.loads((d / "state.json").read_text()))


def _not_bit_identical(ours: dict, theirs: dict) -> list[str]:
    """Names of the tensors missing on one side or differing in dtype, shape or any bit."""
    def bits(t: torch.Tensor) -> tuple:
        return t.dtype, tuple(t.shape), t.detach().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()

    return sorted(name for name in set(ours) | set(theirs)
                  if name not in ours or name not in theirs or bits(ours[name]) != bits(theirs[name]))


@pytest.mark.timeout(600 + 60 * N_KILLS)  # a hang fails; a slow machine does not (~20 s on 2 idle cores)
def test_kill_soak_ends_bit_identical_to_an_uninterrupted_run(tmp_path, launcher):
    base = _base_seed()
    print(f"kill soak: ZSPACE_SOAK_SEED={base}, {N_KILLS} kills, {EPOCHS} epochs")
    reference = _launch(launcher, tmp_path / "reference")
    assert reference.wait() == 0, reference.output()
    run = tmp_path / "killed"
    kills = _soak(launcher, run, base, N_KILLS)
    print(f"kill soak (ZSPACE_SOAK_SEED={base}): {len(kills)} kills survived: {', '.join(kills)}")
    assert len(kills) == N_KILLS and sum(k.startswith("time+") for k in kills) >= min(N_RANDOM, N_KILLS - len(POINTS))
    model, state, meta = _last_checkpoint(run)
    model_ref, state_ref, meta_ref = _last_checkpoint(tmp_path / "reference")
    # what the comparison covers: Adam's moments and step counts for every parameter, every generator's state
    assert {k.rsplit(".", 1)[1] for k in state_ref if k.startswith("optim.")} == {"exp_avg", "exp_avg_sq", "step"}
    assert {"rng.torch_cpu", "rng.numpy_keys", "rng.python"} <= set(state_ref)
    assert _not_bit_identical(model, model_ref) == []
    assert _not_bit_identical(state, state_ref) == []
    assert meta == meta_ref  # epoch, trainer state (lr, best loss), optimizer scalars, and both files' hashes
    clean, killed = ([{k: v for k, v in r.items() if k not in TIMINGS} for r in io.read_jsonl(d / "metrics.jsonl")]
                     for d in (tmp_path / "reference", run))
    assert len(clean) == EPOCHS and killed == clean
    assert not [p for p in (run / "checkpoints").iterdir() if p.name.startswith(".")]  # temporaries cleaned


@pytest.mark.parametrize("point", ["cache.chunk"])
def test_a_killed_cache_build_is_never_taken_for_complete(tmp_path, point):
    from PIL import Image

    source = tmp_path / "images"
    source.mkdir()
    rng = np.random.default_rng(1)
    for i in range(600):  # three chunks of decoding
        Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(source / f"{i:03d}.png")
    code = ("import sys, numpy as np; from zspace.data import load_images; "
            "np.save(sys.argv[1], np.asarray(load_images(f'folder:{sys.argv[2]}', 'all', image_size=8).images))")
    env = {**os.environ, "ZSPACE_PROGRESS": "0", "ZSPACE_CACHE": str(tmp_path / "cache")}
    killed = subprocess.run([sys.executable, "-c", code, str(tmp_path / "a.npy"), str(source)],
                            env={**env, faults.ENV: f"{point}:2"}, capture_output=True, text=True)
    assert killed.returncode == -9, killed.stderr
    assert not list((tmp_path / "cache").rglob("meta.json"))  # nothing says "complete"
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "b.npy"), str(source)], env=env, check=True)
    images = np.load(tmp_path / "b.npy")
    expected = np.stack([np.asarray(Image.open(source / f"{i:03d}.png"))[..., None] for i in range(600)])
    assert images.shape == (600, 8, 8, 1)
    assert np.array_equal(np.sort(images.reshape(600, -1), axis=0), np.sort(expected.reshape(600, -1), axis=0))


def test_killed_encode_and_analyze_leave_nothing_taken_for_complete(tmp_path, train_tiny, tmp_path_factory,
                                                                   launcher):
    def _zspace(*argv, kill_at: str | None = None) -> Command:
        command = _start(launcher, list(argv), kill_at)
        command.wait()
        return command

    run = train_tiny(tmp_path_factory, "vae")
    z_path = tmp_path / "z.npz"
    killed = _zspace("encode", run, "--out", z_path, "--batch-size", "16", kill_at="encode.batch:3")
    assert killed.returncode == -9
    assert not z_path.exists()  # no Z file, and no --force needed to write it now
    assert _zspace("encode", run, "--out", z_path, "--batch-size", "16").returncode == 0
    assert _zspace("encode", run, "--out", tmp_path / "clean.npz").returncode == 0
    with np.load(z_path) as ours, np.load(tmp_path / "clean.npz") as theirs:
        assert np.array_equal(ours["index"], theirs["index"])
        assert np.allclose(ours["mu"], theirs["mu"], atol=1e-5)

    analysis = tmp_path / "analysis"
    only = "axes,radius,inertia,vae"
    killed = _zspace("analyze", z_path, "--out", analysis, "--only", only, "--no-figures",
                     kill_at="battery.analysis:2")
    assert killed.returncode == -9
    partial = json.loads((analysis / "analysis.json").read_text())
    assert partial["complete"] is False and len(partial["analyses"]) == 2  # says it is partial
    assert _zspace("analyze", z_path, "--out", analysis, "--only", only, "--no-figures").returncode == 0
    assert _zspace("analyze", z_path, "--out", tmp_path / "clean", "--only", only, "--no-figures").returncode == 0
    redone, clean = (json.loads((d / "analysis.json").read_text()) for d in (analysis, tmp_path / "clean"))
    assert redone["complete"] is True and redone["headlines"] == clean["headlines"]
    assert redone["analyses"] == clean["analyses"]
