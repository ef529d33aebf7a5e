"""Checkpoints as safetensors + JSON, written atomically; never pickle.

Layout of one checkpoint directory (``RUN_DIR/checkpoints/epoch_0007``)::

    model.safetensors   model weights and buffers (state_dict keys)
    state.safetensors   optimizer tensors ("optim.<param>.<name>"), RNG states ("rng.<name>", the
                        writer's) and each process's own state ("rank<r>.<name>": its generators
                        and, in an epoch, its loss sums)
    state.json          epoch, step, number of processes, optimizer hyper-parameters, trainer state
                        (with the gradient scaler's), model-config fingerprint, format version and
                        the SHA-256 of both .safetensors files

Besides the end-of-epoch checkpoints there is at most one checkpoint inside an
epoch, ``checkpoints/in_epoch`` (``--checkpoint-every``, or a preemption
signal): the same files, with ``epoch`` the epoch in progress and ``step`` the
number of its batches done. It serves only to resume (``latest.json`` and the
commands that read weights never point at it) and is deleted when the epoch's
own checkpoint lands.

The directory is built under a temporary name and renamed into place
(:func:`zspace.core.io.atomic_dir`), then ``checkpoints/latest.json`` is replaced
atomically to point at it. A crash at any moment leaves either the previous
checkpoint or the new one as "latest", never a torn one. Loading checks, before
any weight is used: the content hashes (a flipped byte is refused), the format
version, the model-config fingerprint, and every tensor's name, shape and dtype
against the model the config builds.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from zspace.core import faults, io, rng
from zspace.core.checksums import IntegrityError, digest_files, verify_files
from zspace.core.errors import ZspaceError
from zspace.core.log import get_logger
from zspace.models import ModelConfig, build_model

log = get_logger(__name__)

#: version of the checkpoint layout; 1 had no content hashes, 2 adds them
CHECKPOINT_FORMAT = 2
#: the data files of a checkpoint, hashed into state.json
DATA_FILES = ("model.safetensors", "state.safetensors")

#: the directory of the one checkpoint inside an epoch (see the module docstring)
IN_EPOCH_DIR = "in_epoch"

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
    """What a checkpoint restores: weights, optimizer state, RNG state and trainer state.

    ``step`` is 0 for an end-of-epoch checkpoint, else the batches of epoch
    ``epoch`` already done. ``rank_states[r]`` holds process r's own tensors
    (its generators, its loss sums) of a run on ``world_size`` processes.
    """

    epoch: int
    model_state: dict[str, torch.Tensor]
    optimizer_state: dict[str, Any] | None
    rng_state: dict[str, torch.Tensor] | None
    trainer_state: dict[str, Any] = field(default_factory=dict)
    step: int = 0
    world_size: int = 1
    rank_states: dict[int, dict[str, torch.Tensor]] = field(default_factory=dict)


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
                    optimizer: torch.optim.Optimizer | None, trainer_state: dict | None = None, *,
                    step: int = 0, rank_states: list[dict[str, torch.Tensor]] | None = None) -> Path:
    """Write a checkpoint atomically; return its directory.

    ``step`` 0: the end of ``epoch`` (``epoch_NNNN``), and ``latest.json``
    points at it. ``step`` > 0: ``step`` batches into ``epoch``
    (:data:`IN_EPOCH_DIR`, replacing the previous one). ``rank_states``: each
    process's own tensors, in rank order (default: this process's generators).
    """
    checkpoints_dir = Path(checkpoints_dir)
    target = checkpoints_dir / (epoch_dir_name(epoch) if step == 0 else IN_EPOCH_DIR)
    model_tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    state_tensors = {f"rng.{k}": v.contiguous() for k, v in rng.get_state().items()}
    rank_states = rank_states or [rng.get_state()]
    for r, own in enumerate(rank_states):
        state_tensors.update({f"rank{r}.{k}": v.detach().cpu().contiguous() for k, v in own.items()})
    optim_meta = None
    if optimizer is not None:
        optim_tensors, optim_meta = _flatten_optimizer(optimizer.state_dict())
        state_tensors.update(optim_tensors)
    meta = {"format": CHECKPOINT_FORMAT, "epoch": epoch, "step": step, "world_size": len(rank_states),
            "config_fingerprint": config_fingerprint(config), "model_config": config.to_dict(),
            "optimizer": optim_meta, "trainer_state": trainer_state or {}}
    with io.atomic_dir(target) as tmp:
        save_file(model_tensors, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        save_file(state_tensors, str(tmp / "state.safetensors"), metadata={"format": "pt"})
        meta["files"] = digest_files(tmp, DATA_FILES)
        faults.point("checkpoint.files")
        io.write_text(tmp / "state.json", json.dumps(io.to_jsonable(meta), indent=1))
    faults.point("checkpoint.renamed")
    if step == 0:
        io.write_json(checkpoints_dir / "latest.json", {"epoch": epoch, "dir": target.name})
        faults.point("checkpoint.latest")
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


def _other_epochs_hint(checkpoints_dir: Path, epoch: int) -> str:
    others = [e for e in list_epochs(checkpoints_dir) if e != epoch]
    if not others:
        return "no other checkpoint is saved; train the run again"
    return (f"use another saved epoch ({', '.join(map(str, others))}): --epoch N to read it, "
            f"or zspace train --resume {Path(checkpoints_dir).parent} --from-epoch N to train on from it")


def _read_meta(d: Path, hint: str) -> dict:
    try:
        meta = json.loads((d / "state.json").read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IntegrityError(f"{d / 'state.json'} is unreadable ({exc}); {hint}") from None
    if not isinstance(meta, dict):
        raise IntegrityError(f"{d / 'state.json'} is not a JSON object; {hint}")
    version = meta.get("format", 1)
    if not isinstance(version, int) or version > CHECKPOINT_FORMAT:
        raise ZspaceError(f"{d / 'state.json'}: checkpoint format {version!r} is newer than this zspace reads "
                          f"({CHECKPOINT_FORMAT}); upgrade zspace (pip install -U zspace)")
    return meta


def verify_checkpoint(checkpoints_dir: Path, epoch: int) -> dict:
    """Check checkpoint ``epoch``'s content hashes; return its ``state.json``. :class:`IntegrityError` if it fails."""
    d = require_epoch(checkpoints_dir, epoch)
    return _verify_dir(d, _other_epochs_hint(checkpoints_dir, epoch))


