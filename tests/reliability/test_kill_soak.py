"""Kill soak: ``zspace train`` killed with SIGKILL again and again, resumed after each kill.

Kills land at the named kill points of :mod:`zspace.core.faults` (inside a
batch, between the metrics line and the checkpoint, after a checkpoint's files
are written but before its directory is renamed, between the rename and
``latest.json``, half-way through pruning) and at random wall-clock moments.
After every kill the run directory is checked: each checkpoint a later command
would use verifies, and metrics.jsonl never runs ahead of the checkpoints by
more than the one epoch that resume drops. The final weights must be
bit-identical to an uninterrupted run's.

CI runs 7 kills, one at each kind of point; ``ZSPACE_SOAK_KILLS=20`` (or more) runs the full soak.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from safetensors.torch import load_file

from zspace.core import faults, io
from zspace.pipeline import checkpoint

N_TRAIN, BATCH = 256, 64
BATCHES_PER_EPOCH = N_TRAIN // BATCH
#: kill point -> hits of it per remaining epoch
POINTS = {"batch": BATCHES_PER_EPOCH, "epoch.metrics": 1, "checkpoint.files": 1, "checkpoint.renamed": 1,
          "checkpoint.latest": 1, "checkpoint.prune": 1}
#: every kind of kill; CI kills once at each
POINTS_AND_TIME = [*POINTS, "time"]
N_KILLS = int(os.environ.get("ZSPACE_SOAK_KILLS", str(len(POINTS_AND_TIME))))
#: a kill advances the run by at most two epochs (see _soak), so this many epochs outlast every kill
EPOCHS = 2 * N_KILLS + 6
TRAIN_ARGS = ["--data", "shapes", "--model", "ae", "--z-dim", "4", "--filters", "8,16", "--epochs", str(EPOCHS),
              "--batch-size", str(BATCH), "--n-train", str(N_TRAIN), "--n-val", "64", "--seed", "3",
              "--keep-every", "0", "--device", "cpu"]


def _launch(run: Path, kill_at: str | None) -> subprocess.Popen:
    argv = ["--resume", str(run)] if (run / "config.json").exists() else ["--out", str(run), *TRAIN_ARGS]
    env = {**os.environ, "ZSPACE_PROGRESS": "0"}
    env.pop(faults.ENV, None)
    if kill_at:
        env[faults.ENV] = kill_at
    return subprocess.Popen([sys.executable, "-m", "zspace", "train", *argv], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


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


def _soak(run: Path, n_kills: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    order = list(POINTS_AND_TIME)
    rng.shuffle(order)
    done_kills: list[str] = []
    while len(done_kills) < n_kills:
        remaining = EPOCHS - _done_epochs(run)
        assert remaining > 0, f"the run finished after {len(done_kills)} kills; raise EPOCHS"
        point = order[len(done_kills)] if len(done_kills) < len(order) else str(rng.choice(order))
        if point == "time":
            proc = _launch(run, None)
            time.sleep(float(rng.uniform(1.5, 2.5)))  # start-up takes ~1.6 s, an epoch ~0.12 s
            proc.kill()
            proc.communicate()
            spec = "time"
        else:
            hits = min(POINTS[point] * remaining, 2 * POINTS[point])  # small counts: many kills fit in one run
            spec = f"{point}:{int(rng.integers(1, hits + 1))}"
            proc = _launch(run, spec)
            output = proc.communicate()[0]
            assert proc.returncode == -9, f"{spec} did not kill (exit {proc.returncode}):\n{output}"
        done_kills.append(spec)
        _check_nothing_is_trusted_wrongly(run)
    final = _launch(run, None)
    output = final.communicate()[0]
    assert final.returncode == 0, output
    return done_kills


def _final_weights(run: Path) -> dict:
    return load_file(str(run / "checkpoints" / checkpoint.epoch_dir_name(EPOCHS) / "model.safetensors"))


def test_kill_soak_ends_bit_identical_to_an_uninterrupted_run(tmp_path):
    n_kills = N_KILLS
    reference = tmp_path / "reference"
    proc = _launch(reference, None)
    assert proc.wait() == 0
    run = tmp_path / "killed"
    kills = _soak(run, n_kills, seed=int(os.environ.get("ZSPACE_SOAK_SEED", "0")))
    print(f"kill soak: {len(kills)} kills survived: {', '.join(kills)}")
    assert len(kills) == n_kills
    theirs, ours = _final_weights(reference), _final_weights(run)
    assert theirs.keys() == ours.keys() and all(ours[k].equal(theirs[k]) for k in theirs)
    drop = ("seconds", "images_per_s")
    clean = [{k: v for k, v in r.items() if k not in drop} for r in io.read_jsonl(reference / "metrics.jsonl")]
    killed = [{k: v for k, v in r.items() if k not in drop} for r in io.read_jsonl(run / "metrics.jsonl")]
    assert killed == clean
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


def _zspace(*argv, kill_at: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "ZSPACE_PROGRESS": "0"}
    env.pop(faults.ENV, None)
    if kill_at:
        env[faults.ENV] = kill_at
    return subprocess.run([sys.executable, "-m", "zspace", *map(str, argv)], env=env, capture_output=True, text=True)


def test_killed_encode_and_analyze_leave_nothing_taken_for_complete(tmp_path, train_tiny, tmp_path_factory):
    import json

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
