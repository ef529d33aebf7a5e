"""Training: config, data, model, optimiser, loop, validation, checkpoint, resume.

Reads top to bottom like nanoGPT's ``train.py``: :func:`train` and
:func:`resume` open a run and call :func:`_fit`, whose loop drives a
:class:`Trainer` (model, optimiser, precision, process strategy and a typed
:class:`TrainerState`). One epoch is: shuffle with a
generator seeded from (seed, epoch); step through batches; validate on the
held-out split with the RNG forked (validation draws never change training);
check for divergence; checkpoint; append to ``metrics.jsonl``.

Interruptions (:mod:`zspace.pipeline.interrupts`): with ``--checkpoint-every``
the trainer also checkpoints inside an epoch (weights, optimizer, each
process's generators and loss sums, the position in the seeded order), and on
SIGTERM or SIGUSR1 it finishes the step it is in, writes that checkpoint and
raises :class:`~zspace.core.errors.Preempted` (the command line exits 75).
Starting the same command again (same ``--out``, same configuration) continues
from the newest checkpoint that verifies, inside an epoch or at its end; on
CPU the result is bit-identical to a run that was never interrupted. A
different configuration is refused, naming the options that differ.

Divergence guard: an epoch whose mean training loss is NaN/inf, or larger than
``divergence_factor`` times the best epoch so far, is discarded. The last good
checkpoint (weights, optimizer, RNG) is restored, the learning rate is
multiplied by ``lr_backoff`` and the epoch is run again; the event is logged in
``metrics.jsonl`` as ``{"event": "divergence", ...}``. After
``max_recoveries`` such events training stops with an error.

Two seams: the precision policy (:mod:`zspace.pipeline.precision`) decides the
autocast dtype and gradient scaling; the process strategy
(:mod:`zspace.pipeline.processes`) wraps the model, shards the epoch order,
reduces the loss sums and decides which process writes files.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from zspace.core import dist, faults, io, rng
from zspace.core.device import select_device, use_all_cores
from zspace.core.errors import Preempted, ZspaceError, require
from zspace.core.log import get_logger
from zspace.core.progress import progress
from zspace.data import ImageSet
from zspace.models import ModelConfig, build_model
from zspace.pipeline import checkpoint, tensorboard
from zspace.pipeline.batches import batch_indices, epoch_order, iterate_batches, iterate_index_batches, to_tensor
from zspace.pipeline.config import CONTINUABLE_FIELDS, TrainConfig
from zspace.pipeline.interrupts import CheckpointEvery, StopSignals
from zspace.pipeline.losses import kl_loss, reconstruction_loss
from zspace.pipeline.precision import Precision, resolve_precision
from zspace.pipeline.processes import ProcessStrategy, SingleProcess, process_device, process_strategy, shard_rows
from zspace.pipeline.run import RUN_FORMAT, Run, config_path, open_run
from zspace.pipeline.splits import load_split

log = get_logger(__name__)


@dataclass
class EpochMetrics:
    """Mean losses of one pass (nats per image): total = reco + fact * kl."""

    total: float
    reco: float
    kl: float


@dataclass
class TrainerState:
    """What the trainer carries from epoch to epoch, saved in every checkpoint's ``state.json``.

    Attributes
    ----------
    lr : float
        Current Adam learning rate (lowered by each divergence recovery).
    best_loss : float or None
        Lowest mean training loss of a kept epoch (nats per image), None before the first.
    recoveries : int
        Divergence recoveries so far.
    """

    lr: float
    best_loss: float | None = None
    recoveries: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"best_loss": self.best_loss, "lr": self.lr, "recoveries": self.recoveries}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainerState":
        return cls(lr=float(d["lr"]), best_loss=d.get("best_loss"), recoveries=int(d.get("recoveries", 0)))


@dataclass
class _InEpoch:
    """A resume point inside ``epoch``: ``step`` batches done, this process's loss sums (reco... float64 (3,))."""

    epoch: int
    step: int
    sums: torch.Tensor


@dataclass
class TrainResult:
    run: Run
    last_epoch: int
    history: list[dict[str, Any]]


