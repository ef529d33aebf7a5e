"""Training: config, data, model, optimiser, loop, validation, checkpoint, resume.

Reads top to bottom like nanoGPT's ``train.py``. One epoch is: shuffle with a
generator seeded from (seed, epoch); step through batches; validate on the
held-out split with the RNG forked (validation draws never change training);
check for divergence; checkpoint; append to ``metrics.jsonl``.

Divergence guard: an epoch whose mean training loss is NaN/inf, or larger than
``divergence_factor`` times the best epoch so far, is discarded. The last good
checkpoint (weights, optimizer, RNG) is restored, the learning rate is
multiplied by ``lr_backoff`` and the epoch is run again; the event is logged in
``metrics.jsonl`` as ``{"event": "divergence", ...}``. After
``max_recoveries`` such events training stops with an error.
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

from zspace import checkpoint, io, rng
from zspace.batches import epoch_order, iterate_batches, to_tensor
from zspace.data import ImageSet, load_images
from zspace.device import amp_dtype, select_device, use_all_cores
from zspace.errors import ZspaceError, require
from zspace.log import get_logger
from zspace.losses import RECONSTRUCTION_LOSSES, kl_loss, reconstruction_loss
from zspace.models import Autoencoder, ModelConfig, build_model
from zspace.progress import progress
from zspace.run import Run, config_path, open_run

log = get_logger(__name__)


@dataclass
class TrainConfig:
    """Options of a training run (defaults from SPEC section 3).

    Parameters
    ----------
    data : str, default "shapes"
        Data spec (see :func:`zspace.data.load_images`).
    epochs : int, default 24
        Total number of epochs (SPEC: 24 for CelebA, 40 for MNIST).
    batch_size : int, default 128
    lr : float, default 5e-4
        Adam learning rate.
    loss : {"bce", "mse"}, default "bce"
        Reconstruction loss, summed over the pixels of an image.
    fact : float, default 1.0
        KL weight of a VAE: total = reco + fact * KL (1e-5 "tiny KL"; ~5 works for CelebA).
    seed : int, default 0
        Seeds weight init, shuffling, VAE sampling and the data split.
    device : str, default "auto"
        auto | cpu | cuda | cuda:N | mps.
    amp : bool, default False
        Mixed precision (bfloat16/float16 autocast) on CUDA; ignored elsewhere.
    channels_last : bool, default True
        NHWC memory format for images and weights (tensor cores on CUDA; oneDNN's
        preferred layout on CPU).
    keep_every : int, default 5
        Keep the checkpoint of every k-th epoch besides the latest (0: latest only).
    n_train, n_val : int or None
        Cap on the number of training / validation images (quick runs).
    image_size : int or None
        Resize target for folder/CelebA sources (their default when None).
    divergence_factor : float, default 1.5
        An epoch loss above this factor times the best so far counts as divergence.
    lr_backoff : float, default 0.5
        Learning-rate multiplier applied after a divergence.
    max_recoveries : int, default 3
        Divergences tolerated before training stops.
    """

    data: str = "shapes"
    epochs: int = 24
    batch_size: int = 128
    lr: float = 5e-4
    loss: str = "bce"
    fact: float = 1.0
    seed: int = 0
    device: str = "auto"
    amp: bool = False
    channels_last: bool = True
    keep_every: int = 5
    n_train: int | None = None
    n_val: int | None = None
    image_size: int | None = None
    divergence_factor: float = 1.5
    lr_backoff: float = 0.5
    max_recoveries: int = 3

    def validate(self) -> None:
        require(self.epochs >= 1, f"--epochs {self.epochs} must be >= 1")
        require(self.batch_size >= 1, f"--batch-size {self.batch_size} must be >= 1")
        require(self.lr > 0, f"--lr {self.lr} must be > 0")
        require(self.loss in RECONSTRUCTION_LOSSES, f"--loss {self.loss!r} is unknown; use one of {', '.join(RECONSTRUCTION_LOSSES)}")
        require(self.fact >= 0, f"--fact {self.fact} must be >= 0")
        require(self.keep_every >= 0, f"--keep-every {self.keep_every} must be >= 0")
        require(self.divergence_factor > 1, f"divergence_factor {self.divergence_factor} must be > 1")
        require(0 < self.lr_backoff < 1, f"lr_backoff {self.lr_backoff} must be in (0, 1)")

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass
class EpochMetrics:
    """Mean losses of one pass (nats per image): total = reco + fact * kl."""

    total: float
    reco: float
    kl: float


@dataclass
class TrainResult:
    run: Run
    last_epoch: int
    history: list[dict[str, Any]]


def load_split(config: TrainConfig, split: str) -> ImageSet:
    """The training ("train") or validation ("test") images of ``config.data``."""
    n = config.n_train if split == "train" else config.n_val
    return load_images(config.data, split, image_size=config.image_size, seed=config.seed, n=n)


def _loss_terms(model: Autoencoder, x: torch.Tensor, config: TrainConfig, autocast_dtype) -> tuple[torch.Tensor, ...]:
    with torch.autocast(device_type=x.device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
        logits, enc = model(x)
    reco = reconstruction_loss(logits, x, config.loss)
    kl = kl_loss(enc.mu, enc.logvar) if enc.mu is not None else torch.zeros((), device=x.device)
    return reco + config.fact * kl, reco, kl


@torch.no_grad()
def evaluate(model: Autoencoder, images: np.ndarray, config: TrainConfig, device: torch.device,
             autocast_dtype=None) -> EpochMetrics:
    """Mean losses over ``images`` (uint8 N,H,W,C) in eval mode; the global RNG is left untouched."""
    was_training = model.training
    model.eval()
    sums = torch.zeros(3, dtype=torch.float64)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(config.seed)
        for _, batch in iterate_batches(images, config.batch_size):
            x = to_tensor(batch, device, config.channels_last)
            terms = _loss_terms(model, x, config, autocast_dtype)
            sums += torch.stack([t.detach().double().cpu() for t in terms]) * len(batch)
    model.train(was_training)
    total, reco, kl = (sums / max(len(images), 1)).tolist()
    return EpochMetrics(total, reco, kl)


def _train_epoch(model, optimizer, scaler, images, config: TrainConfig, epoch: int, device, autocast_dtype) -> EpochMetrics:
    model.train()
    order = epoch_order(len(images), config.seed, epoch)
    sums = torch.zeros(3, dtype=torch.float64, device=device)
    steps = math.ceil(len(images) / config.batch_size)
    bar = progress(total=steps, desc=f"epoch {epoch}/{config.epochs}", unit="batch", leave=False)
    for step, (_, batch) in enumerate(iterate_batches(images, config.batch_size, order)):
        x = to_tensor(batch, device, config.channels_last)
        total, reco, kl = _loss_terms(model, x, config, autocast_dtype)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(total).backward()
        scaler.step(optimizer)
        scaler.update()
        sums += torch.stack([total.detach(), reco.detach(), kl.detach()]).double() * len(batch)
        bar.update(1)
        if step % 20 == 0:
            seen = min((step + 1) * config.batch_size, len(images))
            mean_total = (sums[0] / seen).item()
            bar.set_postfix(loss=f"{mean_total:.4g}")
            if not math.isfinite(mean_total):
                break  # the epoch is lost anyway; let the divergence guard handle it
    bar.close()
    total, reco, kl = (sums.cpu() / len(images)).tolist()
    return EpochMetrics(total, reco, kl)


def _diverged(metrics: EpochMetrics, best: float | None, factor: float) -> str | None:
    if not math.isfinite(metrics.total):
        return f"loss is {metrics.total}"
    if best is not None and metrics.total > factor * best:
        return f"loss {metrics.total:.6g} > {factor} x best {best:.6g}"
    return None


def _set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def _write_skipped(root: Path, *sets: ImageSet) -> None:
    # both splits come from one source and report the same unreadable files
    skipped = list(dict.fromkeys(s for data in sets for s in data.skipped))
    if skipped:
        io.write_text(root / "skipped.txt", "\n".join(skipped) + "\n")
        log.warning(f"{len(skipped)} unreadable input files were skipped; listed in {root / 'skipped.txt'}")


def train(train_config: TrainConfig, model_config: ModelConfig, out: str | Path) -> TrainResult:
    """Train a new run into ``out`` (which must not hold a run already).

    ``model_config.input_shape`` is replaced by the shape of the data.
    """
    out = Path(out)
    if config_path(out).exists():
        raise ZspaceError(f"{out} already holds a run; continue it with: zspace train --resume {out} "
                          f"(or choose another --out)")
    train_config.validate()
    train_set = load_split(train_config, "train")
    model_config = dataclasses.replace(model_config, input_shape=train_set.images.shape[1:])
    io.write_json(config_path(out), {
        "model": model_config.to_dict(),
        "train": dataclasses.asdict(train_config),
        "data": {"spec": train_config.data, "image_shape": list(train_set.images.shape[1:]),
                 "n_train": len(train_set.images), "factor_names": train_set.factor_names,
                 "class_names": train_set.class_names},
    })
    return _fit(open_run(out), start_epoch=0, train_set=train_set)


def resume(run_dir: str | Path, from_epoch: int | None = None, epochs: int | None = None) -> TrainResult:
    """Continue ``run_dir`` from ``from_epoch`` (default: latest checkpoint) up to ``epochs``.

    Metrics of epochs after ``from_epoch`` are dropped from metrics.jsonl
    (rewritten atomically), since those epochs are trained again.
    """
    run = open_run(run_dir)
    start = run.latest_epoch() if from_epoch is None else from_epoch
    if start is None:
        raise ZspaceError(f"run {run.root} has no checkpoint to resume from; start it again with zspace train")
    if epochs is not None:
        run.config["train"]["epochs"] = int(epochs)
        io.write_json(config_path(run.root), run.config)
    kept = [r for r in run.metrics() if r.get("epoch", 0) <= start]
    io.write_text(run.metrics_path, "".join(io.json_line(r) for r in kept))
    return _fit(run, start_epoch=start)


def _fit(run: Run, start_epoch: int, train_set: ImageSet | None = None) -> TrainResult:
    # --- config, device ---------------------------------------------------------
    config = TrainConfig.from_dict(run.config["train"])
    config.validate()
    model_config = run.model_config
    device = select_device(config.device)
    if device.type == "cpu":
        use_all_cores()
    else:
        torch.backends.cudnn.benchmark = True  # fastest kernels; bit-identical resume is promised on CPU only
    autocast_dtype = amp_dtype(device) if config.amp else None
    if config.amp and autocast_dtype is None:
        log.warning(f"--amp has no effect on {device.type}; training in float32")

    # --- data -------------------------------------------------------------------
    train_set = train_set or load_split(config, "train")
    val_set = load_split(config, "test")
    require(tuple(train_set.images.shape[1:]) == tuple(model_config.input_shape),
            f"data {config.data} has images of shape {train_set.images.shape[1:]} but run {run.root} was "
            f"trained on {tuple(model_config.input_shape)}; use the same --data and image size")
    _write_skipped(run.root, train_set, val_set)

    # --- model and optimiser ------------------------------------------------------
    rng.seed_everything(config.seed)
    model = build_model(model_config).to(device)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    scaler = torch.amp.GradScaler(device.type, enabled=autocast_dtype == torch.float16)
    state: dict[str, Any] = {"best_loss": None, "lr": config.lr, "recoveries": 0}
    initial_weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
    initial_rng = rng.get_state()

    def restore(epoch: int) -> None:
        if epoch == 0:  # diverged before the first checkpoint: back to the seeded initialisation
            model.load_state_dict(initial_weights)
            optimizer.state.clear()
            rng.set_state(initial_rng)
            return
        ckpt = checkpoint.load_checkpoint(run.checkpoints_dir, epoch, model_config)
        model.load_state_dict(ckpt.model_state)
        if ckpt.optimizer_state is not None:
            optimizer.load_state_dict(ckpt.optimizer_state)
        if ckpt.rng_state is not None:
            rng.set_state(ckpt.rng_state)
        state.update(ckpt.trainer_state)

    if start_epoch > 0:
        restore(start_epoch)
        log.info(f"resuming {run.root} after epoch {start_epoch}")

    # --- loop -------------------------------------------------------------------
    history = [r for r in run.metrics() if "epoch" in r and "event" not in r]
    epoch = start_epoch + 1
    epochs_bar = progress(total=config.epochs, desc=f"training {model_config.kind}", unit="epoch")
    epochs_bar.update(start_epoch)
    while epoch <= config.epochs:
        t0 = time.perf_counter()
        train_metrics = _train_epoch(model, optimizer, scaler, train_set.images, config, epoch, device, autocast_dtype)
        seconds = time.perf_counter() - t0
        reason = _diverged(train_metrics, state["best_loss"], config.divergence_factor)
        if reason is not None:
            epoch = _recover(run, config, state, optimizer, restore, epoch, reason)
            continue
        val_metrics = evaluate(model, val_set.images, config, device, autocast_dtype)
        state["best_loss"] = min(train_metrics.total, state["best_loss"] or math.inf)
        record = {"epoch": epoch, "train": dataclasses.asdict(train_metrics), "val": dataclasses.asdict(val_metrics),
                  "lr": state["lr"], "seconds": seconds, "images_per_s": len(train_set.images) / seconds}
        checkpoint.save_checkpoint(run.checkpoints_dir, epoch, model, model_config, optimizer, dict(state))
        checkpoint.prune_checkpoints(run.checkpoints_dir, config.keep_every, keep={epoch})
        io.append_jsonl(run.metrics_path, record)
        history.append(record)
        epochs_bar.update(1)
        log.info(f"epoch {epoch}/{config.epochs}  train total {train_metrics.total:.2f} reco {train_metrics.reco:.2f} "
                 f"kl {train_metrics.kl:.3f} | val total {val_metrics.total:.2f} | {record['images_per_s']:.0f} img/s")
        epoch += 1
    epochs_bar.close()
    return TrainResult(run=run, last_epoch=config.epochs, history=history)


def _recover(run: Run, config: TrainConfig, state: dict, optimizer, restore, epoch: int, reason: str) -> int:
    """Handle a diverged ``epoch``: restore the last good checkpoint, lower lr; return the epoch to run next."""
    recoveries = int(state.get("recoveries", 0)) + 1
    if recoveries > config.max_recoveries:
        raise ZspaceError(f"training of {run.root} diverged at epoch {epoch} ({reason}) after {config.max_recoveries} "
                          f"recoveries; resume with a lower --lr from an earlier epoch (zspace train --resume {run.root} "
                          f"--from-epoch N)")
    good = run.latest_epoch() or 0
    new_lr = state["lr"] * config.lr_backoff
    restore(good)
    state["lr"], state["recoveries"] = new_lr, recoveries
    _set_lr(optimizer, new_lr)
    event = {"event": "divergence", "epoch": epoch, "reason": reason, "restored_epoch": good, "new_lr": new_lr}
    io.append_jsonl(run.metrics_path, event)
    log.warning(f"epoch {epoch} diverged ({reason}); restored epoch {good}, lr -> {new_lr:g}")
    return good + 1
