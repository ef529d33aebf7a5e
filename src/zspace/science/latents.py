"""The encoded training points of a run, cached, and fitting samplers to them.

Fitted samplers, void shares and intrinsic dimensions all look at the same
cloud: the run's training split, encoded by the chosen checkpoint (a VAE's
``mu``, its deterministic code). Encoding a large training set takes a while,
so the Z file is kept at ``RUN_DIR/latents/train-e<EPOCH>.npz`` and reused.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from zspace.core.errors import ZspaceError
from zspace.core.log import get_logger
from zspace.pipeline.encode import encode
from zspace.pipeline.run import Run, open_run
from zspace.pipeline.zstore import ZStore, load_zstore
from zspace.science.samplers import Sampler, StaleSampler, make_sampler, resolve_sampler, saved_name
from zspace.science.samplers.base import SAMPLER_FILE

log = get_logger(__name__)


def training_store(run: Run | str | Path, epoch: int | None = None, device: str = "auto") -> ZStore:
    """The images the run was trained on (its training split, or the first ``n_train`` of it as training read
    them) encoded by checkpoint ``epoch`` (default: latest), cached in the run."""
    run = run if isinstance(run, Run) else open_run(run)
    epoch = run.latest_epoch() if epoch is None else epoch
    if epoch is None:
        raise ZspaceError(f"run {run.root} has no checkpoint yet; train it first")
    path = run.layout.latents_file(epoch)
    if path.exists():
        return load_zstore(path)
    log.info("encoding the training split of %s (epoch %s) once; cached in %s", run.root, epoch, path)
    store = encode(run, split="train", epoch=epoch, device=device, n=run.train_config.n_train)
    store.save(path)
    return store


def training_latents(run: Run | str | Path, epoch: int | None = None, device: str = "auto") -> np.ndarray:
    """(N, z_dim) float32: the encoded training points (a VAE's ``mu``, an AE's ``z``)."""
    return training_store(run, epoch, device).codes


def fit_sampler(run: Run | str | Path, spec: str, *, epoch: int | None = None, seed: int = 0,
                device: str = "auto", save: bool = True) -> Sampler:
    """Fit sampler ``spec`` to the run's encoded training points; save it under ``RUN_DIR/samplers/``.

    Samplers that need no fit (``normal``, ``uniform:A``) are saved as they are.
    """
    run = run if isinstance(run, Run) else open_run(run)
    z_dim = run.model_config.z_dim
    sampler = make_sampler(spec, z_dim)
    info = {"spec": spec, "seed": seed}
    if sampler.needs_fit:
        z = training_latents(run, epoch, device)
        sampler.fit(z, seed=seed)
        info.update(epoch=run.latest_epoch() if epoch is None else epoch, n_points=len(z),
                    source="mu of the training split" if run.model_config.kind == "vae" else "z of the training split")
    if save:
        sampler.save(run.layout.sampler(saved_name(spec)), info=info)
    return sampler


def fitted_sampler(run: Run | str | Path, spec: str, *, epoch: int | None = None, seed: int = 0,
                   device: str = "auto") -> Sampler:
    """The sampler saved in the run under ``spec``; fitted (and saved) first when it is missing,
    or when it was fitted to the codes of another checkpoint than ``epoch`` (default: latest)."""
    run = run if isinstance(run, Run) else open_run(run)
    z_dim = run.model_config.z_dim
    epoch = run.latest_epoch() if epoch is None else epoch
    if not make_sampler(spec, z_dim).needs_fit:
        return resolve_sampler(run.root, spec, z_dim)
    meta_path = run.layout.sampler(saved_name(spec)) / SAMPLER_FILE
    if meta_path.exists():
        fitted_epoch = json.loads(meta_path.read_text()).get("info", {}).get("epoch")
        if fitted_epoch == epoch:
            try:
                return resolve_sampler(run.root, spec, z_dim)
            except StaleSampler as exc:
                log.warning(f"{exc}; refitting it now")
        else:
            log.info("%s was fitted to epoch %s; refitting to epoch %s", meta_path.parent, fitted_epoch, epoch)
    return fit_sampler(run, spec, epoch=epoch, seed=seed, device=device)


__all__ = ["training_store", "training_latents", "fit_sampler", "fitted_sampler"]
