"""Checkpoints inside an epoch, stop signals, auto-resume and saved generator and scaler states, on one process.

The stop signals are real: the trainer's fault point sends SIGTERM to this very process (``ZSPACE_KILL_SIGNAL``),
the way SLURM signals a job before its time limit. The 2-process, torchrun-restart and srun cases are in
test_distributed.py.
"""

from __future__ import annotations

import json
import logging

import pytest
import torch
from safetensors.torch import load_file

from zspace import cli
from zspace.core import faults, io, rng
from zspace.core.errors import Preempted, ZspaceError
from zspace.pipeline import checkpoint
from zspace.pipeline.interrupts import CheckpointEvery
from zspace.pipeline.precision import Precision
from zspace.pipeline.run import open_run
from zspace.pipeline.train import Trainer, resume

from tiny_runs import train_tiny

#: the run of tiny_runs.tiny_configs("vae", epochs=3) as a command line: 4 batches an epoch
ARGV = ["train", "--model", "vae", "--z-dim", "4", "--filters", "8,16", "--data", "shapes", "--epochs", "3",
        "--batch-size", "64", "--n-train", "256", "--n-val", "64", "--seed", "3", "--keep-every", "1",
        "--device", "cpu"]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    return train_tiny(tmp_path_factory, "vae", epochs=3)


def _same_run(a, b) -> None:
    """Every epoch's weights bit-identical and the same losses in metrics.jsonl."""
    for epoch in (1, 2, 3):
        wa, wb = (load_file(str(r / "checkpoints" / checkpoint.epoch_dir_name(epoch) / "model.safetensors"))
                  for r in (a, b))
        assert wa.keys() == wb.keys() and all(wa[k].equal(wb[k]) for k in wa), epoch
    losses = [[(r["train"], r["val"]) for r in io.read_jsonl(run / "metrics.jsonl")] for run in (a, b)]
    assert losses[0] == losses[1]


@pytest.mark.parametrize("sent, hit, inside, logged", [
    ("TERM", 6, (2, 2), [1]),   # after the 2nd of 4 batches of epoch 2: a checkpoint inside the epoch
    ("TERM", 8, None, [1, 2]),  # at the last batch of epoch 2: the epoch ends and its own checkpoint is the stop
    ("INT", 6, (2, 2), [1]),    # the first Ctrl-C: the same, ending as an interrupt
])
def test_a_stop_signal_checkpoints_and_the_same_command_ends_bit_identical(sent, hit, inside, logged, uninterrupted,
                                                                           tmp_path, monkeypatch, capsys, caplog):
    argv = [*ARGV, "--out", str(tmp_path / "vae")]
    monkeypatch.setenv(faults.ENV, f"batch:{hit}")
    monkeypatch.setenv(faults.SIGNAL_ENV, sent)
    monkeypatch.setattr(faults, "_hits", {})
    status = cli.main(argv)
    err = capsys.readouterr().err
    if sent == "TERM":
        assert status == Preempted.EXIT_STATUS == 75
        assert "SIGTERM received" in err and "continue with the same command" in err
    else:
        assert status == 130 and "zspace: interrupted" in err and "Traceback" not in err
        assert f"interrupted in epoch 2; the last complete checkpoint is epoch 1; continue with: zspace train " \
               f"--resume {tmp_path / 'vae'}" in caplog.text
    run = tmp_path / "vae"
    assert [r["epoch"] for r in io.read_jsonl(run / "metrics.jsonl")] == logged
    assert checkpoint.in_epoch_position(run / "checkpoints") == inside
    monkeypatch.delenv(faults.ENV)
    assert cli.main(argv) == 0  # the same command continues the run
    assert not (run / "checkpoints" / checkpoint.IN_EPOCH_DIR).exists()
    _same_run(run, uninterrupted)


def test_checkpoints_every_n_steps_do_not_change_the_run(uninterrupted, tmp_path, tiny_configs, monkeypatch):
    from zspace.pipeline.train import train

    written = []
    real = checkpoint.save_checkpoint
    monkeypatch.setattr(checkpoint, "save_checkpoint",
                        lambda *a, **k: written.append((a[1], k.get("step", 0))) or real(*a, **k))
    train(*tiny_configs("vae", epochs=3, checkpoint_every="3"), tmp_path / "r")
    # global steps 3, 6, 9 fall inside epochs 1, 2, 3 (4 steps each); 12 is the end of epoch 3
    assert written == [(1, 3), (1, 0), (2, 2), (2, 0), (3, 1), (3, 0)]
    _same_run(tmp_path / "r", uninterrupted)


