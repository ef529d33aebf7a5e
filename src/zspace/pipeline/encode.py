"""Model + data -> Z store: place every image of a split in latent space.

The model is used through an :class:`~zspace.pipeline.session.InferenceSession`; the batch-wise forward
pass is :func:`zspace.pipeline.forward.encode_images` (re-exported here). On N processes (torchrun,
srun) or N jobs (``shard=(i, N)``, ``zspace encode --shard i/N``) a Z directory is written as N shards,
one per writer, nothing gathered (:func:`encode`; the layout is :mod:`zspace.pipeline.zstore`'s).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from zspace.core import dist, faults, io
from zspace.core.errors import ZspaceError
from zspace.core.log import get_logger
from zspace.pipeline.forward import NOISE_BLOCK, RowNoise, encode_images
from zspace.pipeline.processes import process_strategy, shard_rows
from zspace.pipeline.run import Run, open_run
from zspace.pipeline.session import open_session
from zspace.pipeline.zstore import (ZStore, is_zdir_path, join_shards, load_zstore, open_written_shards,
                                    prepare_shards, shard_path, shard_written, writing_shard, writing_zdir)

log = get_logger(__name__)


def encode(run: Run | str | Path, data: str | None = None, split: str = "test", *, epoch: int | None = None,
           batch_size: int = 512, device: str = "auto", seed: int = 0, n: int | None = None,
           precision: str | None = None, out: str | Path | None = None, shard: tuple[int, int] | None = None,
           force: bool = False) -> ZStore | None:
    """Encode a split of ``data`` (default: the run's training data) with the run's model.

    ``out``: None keeps the store in memory and returns it. A path ending in
    .npz writes the store there as a Z file (all rows gathered in memory
    first) and returns it. Any other path is a Z directory (see
    :mod:`zspace.pipeline.zstore`): its z.npy (and mu.npy, logvar.npy) are
    written through memory maps while encoding goes, so memory holds one
    batch whatever the number of images; the returned store is
    :func:`~zspace.pipeline.zstore.load_zstore` of it, memory-mapped. The
    directory is built under a temporary name and renamed at the end: a
    failed or killed encode leaves no part of it, and an existing one is
    replaced only when encoding succeeds.

    Sharded (a Z directory ``out`` under torchrun or srun with N > 1 processes, or
    ``shard=(i, N)`` in one process): this process encodes its contiguous
    share of the rows (process ``RANK``, or part ``i``; the rule of
    :func:`~zspace.pipeline.processes.shard_rows`) into its own shard of
    ``out``, streamed through memory maps, nothing gathered (no process
    group is joined: a shard that takes hours waits on no one). A complete
    shard of the same encode (run, epoch, weights, data, split, n, seed,
    precision, N) whose CRC-32 verify is kept, so the same call after a kill
    encodes only the missing shards. The process that finds all N complete
    writes the top-level meta.json and returns the whole store (memory maps
    opened without reading the CRC-32 of the other shards again, which their
    writers checked); the others return None. ``out`` holding another Z
    store is refused unless ``force`` (which replaces it; complete shards of
    the same encode are still kept: they are what would be written).

    Under torchrun with a Z file (or no ``out``), each process encodes a
    contiguous share of the rows and process 0 gathers them in order in
    memory: it returns the whole store, the other processes return None.

    ``precision``: fp32, bf16, fp16 or auto; default the run's training precision
    (:meth:`~zspace.pipeline.run.Run.inference_precision`).
    """
    part = _shard_of(out, shard)
    run = open_run(run) if not isinstance(run, Run) else run
    spec = data or run.train_config.data
    images = run.data_split(split, data=spec, n=n)
    session = open_session(run, epoch, device, precision, for_processes=True)
    total = len(images.images)
    meta = {"run": str(run.root), "data": spec, "split": split, "epoch": epoch or run.latest_epoch(),
            "precision": session.precision.name,
            "model_kind": run.model_config.kind, "z_dim": run.model_config.z_dim,
            "class_names": images.class_names}
    if part is not None:
        identity = {"run": str(Path(run.root).resolve()), "epoch": session.epoch,
                    "weights": weights_digest(session.model), "data": spec, "split": split, "n": total,
                    "seed": seed, "precision": session.precision.name}
        return _encode_shard(session, images, meta, identity, Path(out), *part, batch_size=batch_size, seed=seed,
                             force=force)
    processes = process_strategy(session.device)
    rows = shard_rows(total, processes)
    if out is not None and is_zdir_path(out) and processes.world_size == 1:
        with writing_zdir(out, total, labels=images.labels, factors=images.factors,
                          factor_names=list(images.factor_names), meta=meta) as allocate:
            session.encode(images.images[rows], batch_size, seed, first_row=rows.start, allocate=allocate)
        return load_zstore(out)
    arrays = session.encode(images.images[rows], batch_size, seed, first_row=rows.start)
    if processes.world_size > 1:
        parts = processes.gather(arrays)
        processes.close()
        if parts is None:
            return None
        arrays = {name: np.concatenate([part[name] for part in parts]) for name in arrays}
    store = ZStore(z=arrays["z"], index=np.arange(total), mu=arrays.get("mu"),
                   logvar=arrays.get("logvar"), labels=images.labels, factors=images.factors,
                   factor_names=list(images.factor_names), meta=meta)
    if out is None:
        return store
    store.save(out)
    return load_zstore(out) if is_zdir_path(out) else store


def writes_shards(out: str | Path | None, shard: tuple[int, int] | None = None) -> bool:
    """Whether :func:`encode` into ``out`` writes a sharded Z directory here: ``shard`` given, or a Z directory
    under torchrun with more than one process."""
    return out is not None and is_zdir_path(out) and (shard is not None or dist.world_size() > 1)


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/N"`` -> (i, N), checked: 0 <= i < N; ValueError with a one-line reason and the fix."""
    head, slash, tail = text.strip().partition("/")
    try:
        index, count = int(head), int(tail)
    except ValueError:
        index = count = None
    if not slash or index is None:
        raise ValueError(f"{text!r} is not i/N; write the part to encode and the number of parts, e.g. "
                         "--shard 0/4 (then 1/4, 2/4, 3/4)")
    check_shard(index, count)
    return index, count


def check_shard(index: int, count: int) -> None:
    """ValueError unless 0 <= ``index`` < ``count`` (parts are numbered from 0)."""
    if count < 1:
        raise ValueError(f"{index}/{count}: the number of parts N must be >= 1, e.g. --shard 0/4")
    if not 0 <= index < count:
        raise ValueError(f"{index}/{count}: the part i must be 0..{count - 1} for N = {count} (parts are numbered "
                         f"from 0: --shard 0/{count} ... --shard {count - 1}/{count})")


def weights_digest(model: torch.nn.Module) -> str:
    """SHA-256 (first 16 hex digits) of a model's tensors (names, dtypes, shapes, bytes): which weights encoded a
    shard, so that a retrained run's shards are never taken for the old ones."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        flat = tensor.detach().reshape(-1).cpu().contiguous()
        digest.update(f"{name}|{flat.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(flat.view(torch.uint8).numpy())
    return digest.hexdigest()[:16]


class _Part(NamedTuple):
    """A share of the rows, in the terms of :func:`~zspace.pipeline.processes.shard_rows`."""

    rank: int
    world_size: int


def _shard_of(out: str | Path | None, shard: tuple[int, int] | None) -> tuple[int, int] | None:
    """(i, N) of the shard this process writes, None when it writes no shard; ZspaceError for a shard that cannot be."""
    if shard is not None:
        try:
            check_shard(*shard)
        except ValueError as exc:
            raise ZspaceError(f"--shard {exc}") from None
        if out is None or not is_zdir_path(out):
            what = "no --out" if out is None else f"--out {out} is a Z file (.npz), written whole by one process"
            raise ZspaceError(f"--shard {shard[0]}/{shard[1]} writes one part of a sharded Z directory, but {what}; "
                              "give --out a directory path (one not ending in .npz), or drop --shard")
        if dist.world_size() > 1:
            raise ZspaceError(f"--shard {shard[0]}/{shard[1]} encodes one part in one process, but this is one of "
                              f"{dist.world_size()} processes (WORLD_SIZE, from torchrun or srun), which share the "
                              "rows already, one shard each; drop --shard, or start one process per part")
        return shard
    return (dist.rank(), dist.world_size()) if writes_shards(out) else None


def _encode_shard(session, images, meta: dict, identity: dict, out: Path, index: int, count: int, *,
                  batch_size: int, seed: int, force: bool) -> ZStore | None:
    """Encode shard ``index`` of ``count`` into ``out`` unless it is written already; join the shards when all are."""
    rows = shard_rows(len(images.images), _Part(index, count))
    prepare_shards(out, count, identity, force=force)
    io.remove_stale_temporaries(shard_path(out, index, count))  # what a killed writer of this shard left
    if shard_written(out, index, count, identity, rows):
        log.info("shard %d of %d in %s is complete and from the same encode: kept", index, count, out)
    else:
        with writing_shard(out, index, count, identity, rows, labels=images.labels, factors=images.factors,
                           factor_names=list(images.factor_names), meta=meta) as allocate:
            session.encode(images.images[rows], batch_size, seed, first_row=rows.start, allocate=allocate,
                           desc=f"encoding shard {index}/{count}")
        faults.point("encode.shard")
    if not join_shards(out, count, identity):
        return None
    return open_written_shards(out)


__all__ = ["encode", "writes_shards", "parse_shard", "check_shard", "weights_digest", "encode_images", "RowNoise",
           "NOISE_BLOCK"]
