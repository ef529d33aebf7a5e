"""Model + data -> Z store: place every image of a split in latent space.

The model is used through an :class:`~zspace.pipeline.session.InferenceSession`; the batch-wise forward
pass is :func:`zspace.pipeline.forward.encode_images` (re-exported here).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zspace.pipeline.forward import NOISE_BLOCK, RowNoise, encode_images
from zspace.pipeline.processes import process_strategy, shard_rows
from zspace.pipeline.run import Run, open_run
from zspace.pipeline.session import open_session
from zspace.pipeline.zstore import ZStore, is_zdir_path, load_zstore, writing_zdir


def encode(run: Run | str | Path, data: str | None = None, split: str = "test", *, epoch: int | None = None,
           batch_size: int = 512, device: str = "auto", seed: int = 0, n: int | None = None,
           precision: str | None = None, out: str | Path | None = None) -> ZStore | None:
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

    Under torchrun each process encodes a contiguous share of the rows and
    process 0 gathers them in order (in memory, also for a Z directory, which
    process 0 then writes): it returns the whole store, the other processes
    return None.

    ``precision``: fp32, bf16, fp16 or auto; default the run's training precision
    (:meth:`~zspace.pipeline.run.Run.inference_precision`).
    """
    run = open_run(run) if not isinstance(run, Run) else run
    spec = data or run.train_config.data
    images = run.data_split(split, data=spec, n=n)
    session = open_session(run, epoch, device, precision, for_processes=True)
    processes = process_strategy(session.device)
    total = len(images.images)
    meta = {"run": str(run.root), "data": spec, "split": split, "epoch": epoch or run.latest_epoch(),
            "precision": session.precision.name,
            "model_kind": run.model_config.kind, "z_dim": run.model_config.z_dim,
            "class_names": images.class_names}
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


__all__ = ["encode", "encode_images", "RowNoise", "NOISE_BLOCK"]
