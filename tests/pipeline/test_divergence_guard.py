"""The divergence guard, proved with a fault that really wrecks the training state, on 1 and on 2 processes.

The fault (:class:`Spy`, test-only: it monkeypatches the :class:`Trainer`) makes the first attempt at
epoch 2 of a tiny VAE really go wrong, in one of two ways:

* ``"inf"``: the loss of the epoch's 2nd step is multiplied by inf. Its gradient is inf/NaN, Adam's step
  turns every weight and both moments NaN, and the epoch's mean loss is NaN (the NaN rule);
* ``"spike"``: every step's loss is multiplied by 1e6. The epoch trains (weights move, Adam's second
  moments grow ~1e12 times too large) and its mean loss is ~1e6 x the best (the ``divergence_factor`` rule).

Either way the faulty attempt also draws from Python's and numpy's generators and advances torch's, so
that weights, optimizer state and every RNG stream differ from checkpoint 1 when the guard steps in.

Two proofs, each of which fails if any part of the state is not restored:

1. a spy captures the trainer's state when epoch 1 is checkpointed, and before and right after the guard's
   restore: after == at the checkpoint, bit for bit (every weight and buffer, Adam's moments and step
   count, the param groups, all four RNG streams, the trainer state), while before the restore the
   weights, optimizer and each RNG stream differed;
2. the guarded run ends bit-identical (weights, optimizer and RNG tensors of every checkpoint, every
   loss in metrics.jsonl) to a run in which the fault never happened and lr was halved before epoch 2.
   If the Adam moments or step count were not restored, the weights of epochs 2 and 3 would differ.

On 2 processes (torchrun, gloo, CPU) this module is itself the worker script: run as ``__main__`` it
trains the reference run and then the guarded run in the same two processes (one torchrun start
instead of two) and writes each process's spy record to ``spy-rank<R>.json``.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from zspace.core import dist, faults, io, rng
from zspace.pipeline import checkpoint
from zspace.pipeline.processes import Distributed
from zspace.pipeline.train import Trainer, train

FAULTY_EPOCH = 2  # its first attempt is wrecked; checkpoint 1 is the last good one
FAULTS = ("inf", "spike")
REFERENCE = "reference"  # no fault; lr multiplied by lr_backoff before epoch 2, as the guard does
LR = 5e-4  # tiny_configs' learning rate (the TrainConfig default)


def guard_configs():
    """A tiny VAE for 3 epochs of 4 steps (128 images, batches of 32), from :func:`tiny_runs.tiny_configs`."""
    from tiny_runs import tiny_configs  # tests/ is on the path (pytest's pythonpath; PYTHONPATH for torchrun)

    return tiny_configs("vae", epochs=3, n_train=128, n_val=32, batch_size=32)


def _digest(value) -> str:
    """sha256 of a tensor's dtype, shape and bytes (bit-exact, NaN included), or of another value as JSON
    (a checkpoint stores Adam's ``betas`` tuple as a JSON list; floats round-trip JSON exactly)."""
    if isinstance(value, torch.Tensor):
        t = value.detach().cpu().contiguous()
        return hashlib.sha256(f"{t.dtype}{tuple(t.shape)}".encode() + t.view(-1).view(torch.uint8).numpy().tobytes()
                              ).hexdigest()
    return hashlib.sha256(json.dumps(io.to_jsonable(value), sort_keys=True).encode()).hexdigest()


def snapshot(trainer: Trainer) -> dict[str, dict[str, str]]:
    """The trainer's whole state as {part: {name: digest}}; parts "model" (weights and buffers),
    "optimizer" (Adam's per-parameter tensors and the param groups), "rng" (every generator) and "trainer"."""
    optimizer = trainer.optimizer.state_dict()
    optim = {f"{pid}.{name}": _digest(v) for pid, st in optimizer["state"].items() for name, v in st.items()}
    optim.update({f"group{i}.{k}": _digest(v) for i, g in enumerate(optimizer["param_groups"]) for k, v in g.items()})
    return {"model": {k: _digest(v) for k, v in trainer.model.state_dict().items()},
            "optimizer": optim,
            "rng": {k: _digest(v) for k, v in rng.get_state().items()},
            "trainer": {k: _digest(v) for k, v in trainer.state.to_dict().items()}}


class Spy:
    """The fault of this module and the spy that records the state at each save and around each restore.

    ``mode`` is one of :data:`FAULTS` or :data:`REFERENCE`. ``saved[epoch]`` is the snapshot taken as
    ``epoch`` is checkpointed; ``restores`` holds (epoch, snapshot before, snapshot after) per restore.
    """

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.attempts: dict[int, int] = {}
        self.faulty_steps = 0  # steps taken so far in the faulty attempt; 0 outside it
        self.in_fault = False
        self.saved: dict[int, dict] = {}
        self.restores: list[tuple[int, dict, dict]] = []

    def install(self, mp: pytest.MonkeyPatch) -> None:
        spy = self
        real_epoch, real_terms, real_save, real_restore = (Trainer.train_epoch, Trainer.loss_terms, Trainer.save,
                                                           Trainer.restore)

        def train_epoch(trainer, images, epoch):
            spy.attempts[epoch] = spy.attempts.get(epoch, 0) + 1
            first = epoch == FAULTY_EPOCH and spy.attempts[epoch] == 1
            if first and spy.mode == REFERENCE:
                trainer.set_lr(trainer.state.lr * trainer.config.lr_backoff)
            spy.in_fault = first and spy.mode in FAULTS
            if spy.in_fault:  # a fault that also moves the generators training itself never draws from
                random.random()
                np.random.rand()
            try:
                return real_epoch(trainer, images, epoch)
            finally:
                spy.in_fault = False

        def loss_terms(trainer, x, network=None):
            total, reco, kl = real_terms(trainer, x, network)
            if spy.in_fault:
                spy.faulty_steps += 1
                if spy.mode == "spike":
                    total = total * 1e6
                elif spy.faulty_steps == 2:
                    total = total * float("inf")
            return total, reco, kl

        def save(trainer, epoch):
            spy.saved[epoch] = snapshot(trainer)
            real_save(trainer, epoch)

        def restore(trainer, epoch):
            before = snapshot(trainer)
            real_restore(trainer, epoch)
            spy.restores.append((epoch, before, snapshot(trainer)))

        for name, f in (("train_epoch", train_epoch), ("loss_terms", loss_terms), ("save", save),
                        ("restore", restore)):
            mp.setattr(Trainer, name, f)


def train_spied(mode: str, configs, out: Path, keep_process_group: bool = False) -> Spy:
    """Train ``configs`` into ``out`` with the fault (or reference schedule) ``mode``; return its spy.

    ``keep_process_group``: leave the torchrun process group open at the end, for a second run in the
    same processes."""
    spy = Spy(mode)
    with pytest.MonkeyPatch.context() as mp:
        spy.install(mp)
        if keep_process_group:
            mp.setattr(Distributed, "close", lambda self: None)
        train(*configs, out)
    return spy


def _differing(a: dict[str, str], b: dict[str, str]) -> list[str]:
    return sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))