def test_checkpoint_every_reads_steps_and_times():
    assert CheckpointEvery.parse("500") == CheckpointEvery(steps=500)
    assert CheckpointEvery.parse("10min") == CheckpointEvery(seconds=600.0)
    assert CheckpointEvery.parse("2h") == CheckpointEvery(seconds=7200.0)
    assert CheckpointEvery.parse("30s") == CheckpointEvery(seconds=30.0)
    assert CheckpointEvery.parse(None) is None
    every = CheckpointEvery.parse("10min")
    assert not every.due(7, since=100.0, now=699.0) and every.due(7, since=100.0, now=700.0)
    assert CheckpointEvery(steps=4).due(8, 0, 0) and not CheckpointEvery(steps=4).due(9, 0, 0)
    for bad in ("0", "1.5", "soon", "-3s", "0min"):
        with pytest.raises(ZspaceError, match="--checkpoint-every"):
            CheckpointEvery.parse(bad)


def test_a_cuda_generator_state_is_picked_by_device_number_not_by_name():
    legacy = {f"torch_cuda_{i}": torch.full((16,), i, dtype=torch.uint8) for i in range(12)}
    assert sorted(legacy)[2] == "torch_cuda_10"  # the old restore's order would give device 2 this state
    assert int(rng.cuda_state_of(legacy, 10)[0]) == 10 and int(rng.cuda_state_of(legacy, 2)[0]) == 2
    assert rng.cuda_state_of(legacy, 12) is None  # resumed on a 13th GPU: nothing to restore, no error
    own = torch.full((16,), 99, dtype=torch.uint8)
    assert rng.cuda_state_of({**legacy, "torch_cuda": own}, 3) is own  # the current format: this process's own


def test_a_checkpoint_inside_an_epoch_from_8_gpus_resumes_on_1_cpu_process(tmp_path, train_tiny,
                                                                          tmp_path_factory, caplog):
    run_dir = train_tiny(tmp_path_factory, "vae", epochs=1)
    run = open_run(run_dir)
    trainer = Trainer(run.train_config, run.model_config, torch.device("cpu"), run=run)
    trainer.restore(1)
    eight = [{**rng.get_state(), **{f"torch_cuda_{i}": torch.zeros(16, dtype=torch.uint8) for i in range(8)},
              "sums": torch.tensor([900.0, 880.0, 20.0], dtype=torch.float64)} for _ in range(8)]
    checkpoint.save_checkpoint(run.checkpoints_dir, 2, trainer.model, run.model_config, trainer.optimizer,
                               trainer.state.to_dict(), step=2, rank_states=eight)
    with caplog.at_level(logging.WARNING):
        resume(run_dir, epochs=2)
    assert "written by 8 processes, this run has 1" in caplog.text
    records = io.read_jsonl(run_dir / "metrics.jsonl")
    assert [r["epoch"] for r in records] == [1, 2]
    # epoch 2's mean counts the 8 saved parts' sums (2 x 8 x 900 over 256 images would be far above a real loss)
    assert records[1]["train"]["total"] > 8 * 900.0 / 256


def test_the_gradient_scaler_state_is_saved_and_restored(tmp_path_factory, train_tiny):
    run = open_run(train_tiny(tmp_path_factory, "ae", epochs=1))
    fp16 = Precision("fp16", "cpu")
    scaled = {"scale": 512.0, "growth_factor": 2.0, "backoff_factor": 0.5, "growth_interval": 2000,
              "_growth_tracker": 7}
    writer = Trainer(run.train_config, run.model_config, torch.device("cpu"), precision=fp16, run=run)
    writer.scaler.load_state_dict(scaled)
    writer.save(1)
    reader = Trainer(run.train_config, run.model_config, torch.device("cpu"), precision=fp16, run=run)
    assert reader.scaler.state_dict() != scaled
    reader.restore(1)
    assert reader.scaler.state_dict() == scaled
    assert json.loads((run.checkpoints_dir / "epoch_0001" / "state.json").read_text())["trainer_state"][
        "grad_scaler"]["scale"] == 512.0
