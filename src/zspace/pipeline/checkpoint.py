"""Checkpoints as safetensors + JSON, written atomically; never pickle.

Layout of one checkpoint directory (``RUN_DIR/checkpoints/epoch_0007``)::

    model.safetensors   model weights and buffers (state_dict keys)
    state.safetensors   optimizer tensors ("optim.<param>.<name>") and RNG states ("rng.<name>")
    state.json          epoch, optimizer hyper-parameters, trainer state, model-config fingerprint

The directory is built under a temporary name and renamed into place
(:func:`zspace.core.io.atomic_dir`), then ``checkpoints/latest.json`` is replaced
atomically to point at it. A crash at any moment leaves either the previous
checkpoint or the new one as "latest", never a torn one.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from zspace.core import io, rng
from zspace.core.errors import ZspaceError
from zspace.models import ModelConfig

#: model-config fields that may change after training without invalidating weights
_MUTABLE_FIELDS = ("eps_factor",)


def config_fingerprint(config: ModelConfig) -> str:
    """Short hash of the weight-relevant model configuration."""
    d = {k: v for k, v in config.to_dict().items() if k not in _MUTABLE_FIELDS}
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


def epoch_dir_name(epoch: int) -> str:
    return f"epoch_{epoch:04d}"


@dataclass
class Checkpoint:
    """What a checkpoint restores: weights, optimizer state, RNG state and trainer state."""

    epoch: int
    model_state: dict[str, torch.Tensor]
    optimizer_state: dict[str, Any] | None
    rng_state: dict[str, torch.Tensor] | None
    trainer_state: dict[str, Any] = field(default_factory=dict)


def _flatten_optimizer(state_dict: dict) -> tuple[dict[str, torch.Tensor], dict]:
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for pid, pstate in state_dict["state"].items():
        for name, value in pstate.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{pid}.{name}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(pid), {})[name] = value
    return tensors, {"param_groups": state_dict["param_groups"], "scalars": scalars}


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, pid, name = key.split(".", 2)
            state.setdefault(int(pid), {})[name] = value
    for pid, values in meta["scalars"].items():
        state.setdefault(int(pid), {}).update(values)
    return {"state": state, "param_groups": meta["param_groups"]}


def save_checkpoint(checkpoints_dir: Path, epoch: int, model: torch.nn.Module, config: ModelConfig,
                    optimizer: torch.optim.Optimizer | None, trainer_state: dict | None = None) -> Path:
    """Write checkpoint ``epoch`` atomically and point ``latest.json`` at it; return its directory."""
    checkpoints_dir = Path(checkpoints_dir)
    target = checkpoints_dir / epoch_dir_name(epoch)
    model_tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    state_tensors = {f"rng.{k}": v.contiguous() for k, v in rng.get_state().items()}
    optim_meta = None
    if optimizer is not None:
        optim_tensors, optim_meta = _flatten_optimizer(optimizer.state_dict())
        state_tensors.update(optim_tensors)
    meta = {"epoch": epoch, "config_fingerprint": config_fingerprint(config), "model_config": config.to_dict(),
            "optimizer": optim_meta, "trainer_state": trainer_state or {}}
    with io.atomic_dir(target) as tmp:
        save_file(model_tensors, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        save_file(state_tensors, str(tmp / "state.safetensors"), metadata={"format": "pt"})
        (tmp / "state.json").write_text(json.dumps(io.to_jsonable(meta), indent=1))
    io.write_json(checkpoints_dir / "latest.json", {"epoch": epoch, "dir": target.name})
    return target


def list_epochs(checkpoints_dir: Path) -> list[int]:
    """Epochs with a complete checkpoint directory, ascending."""
    epochs = []
    for d in Path(checkpoints_dir).glob("epoch_*"):
        if (d / "state.json").exists() and (d / "model.safetensors").exists():
            try:
                epochs.append(int(d.name.split("_", 1)[1]))
            except ValueError:
                continue
    return sorted(epochs)


def latest_epoch(checkpoints_dir: Path) -> int | None:
    """The epoch ``latest.json`` points at (or the newest complete one), None if there is none."""
    pointer = Path(checkpoints_dir) / "latest.json"
    if pointer.exists():
        try:
            epoch = int(json.loads(pointer.read_text())["epoch"])
            if epoch in list_epochs(checkpoints_dir):
                return epoch
        except (ValueError, KeyError, json.JSONDecodeError):
            pass
    epochs = list_epochs(checkpoints_dir)
    return epochs[-1] if epochs else None


def require_epoch(checkpoints_dir: Path, epoch: int) -> Path:
    """The directory of checkpoint ``epoch``; a clear error listing the saved epochs when there is none."""
    d = Path(checkpoints_dir) / epoch_dir_name(epoch)
    if not (d / "state.json").exists():
        available = list_epochs(checkpoints_dir)
        raise ZspaceError(f"no checkpoint for epoch {epoch} in {checkpoints_dir}; saved epochs: "
                          f"{available or 'none'} (use --keep-every to keep more history)")
    return d


def load_checkpoint(checkpoints_dir: Path, epoch: int, config: ModelConfig) -> Checkpoint:
    """Read checkpoint ``epoch`` and check that it was written for ``config``."""
    d = require_epoch(checkpoints_dir, epoch)
    try:
        meta = json.loads((d / "state.json").read_text())
        model_state = load_file(str(d / "model.safetensors"))
        state_tensors = load_file(str(d / "state.safetensors"))
    except (OSError, ValueError, json.JSONDecodeError) as exc:
        raise ZspaceError(f"checkpoint {d} is unreadable ({exc}); resume from another epoch with --from-epoch") from None
    if meta.get("config_fingerprint") != config_fingerprint(config):
        raise ZspaceError(f"checkpoint {d} was written for model config {meta.get('model_config')}, "
                          f"not for this run's {config.to_dict()}; load it with the run it belongs to")
    rng_state = {k[4:]: v for k, v in state_tensors.items() if k.startswith("rng.")} or None
    optimizer_state = _unflatten_optimizer(state_tensors, meta["optimizer"]) if meta.get("optimizer") else None
    return Checkpoint(epoch=int(meta["epoch"]), model_state=model_state, optimizer_state=optimizer_state,
                      rng_state=rng_state, trainer_state=meta.get("trainer_state", {}))


def prune_checkpoints(checkpoints_dir: Path, keep_every: int, keep: set[int]) -> None:
    """Delete epoch directories except those in ``keep`` and multiples of ``keep_every`` (0: none)."""
    for epoch in list_epochs(checkpoints_dir):
        if epoch in keep or (keep_every > 0 and epoch % keep_every == 0):
            continue
        shutil.rmtree(Path(checkpoints_dir) / epoch_dir_name(epoch), ignore_errors=True)