class Trainer:
    """A model with its optimiser, precision, process strategy and state; one method per step of the loop.

    Building it seeds every generator with ``config.seed`` and then initialises
    the weights, so two trainers of the same config start identical.
    ``run`` is needed only by the steps that read or write checkpoints.
    """

    def __init__(self, config: TrainConfig, model_config: ModelConfig, device: torch.device,
                 precision: Precision | None = None, processes: ProcessStrategy | None = None,
                 run: Run | None = None) -> None:
        self.config, self.device, self.run = config, device, run
        self.precision = precision or Precision("fp32", device.type)
        self.processes = processes or SingleProcess()
        rng.seed_everything(config.seed)
        model = build_model(model_config).to(device)
        if config.channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.model = model
        self.network = self.processes.wrap(model)
        self.optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
        self.scaler = self.precision.grad_scaler()
        self.state = TrainerState(lr=config.lr)
        self.checkpoint_every = CheckpointEvery.parse(config.checkpoint_every)
        self.stop_signals: StopSignals | None = None  # set while _fit runs
        self.stop_requested = False  # every process agreed to stop (see _agree)
        self._last_checkpoint = time.monotonic()
        self._in_epoch: _InEpoch | None = None
        self._initial_weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
        self._initial_rng = rng.get_state()

    # -- one step, one epoch, one evaluation ---------------------------------------
    def loss_terms(self, x: torch.Tensor, network: torch.nn.Module | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(total, reco, kl) of a batch x (B, C, H, W), each a scalar tensor (nats per image).

        An empty batch (a process's empty part of a short last batch) gives zeros
        that are still connected to the graph, so its backward joins the others'.
        """
        with self.precision.autocast():
            logits, enc = (network or self.network)(x)
        if len(x) == 0:
            zero = logits.float().sum() * 0.0 + (enc.mu.float().sum() * 0.0 if enc.mu is not None else 0.0)
            return zero, zero, zero
        reco = reconstruction_loss(logits, x, self.config.loss)
        kl = kl_loss(enc.mu, enc.logvar) if enc.mu is not None else torch.zeros((), device=x.device)
        return reco + self.config.fact * kl, reco, kl

    def train_epoch(self, images: np.ndarray, epoch: int) -> EpochMetrics:
        """One pass over the seeded order of ``epoch``; mean losses over all processes.

        Each global batch of the order is split over the processes (see
        :mod:`zspace.pipeline.processes`); this process's VAE noise is drawn
        from torch's generator seeded by (seed, epoch, rank), so an epoch is
        the same whether it runs straight through or after a resume.
        """
        config, processes = self.config, self.processes
        self.model.train()
        batches = batch_indices(epoch_order(len(images), config.seed, epoch), config.batch_size)
        parts = [processes.split(b) for b in batches]
        first, sums = 0, torch.zeros(3, dtype=torch.float64, device=self.device)
        if self._in_epoch is not None and self._in_epoch.epoch == epoch:  # resumed inside this epoch: RNG restored
            first, sums = self._in_epoch.step, self._in_epoch.sums.to(self.device)
        else:
            torch.manual_seed(rng.stream_seed(config.seed, epoch, processes.rank))
        self._in_epoch = None
        bar = progress(total=len(batches), desc=f"epoch {epoch}/{config.epochs}", unit="batch", leave=False)
        bar.update(first)
        for step, (_, batch) in enumerate(iterate_index_batches(images, parts[first:]), start=first):
            x = to_tensor(batch, self.device, config.channels_last)
            total, reco, kl = self.loss_terms(x)
            # mean over this part -> its share of the mean over the global batch (DDP averages over processes)
            share = len(batch) * processes.world_size / len(batches[step])
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(total * share).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            sums += torch.stack([total.detach(), reco.detach(), kl.detach()]).double() * len(batch)
            bar.update(1)
            faults.point("batch")
            self._checkpoint_inside(epoch, step + 1, len(batches), sums)
            if step % 20 == 0:  # every process takes the same decision: the sums are reduced first
                seen = sum(len(b) for b in batches[:step + 1])
                mean_total = (processes.reduce_sum(sums)[0] / seen).item()
                bar.set_postfix(loss=f"{mean_total:.4g}")
                if not math.isfinite(mean_total):
                    break  # the epoch is lost anyway; let the divergence guard handle it
        bar.close()
        total, reco, kl = (processes.reduce_sum(sums).cpu() / len(images)).tolist()
        return EpochMetrics(total, reco, kl)

    @torch.no_grad()
    def evaluate(self, images: np.ndarray) -> EpochMetrics:
        """Mean losses over ``images`` (uint8 N,H,W,C) in eval mode, each process taking a contiguous share.

        The global RNG is left untouched.
        """
        was_training = self.model.training
        self.model.eval()
        sums = torch.zeros(3, dtype=torch.float64)
        share = np.arange(len(images))[shard_rows(len(images), self.processes)]
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            torch.manual_seed(rng.stream_seed(self.config.seed, 0, self.processes.rank))
            for _, batch in iterate_batches(images, self.config.batch_size, share):
                x = to_tensor(batch, self.device, self.config.channels_last)
                terms = self.loss_terms(x, network=self.model)  # no DDP: shares differ in batch count
                sums += torch.stack([t.detach().double().cpu() for t in terms]) * len(batch)
        self.model.train(was_training)
        total, reco, kl = (self.processes.reduce_sum(sums) / max(len(images), 1)).tolist()
        return EpochMetrics(total, reco, kl)

    # -- checkpoints inside an epoch, stop signals ----------------------------------
    def _agree(self, global_step: int) -> tuple[bool, bool]:
        """(stop, checkpoint due) after ``global_step``: the same answer on every process.

        Stop: a stop signal reached any process. Due: ``--checkpoint-every``
        (steps are counted alike everywhere; the clock is rank 0's). One
        all-reduce of two numbers per step when several processes train.
        """
        stop = self.stop_signals is not None and self.stop_signals.received is not None
        due = (self.checkpoint_every is not None and self.processes.is_writer
               and self.checkpoint_every.due(global_step, self._last_checkpoint, time.monotonic()))
        flags = torch.tensor([float(stop), float(due)], dtype=torch.float64)
        if self.processes.world_size > 1:
            flags = self.processes.reduce_sum(flags)
        return bool(flags[0] > 0), bool(flags[1] > 0)

    def _checkpoint_inside(self, epoch: int, done: int, steps: int, sums: torch.Tensor) -> None:
        """After batch ``done`` of ``steps`` in ``epoch``: checkpoint when due or asked to stop; raise
        :class:`Preempted` on a stop (at the epoch's last batch the epoch ends first, see :func:`_fit`)."""
        stop, due = self._agree((epoch - 1) * steps + done)
        if (stop or due) and done < steps:
            self.save(epoch, step=done, sums=sums)
        if stop:
            self.stop_requested = True
            if done < steps:
                raise Preempted(self.stopped_message(f"in epoch {epoch} after batch {done} of {steps}"))

    def stopped_message(self, where: str) -> str:
        signal_name = (self.stop_signals.received if self.stop_signals else None) or "a stop signal"
        return (f"{signal_name} received: stopped {where} and wrote a checkpoint; continue with the same command "
                f"(or zspace train --resume {self._run().root})")

    @property
    def resume_point(self) -> _InEpoch | None:
        """Where inside an epoch the next :meth:`train_epoch` starts (None: at its beginning)."""
        return self._in_epoch

    def stop_agreed(self) -> bool:
        """Whether any process was asked to stop (every process must call this at the same point)."""
        self.stop_requested = self.stop_requested or self._agree(0)[0]
        return self.stop_requested

    # -- checkpoints and recovery -------------------------------------------------
    def _run(self) -> Run:
        require(self.run is not None, "this trainer has no run directory; pass run= to read or write checkpoints")
        return self.run  # type: ignore[return-value]

    def save(self, epoch: int, step: int = 0, sums: torch.Tensor | None = None) -> None:
        """Checkpoint the end of ``epoch`` (``step`` 0; old ones pruned) or ``step`` batches into it, with
        ``sums`` this process's loss sums so far. Every process sends its own generators (and sums); the
        writer process writes."""
        run = self._run()
        own = rng.get_state()
        if sums is not None:
            own["sums"] = sums.detach().double().cpu()
        states = self.processes.gather(own)
        if self.processes.is_writer:
            trainer_state = self.state.to_dict()
            if self.scaler.is_enabled():
                trainer_state["grad_scaler"] = self.scaler.state_dict()
            checkpoint.save_checkpoint(run.checkpoints_dir, epoch, self.model, run.model_config, self.optimizer,
                                       trainer_state, step=step, rank_states=states)
            if step == 0:
                checkpoint.prune_checkpoints(run.checkpoints_dir, self.config.keep_every, keep={epoch})
                checkpoint.remove_in_epoch(run.checkpoints_dir)
        self.processes.barrier()
        self._last_checkpoint = time.monotonic()

    def _load(self, ckpt: checkpoint.Checkpoint) -> None:
        self.model.load_state_dict(ckpt.model_state)
        if ckpt.optimizer_state is not None:
            self.optimizer.load_state_dict(ckpt.optimizer_state)
        if ckpt.trainer_state:
            self.state = TrainerState.from_dict(ckpt.trainer_state)
            if self.scaler.is_enabled() and ckpt.trainer_state.get("grad_scaler"):
                self.scaler.load_state_dict(ckpt.trainer_state["grad_scaler"])
        own = ckpt.rank_states.get(self.processes.rank) if ckpt.world_size == self.processes.world_size else None
        if own is not None:
            rng.set_state(own)
        elif ckpt.rng_state is not None:
            rng.set_state(ckpt.rng_state)

    def restore_in_epoch(self) -> int:
        """Continue from the checkpoint inside an epoch; return the number of epochs completed before it.

        On the number of processes that wrote it each process gets its own
        generators and loss sums back, and the run goes on as if never stopped.
        On another number it goes on with freshly seeded generators (a warning
        says the result will differ from an uninterrupted run).
        """
        ckpt = checkpoint.load_in_epoch(self._run().checkpoints_dir, self._run().model_config)
        self._load(ckpt)
        rank, world = self.processes.rank, self.processes.world_size
        if ckpt.world_size == world and "sums" in ckpt.rank_states.get(rank, {}):
            sums = ckpt.rank_states[rank]["sums"]
        else:
            log.warning(f"the checkpoint inside epoch {ckpt.epoch} was written by {ckpt.world_size} processes, "
                        f"this run has {world}: it continues, but not bit-identically to an uninterrupted run")
            torch.manual_seed(rng.stream_seed(self.config.seed, ckpt.epoch, rank, ckpt.step))
            total = sum((s["sums"] for s in ckpt.rank_states.values() if "sums" in s), torch.zeros(3, dtype=torch.float64))
            sums = total if rank == 0 else torch.zeros(3, dtype=torch.float64)
        self._in_epoch = _InEpoch(ckpt.epoch, ckpt.step, sums.double())
        return ckpt.epoch - 1

    def restore(self, epoch: int) -> None:
        """Weights, optimizer, RNG and state of checkpoint ``epoch``; epoch 0 is the seeded initialisation."""
        if epoch == 0:  # diverged before the first checkpoint: back to the seeded initialisation
            self.model.load_state_dict(self._initial_weights)
            self.optimizer.state.clear()
            rng.set_state(self._initial_rng)
            return
        run = self._run()
        self._load(checkpoint.load_checkpoint(run.checkpoints_dir, epoch, run.model_config))

    def set_lr(self, lr: float) -> None:
        self.state.lr = lr
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def recover(self, epoch: int, reason: str) -> int:
        """Handle a diverged ``epoch``: restore the last good checkpoint, lower lr; return the epoch to run next."""
        run, config = self._run(), self.config
        recoveries = self.state.recoveries + 1
        if recoveries > config.max_recoveries:
            raise ZspaceError(f"training of {run.root} diverged at epoch {epoch} ({reason}) after "
                              f"{config.max_recoveries} recoveries; resume with a lower --lr from an earlier epoch "
                              f"(zspace train --resume {run.root} --from-epoch N)")
        good = checkpoint.newest_verified_epoch(run.checkpoints_dir) or 0
        new_lr = self.state.lr * config.lr_backoff
        self.restore(good)
        self.state.recoveries = recoveries
        self.set_lr(new_lr)
        if self.processes.is_writer:
            checkpoint.remove_in_epoch(run.checkpoints_dir)  # its weights and lr are from before the divergence
            io.append_jsonl(run.metrics_path, {"event": "divergence", "epoch": epoch, "reason": reason,
                                               "restored_epoch": good, "new_lr": new_lr})
        log.warning(f"epoch {epoch} diverged ({reason}); restored epoch {good}, lr -> {new_lr:g}")
        return good + 1


def diverged(metrics: EpochMetrics, best: float | None, factor: float) -> str | None:
    """Why an epoch counts as diverged (NaN/inf, or above ``factor`` x the best loss), None when it does not."""
    if not math.isfinite(metrics.total):
        return f"loss is {metrics.total}"
    if best is not None and metrics.total > factor * best:
        return f"loss {metrics.total:.6g} > {factor} x best {best:.6g}"
    return None


def _write_skipped(run: Run, *sets: ImageSet) -> None:
    # both splits come from one source and report the same unreadable files
    skipped = list(dict.fromkeys(s for data in sets for s in data.skipped))
    if skipped:
        io.write_text(run.layout.skipped, "\n".join(skipped) + "\n")
        log.warning(f"{len(skipped)} unreadable input files were skipped; listed in {run.layout.skipped}")


def _config_differences(run: Run, train_config: TrainConfig, model_config: ModelConfig) -> list[str]:
    """The options in which a new run's configuration differs from ``run``'s ("train.lr: 0.001 here, 0.0005 in
    the run"); the continuable options and the data's image shape are not compared."""
    mine = {"model": {k: v for k, v in model_config.to_dict().items() if k != "input_shape"},
            "train": {k: v for k, v in train_config.to_dict().items() if k not in CONTINUABLE_FIELDS}}
    theirs = {"model": {k: v for k, v in run.model_config.to_dict().items() if k != "input_shape"},
              "train": {k: v for k, v in run.train_config.to_dict().items() if k not in CONTINUABLE_FIELDS}}
    return [f"{section}.{key}: {mine[section].get(key)!r} here, {theirs[section].get(key)!r} in the run"
            for section in mine for key in sorted(set(mine[section]) | set(theirs[section]))
            if mine[section].get(key) != theirs[section].get(key)]


def train(train_config: TrainConfig, model_config: ModelConfig, out: str | Path) -> TrainResult:
    """Train a new run into ``out``, or continue the run already there when its configuration is this one.

    A run in ``out`` with the same configuration (the options of
    :data:`~zspace.pipeline.config.CONTINUABLE_FIELDS` may differ) continues
    from its newest checkpoint that verifies, as :func:`resume` does: a job
    that a scheduler or ``torchrun --max-restarts`` starts again finishes by
    itself. Another configuration is refused with the options that differ.
    ``model_config.input_shape`` is replaced by the shape of the data. Every
    check (config, data of both splits, precision) runs before the first file
    is written.
    """
    out = Path(out)
    train_config.validate()
    if config_path(out).exists():
        existing = open_run(out)
        differences = _config_differences(existing, train_config, model_config)
        if differences:
            raise ZspaceError(f"{out} already holds a run with another configuration ({'; '.join(differences)}); "
                              f"continue it with: zspace train --resume {out}, or choose another --out")
        log.info(f"{out} already holds this run; continuing it from its newest checkpoint")
        return resume(out, **{k: getattr(train_config, k) for k in CONTINUABLE_FIELDS})
    train_set = load_split(train_config, "train", n=train_config.n_train)
    model_config = dataclasses.replace(model_config, input_shape=train_set.images.shape[1:])
    run = Run(root=out, config={
        "format": RUN_FORMAT,
        "model": model_config.to_dict(),
        "train": dataclasses.asdict(train_config),
        "data": {"spec": train_config.data, "image_shape": list(train_set.images.shape[1:]),
                 "n_train": len(train_set.images), "factor_names": train_set.factor_names,
                 "class_names": train_set.class_names},
    })
    session = _prepare(run, start_epoch=0, train_set=train_set)
    session.processes.barrier()  # every process checked that no run is there before the writer makes one
    if session.processes.is_writer:
        io.write_json(config_path(out), run.config)
    session.processes.barrier()
    return _fit(session)


def resume(run_dir: str | Path, from_epoch: int | None = None, epochs: int | None = None,
           tensorboard: bool | None = None, checkpoint_every: str | None = None) -> TrainResult:
    """Continue ``run_dir`` from ``from_epoch`` (default: the newest checkpoint that verifies, inside an epoch
    or at its end) up to ``epochs``.

    ``epochs``, ``tensorboard`` and ``checkpoint_every``, when given, replace
    the run's own and are written into its config.json (the other options of
    a run stay as they were).

    Metrics of epochs after ``from_epoch`` are dropped from metrics.jsonl
    (rewritten atomically), since those epochs are trained again. A run killed
    before its first checkpoint starts again from epoch 0. Every check (the
    checkpoint's hashes and tensors, the data, the new config) runs before the
    first write: a resume that cannot start changes no file.
    """
    run = open_run(run_dir)
    if from_epoch is None:
        start = checkpoint.newest_verified_epoch(run.checkpoints_dir)
        if start is None and checkpoint.list_epochs(run.checkpoints_dir):
            raise ZspaceError(f"no checkpoint of run {run.root} passes its content check (see the warnings above); "
                              f"train it again with zspace train --out NEW_DIR")
        start = start or 0
        inside = checkpoint.in_epoch_position(run.checkpoints_dir)
        in_epoch = inside is not None and inside[0] > start
        if not in_epoch and start == 0:
            log.info(f"run {run.root} has no checkpoint yet; training it from epoch 0")
    else:
        start, in_epoch = from_epoch, False
        checkpoint.require_epoch(run.checkpoints_dir, start)
    given = {"epochs": epochs, "tensorboard": tensorboard, "checkpoint_every": checkpoint_every}
    changes = {k: v for k, v in given.items() if v is not None and v != run.train_config.to_dict().get(k)}
    if changes:  # the only options a resumed run may change: how far it goes, and what it logs
        config = TrainConfig.from_dict({**run.config["train"], **changes})
        config.validate()
        run.config["train"] = config.to_dict()
    session = _prepare(run, start_epoch=start, in_epoch=in_epoch)
    start = session.start_epoch
    kept = [r for r in run.metrics() if r.get("epoch", 0) <= start]
    session.processes.barrier()  # every process read the run before the writer changes it
    if session.processes.is_writer:
        checkpoint.remove_stale_temporaries(run.checkpoints_dir)
        if not in_epoch:  # one left from an epoch before the one resumed would be stale
            checkpoint.remove_in_epoch(run.checkpoints_dir)
        if changes:
            io.write_json(config_path(run.root), run.config)
        io.write_text(run.metrics_path, "".join(io.json_line(r) for r in kept))
    session.processes.barrier()
    return _fit(session)


@dataclass
class _Session:
    """Everything a training loop needs, built and checked before any file is written."""

    run: Run
    trainer: Trainer
    train_set: ImageSet
    val_set: ImageSet
    start_epoch: int

    @property
    def processes(self) -> ProcessStrategy:
        return self.trainer.processes


def _prepare(run: Run, start_epoch: int, train_set: ImageSet | None = None, in_epoch: bool = False) -> _Session:
    # --- config, device, precision, processes -------------------------------------
    config = run.train_config
    model_config = run.model_config
    if config.tensorboard:
        tensorboard.require_tensorboard("zspace train --tensorboard")
    device = process_device(select_device(config.device))
    if device.type == "cpu":
        use_all_cores(share_with=dist.local_world_size())
    else:
        torch.backends.cudnn.benchmark = True  # fastest kernels; bit-identical resume is promised on CPU only
    precision = resolve_precision(device, config.precision, model_config)

    # --- data (before the process group forms: a cold image cache may take longer than its timeout) ---------
    train_set = train_set or load_split(config, "train", n=config.n_train)
    val_set = load_split(config, "test", n=config.n_val)
    require(len(train_set.images) > 0 and len(val_set.images) > 0,
            f"data {config.data} gives {len(train_set.images)} training and {len(val_set.images)} validation images; "
            f"training needs both (use a larger data set, or raise --n-train / --n-val)")
    require(tuple(train_set.images.shape[1:]) == tuple(model_config.input_shape),
            f"data {config.data} has images of shape {train_set.images.shape[1:]} but run {run.root} was "
            f"trained on {tuple(model_config.input_shape)}; use the same --data and image size")

    # --- processes, model, optimiser, state ---------------------------------------
    processes = process_strategy(device)
    trainer = Trainer(config, model_config, device, precision, processes, run=run)
    if in_epoch:
        start_epoch = trainer.restore_in_epoch()
    elif start_epoch > 0:
        trainer.restore(start_epoch)
    return _Session(run, trainer, train_set, val_set, start_epoch)


def _log_interrupt(run: Run, epoch: int) -> None:
    last = run.latest_epoch()
    log.warning(f"interrupted in epoch {epoch}; " + (
        f"the last complete checkpoint is epoch {last}; continue with: zspace train --resume {run.root}"
        if last else f"no epoch was completed; start again with: zspace train --resume {run.root}"))


def _fit(session: _Session) -> TrainResult:
    run, trainer, train_set, val_set = session.run, session.trainer, session.train_set, session.val_set
    config, model_config, processes = trainer.config, trainer.model.config, trainer.processes
    resumed = trainer.resume_point
    log.info(f"training on {trainer.device} in {trainer.precision.name}"
             + (f", resuming {run.root} in epoch {resumed.epoch} after batch {resumed.step}" if resumed else
                f", resuming {run.root} after epoch {session.start_epoch}" if session.start_epoch else ""))
    if processes.is_writer:
        _write_skipped(run, train_set, val_set)

    # --- loop -------------------------------------------------------------------
    history = [r for r in run.metrics() if "epoch" in r and "event" not in r]
    epoch = session.start_epoch + 1
    epochs_bar = progress(total=config.epochs, desc=f"training {model_config.kind}", unit="epoch")
    epochs_bar.update(session.start_epoch)
    board = tensorboard.open_training_board(run.root, config, trainer.model, val_set.images, session.start_epoch,
                                            processes.is_writer)
    try:
        with StopSignals() as trainer.stop_signals:  # SIGTERM/SIGUSR1: checkpoint, then Preempted
            while epoch <= config.epochs:
                t0 = time.perf_counter()
                train_metrics = trainer.train_epoch(train_set.images, epoch)
                seconds = time.perf_counter() - t0
                reason = diverged(train_metrics, trainer.state.best_loss, config.divergence_factor)
                if reason is not None:
                    epoch = trainer.recover(epoch, reason)
                    continue
                val_metrics = trainer.evaluate(val_set.images)
                trainer.state.best_loss = min(train_metrics.total, trainer.state.best_loss or math.inf)
                record = {"epoch": epoch, "train": dataclasses.asdict(train_metrics),
                          "val": dataclasses.asdict(val_metrics), "lr": trainer.state.lr, "seconds": seconds,
                          "images_per_s": len(train_set.images) / seconds, "precision": trainer.precision.name}
                # metrics first: a kill before the checkpoint lands makes resume drop this line and redo the epoch
                if processes.is_writer:
                    io.append_jsonl(run.metrics_path, record)
                faults.point("epoch.metrics")
                trainer.save(epoch)
                board.log_epoch(record, trainer.model)
                history.append(record)
                epochs_bar.update(1)
                log.info(f"epoch {epoch}/{config.epochs}  train total {train_metrics.total:.2f} "
                         f"reco {train_metrics.reco:.2f} kl {train_metrics.kl:.3f} | val total {val_metrics.total:.2f} | "
                         f"{record['images_per_s']:.0f} img/s")
                if epoch < config.epochs and trainer.stop_agreed():
                    raise Preempted(trainer.stopped_message(f"after epoch {epoch}"))
                epoch += 1
    except Preempted as exc:
        processes.close()
        if trainer.stop_signals is not None and trainer.stop_signals.received == "SIGINT":  # Ctrl-C: an interrupt
            _log_interrupt(run, epoch)
            raise KeyboardInterrupt from None
        log.warning(str(exc))
        raise
    except io.WriteError as exc:
        raise io.WriteError(f"{exc}; then continue with: zspace train --resume {run.root}") from exc.__cause__
    except KeyboardInterrupt:
        _log_interrupt(run, epoch)
        raise
    finally:
        trainer.stop_signals = None
        epochs_bar.close()
        board.close()
    processes.close()
    return TrainResult(run=run, last_epoch=config.epochs, history=history)


__all__ = ["TrainConfig", "EpochMetrics", "TrainerState", "Trainer", "TrainResult", "diverged", "train", "resume"]