def check_restore_was_exact(restores: list, saved: dict[int, dict]) -> None:
    """One restore, of epoch 1, that changed the wrecked weights, optimizer and every RNG stream back to
    this process's own state when epoch 1 was saved, bit for bit."""
    assert [epoch for epoch, _, _ in restores] == [FAULTY_EPOCH - 1]
    _, before, after = restores[0]
    good = saved[FAULTY_EPOCH - 1]
    for part in ("model", "optimizer", "rng", "trainer"):
        missed = _differing(after[part], good[part])
        assert not missed, f"{part} not restored: {missed}"
    # the fault really changed the state: a guard that restored nothing would fail above
    assert _differing(before["model"], good["model"])
    assert _differing(before["optimizer"], good["optimizer"])
    assert {"torch_cpu", "python", "numpy_keys"} <= set(_differing(before["rng"], good["rng"]))


def check_matches_reference(run: Path, reference: Path, reason: str) -> None:
    """``run`` logged one divergence of epoch 2 and ends bit-identical to ``reference`` (no fault, lr halved)."""
    records = io.read_jsonl(run / "metrics.jsonl")
    events = [r for r in records if r.get("event")]
    assert len(events) == 1 and reason in events[0]["reason"], events
    assert {k: v for k, v in events[0].items() if k != "reason"} == {
        "event": "divergence", "epoch": FAULTY_EPOCH, "restored_epoch": FAULTY_EPOCH - 1, "new_lr": LR * 0.5}

    def kept(records):
        return [(r["epoch"], r["lr"], r["train"], r["val"]) for r in records if "event" not in r]

    assert kept(records) == kept(io.read_jsonl(reference / "metrics.jsonl"))
    assert [lr for _, lr, _, _ in kept(records)] == [LR, LR * 0.5, LR * 0.5]
    for epoch in (1, 2, 3):
        for name in ("model.safetensors", "state.safetensors"):  # weights; optimizer moments + step, RNG
            a, b = (load_file(str(r / "checkpoints" / checkpoint.epoch_dir_name(epoch) / name))
                    for r in (run, reference))
            assert a.keys() == b.keys()
            assert not [k for k in a if _digest(a[k]) != _digest(b[k])], (epoch, name)