def _verify_dir(d: Path, hint: str) -> dict:
    meta = _read_meta(d, hint)
    files = meta.get("files")
    if files is None and meta.get("format", 1) >= 2:
        raise IntegrityError(f"{d / 'state.json'} lists no content hashes (edited by hand?); {hint}")
    if files is not None:
        if not isinstance(files, dict) or set(files) != set(DATA_FILES):
            raise IntegrityError(f"{d / 'state.json'} field 'files' must hash {', '.join(DATA_FILES)}; {hint}")
        verify_files(d, files, hint)
    else:
        log.warning(f"checkpoint {d} predates content hashes (format 1); its bytes are not verified")
    return meta


def _check_tensors(path: Path, tensors: dict[str, torch.Tensor], model: torch.nn.Module, hint: str) -> None:
    expected = {k: (tuple(v.shape), v.dtype) for k, v in model.state_dict().items()}
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        raise IntegrityError(f"{path} does not hold this model's tensors (missing: {missing[:3] or 'none'}, "
                             f"unexpected: {extra[:3] or 'none'}); {hint}")
    for name, (shape, dtype) in expected.items():
        got = tensors[name]
        if tuple(got.shape) != shape or got.dtype != dtype:
            raise IntegrityError(f"{path}: tensor {name} is {got.dtype} {tuple(got.shape)} but the model config "
                                 f"says {dtype} {shape}; {hint}")


def _check_optimizer(path: Path, tensors: dict[str, torch.Tensor], optim_meta: dict, n_params: int,
                     hint: str) -> None:
    try:
        pids = {int(p) for p in optim_meta["scalars"]} | {int(k.split(".")[1]) for k in tensors if k.startswith("optim.")}
        groups = optim_meta["param_groups"]
        listed = sorted(int(i) for g in groups for i in g["params"])
    except (KeyError, TypeError, ValueError) as exc:
        raise IntegrityError(f"{path.parent / 'state.json'}: optimizer field is malformed ({exc}); {hint}") from None
    if listed != list(range(n_params)) or not pids <= set(listed):
        raise IntegrityError(f"{path.parent / 'state.json'}: optimizer state is for {len(listed)} parameters, "
                             f"the model has {n_params}; {hint}")
    for pid in pids:
        for name in ("exp_avg", "exp_avg_sq"):
            if f"optim.{pid}.{name}" not in tensors:
                raise IntegrityError(f"{path}: optimizer tensor optim.{pid}.{name} named by state.json is missing; "
                                     f"{hint}")


def load_checkpoint(checkpoints_dir: Path, epoch: int, config: ModelConfig) -> Checkpoint:
    """Read checkpoint ``epoch`` after checking its hashes, its config and every tensor's name, shape and dtype."""
    d = require_epoch(checkpoints_dir, epoch)
    return _load_dir(d, config, _other_epochs_hint(checkpoints_dir, epoch))


def in_epoch_position(checkpoints_dir: Path) -> tuple[int, int] | None:
    """(epoch, step) of the checkpoint inside an epoch when there is one whose hashes verify, else None
    (a damaged one is named in a warning and not used)."""
    d = Path(checkpoints_dir) / IN_EPOCH_DIR
    if not (d / "state.json").exists():
        return None
    try:
        meta = _verify_dir(d, "it is ignored; training resumes from the last epoch's checkpoint")
        return int(meta["epoch"]), int(meta["step"])
    except (ZspaceError, KeyError, TypeError, ValueError) as exc:
        log.warning(f"skipping the checkpoint inside an epoch {d}: {str(exc).split('; ')[0]}")
        return None


def load_in_epoch(checkpoints_dir: Path, config: ModelConfig) -> Checkpoint:
    """Read the checkpoint inside an epoch (:data:`IN_EPOCH_DIR`), checked like :func:`load_checkpoint`."""
    return _load_dir(Path(checkpoints_dir) / IN_EPOCH_DIR, config,
                     "train on from the last epoch's checkpoint: zspace train --resume RUN_DIR --from-epoch N")


def remove_in_epoch(checkpoints_dir: Path) -> None:
    """Delete the checkpoint inside an epoch, if any (renamed first, so a kill leaves none half-deleted)."""
    if (Path(checkpoints_dir) / IN_EPOCH_DIR).exists():
        _delete(Path(checkpoints_dir), IN_EPOCH_DIR)


def _delete(checkpoints_dir: Path, name: str) -> None:
    """Delete ``checkpoints_dir/name``, renamed first so that a kill half-way leaves no half-deleted checkpoint."""
    doomed = checkpoints_dir / f".{name}.deleting"
    os.replace(checkpoints_dir / name, doomed)
    faults.point("checkpoint.prune")
    shutil.rmtree(doomed, ignore_errors=True)


def _load_dir(d: Path, config: ModelConfig, hint: str) -> Checkpoint:
    meta = _verify_dir(d, hint)
    if meta.get("config_fingerprint") != config_fingerprint(config):
        raise ZspaceError(f"checkpoint {d} was written for model config {meta.get('model_config')}, "
                          f"not for this run's {config.to_dict()}; load it with the run it belongs to")
    try:
        model_state = load_file(str(d / "model.safetensors"))
        state_tensors = load_file(str(d / "state.safetensors"))
    except Exception as exc:  # safetensors raises its own error type for a bad header
        raise IntegrityError(f"checkpoint {d} is unreadable ({exc}); {hint}") from None
    with torch.device("meta"):  # names, shapes and dtypes of the config's model, without allocating weights
        expected = build_model(config)
    _check_tensors(d / "model.safetensors", model_state, expected, hint)
    if meta.get("optimizer"):
        _check_optimizer(d / "state.safetensors", state_tensors, meta["optimizer"], len(list(expected.parameters())),
                         hint)
    rng_state = {k[4:]: v for k, v in state_tensors.items() if k.startswith("rng.")} or None
    rank_states: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in state_tensors.items():
        if key.startswith("rank") and "." in key and key[4:key.index(".")].isdigit():
            rank_states.setdefault(int(key[4:key.index(".")]), {})[key[key.index(".") + 1:]] = value
    optimizer_state = _unflatten_optimizer(state_tensors, meta["optimizer"]) if meta.get("optimizer") else None
    return Checkpoint(epoch=int(meta["epoch"]), model_state=model_state, optimizer_state=optimizer_state,
                      rng_state=rng_state, trainer_state=meta.get("trainer_state", {}),
                      step=int(meta.get("step", 0)), world_size=int(meta.get("world_size", 1)),
                      rank_states=rank_states)


def newest_verified_epoch(checkpoints_dir: Path) -> int | None:
    """The newest checkpoint whose hashes verify (``latest.json``'s first), None if none does.

    Each checkpoint skipped on the way is named in a warning with the reason.
    """
    latest = latest_epoch(checkpoints_dir)
    if latest is None:
        return None
    candidates = [latest] + [e for e in reversed(list_epochs(checkpoints_dir)) if e != latest]
    for epoch in candidates:
        try:
            verify_checkpoint(checkpoints_dir, epoch)
            return epoch
        except ZspaceError as exc:
            log.warning(f"skipping checkpoint of epoch {epoch}: {str(exc).split('; ')[0]}")
    return None


def remove_stale_temporaries(checkpoints_dir: Path) -> list[Path]:
    """Delete what killed writers left behind (``.epoch_*`` temporaries, ``.latest.json.*``); return them.

    Call only where no other process writes to ``checkpoints_dir``.
    """
    checkpoints_dir = Path(checkpoints_dir)
    return (io.remove_stale_temporaries(checkpoints_dir / "epoch_*", pattern=True)
            + io.remove_stale_temporaries(checkpoints_dir / IN_EPOCH_DIR)
            + io.remove_stale_temporaries(checkpoints_dir / "latest.json"))


def prune_checkpoints(checkpoints_dir: Path, keep_every: int, keep: set[int]) -> None:
    """Delete epoch directories except those in ``keep`` and multiples of ``keep_every`` (0: none)."""
    for epoch in list_epochs(checkpoints_dir):
        if epoch in keep or (keep_every > 0 and epoch % keep_every == 0):
            continue
        _delete(Path(checkpoints_dir), epoch_dir_name(epoch))