REASONS = {"inf": "loss is nan", "spike": "> 1.5 x best"}


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    """The tiny VAE trained 3 epochs without a fault, lr halved before epoch 2."""
    out = tmp_path_factory.mktemp("guard") / "reference"
    train_spied(REFERENCE, guard_configs(), out)
    return out


@pytest.mark.parametrize("fault", FAULTS)
def test_guard_restores_the_exact_state_of_the_last_good_checkpoint(fault, reference_run, tmp_path):
    run = tmp_path / fault
    spy = train_spied(fault, guard_configs(), run)
    assert spy.attempts == {1: 1, 2: 2, 3: 1}
    check_restore_was_exact(spy.restores, spy.saved)
    check_matches_reference(run, reference_run, REASONS[fault])


# -- 2 processes -----------------------------------------------------------------------------------------


def test_guard_restores_the_exact_state_on_every_process(tmp_path):
    """Both processes restore checkpoint 1 exactly, and the run ends bit-identical to the 2-process reference.

    The checkpoint holds every process's own RNG state, and each process restores its own: rank 1's RNG
    after the restore equals rank 1's at the checkpoint, not rank 0's."""
    tests = Path(__file__).resolve().parents[1]
    env = {**os.environ, "ZSPACE_PROGRESS": "0", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(tests), os.environ.get("PYTHONPATH", "")])}
    env.pop(faults.ENV, None)
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
                           __file__, str(tmp_path), "inf"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    spies = [json.loads((tmp_path / f"spy-rank{r}.json").read_text()) for r in (0, 1)]
    for record in spies:
        check_restore_was_exact(record["restores"], {int(e): s for e, s in record["saved"].items()})
    assert spies[0]["saved"]["1"]["model"] == spies[1]["saved"]["1"]["model"]  # DDP: one model on both
    assert spies[0]["saved"]["1"]["rng"]["torch_cpu"] != spies[1]["saved"]["1"]["rng"]["torch_cpu"]  # own streams
    check_matches_reference(tmp_path / "inf", tmp_path / REFERENCE, REASONS["inf"])


def _worker(out: Path, fault: str) -> None:
    """One torchrun process: the reference run, then the guarded run with ``fault``; the spy record to a file."""
    configs = guard_configs()
    train_spied(REFERENCE, configs, out / REFERENCE, keep_process_group=True)
    spy = train_spied(fault, configs, out / fault)
    io.write_json(out / f"spy-rank{dist.rank()}.json", {"saved": spy.saved, "restores": spy.restores})


if __name__ == "__main__":
    _worker(Path(sys.argv[1]), sys.argv[2])
