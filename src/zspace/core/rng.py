"""Seeded random state that can be saved and restored exactly.

Every random draw zspace makes in training comes from the generators below:
Python's ``random``, numpy's legacy global state, torch's CPU generator and
(when present) the generator of this process's CUDA device. :func:`get_state`
captures them as a dict of uint8 tensors, so a checkpoint can restore them and
a resumed run continues with the same draws as an uninterrupted one.

Only this process's own device is saved (``torch_cuda``) and restored onto the
device this process uses when it resumes: a run trained with 8 visible GPUs
resumes with 4, or in a 1-GPU allocation. Checkpoints written before this rule
hold ``torch_cuda_<i>`` for every visible GPU; :func:`cuda_state_of` picks the
one of the current device by its number (not by the sort of the names, which
puts ``torch_cuda_10`` before ``torch_cuda_2``), and none is needed.
"""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (CPU and CUDA) from one integer."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def stream_seed(*parts: int) -> int:
    """A 63-bit seed derived from integers (e.g. seed, epoch, rank): distinct tuples give independent streams."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(2, dtype=np.uint64)[0] >> np.uint64(1))


def stream_rng(*parts: int) -> np.random.Generator:
    """A numpy Generator of the stream named by integers (e.g. seed, 1): ``default_rng(SeedSequence(parts))``.

    The same tuple names the same stream as :func:`stream_seed`, but the
    Generator is seeded by the SeedSequence itself (not by the 63-bit seed
    it would give), as the factor measures' train / held-out split always was.
    """
    return np.random.default_rng(np.random.SeedSequence([int(p) for p in parts]))


def sub_seed(seed: int, stream: int) -> int:
    """The seed of a caller's numbered side stream ``stream`` (1, 2, ...) under one ``seed``: ``seed + stream``.

    One function draws with ``seed`` itself (stream 0) and needs a few more,
    independent draws beside it (the ceiling's pixel shuffle, the path ends,
    the k-means++ rows). The rule is the plain offset these callers always
    used, kept so that every saved score, table and figure stays bit-identical;
    :func:`stream_seed` mixes better and is the rule for new streams.
    """
    return int(seed) + int(stream)


#: spreads one seed over many per-item streams (:func:`item_seed`)
ITEM_SEED_SPREAD = 100_003


def item_seed(seed: int, item: int) -> int:
    """The seed of item ``item`` (an epoch; a k-means restart and k) of many under one ``seed``.

    ``seed * 100003 + item``: the value the epoch order and the k-means
    seedings always used (identical shuffles and clusterings); distinct for
    items below 100003 under one seed.
    """
    return int(seed) * ITEM_SEED_SPREAD + int(item)


def get_state() -> dict[str, torch.Tensor]:
    """All generator states as uint8 tensors (safetensors-ready)."""
    py_state = random.getstate()
    np_state = np.random.get_state()
    state = {
        "torch_cpu": torch.get_rng_state(),
        "python": torch.tensor(np.array(py_state[1], dtype=np.int64).view(np.uint8)),
        "python_meta": torch.tensor([float(py_state[0]), float("nan") if py_state[2] is None else py_state[2]],
                                    dtype=torch.float64),
        "numpy_keys": torch.from_numpy(np.asarray(np_state[1], dtype=np.uint32).view(np.uint8).copy()),
        "numpy_meta": torch.tensor([np_state[2], np_state[3]], dtype=torch.int64),
        "numpy_gauss": torch.tensor([np_state[4]], dtype=torch.float64),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["torch_cuda"] = torch.cuda.get_rng_state(torch.cuda.current_device())
    return state


def cuda_state_of(state: dict[str, torch.Tensor], device_index: int) -> torch.Tensor | None:
    """The CUDA generator state in ``state`` for device ``device_index``: ``torch_cuda`` (this process's own
    device, the current format), else the legacy ``torch_cuda_<device_index>``; None when there is neither."""
    if "torch_cuda" in state:
        return state["torch_cuda"]
    legacy = {int(k.rsplit("_", 1)[1]): v for k, v in state.items()
              if k.startswith("torch_cuda_") and k.rsplit("_", 1)[1].isdigit()}
    return legacy.get(int(device_index))


def set_state(state: dict[str, torch.Tensor]) -> None:
    """Restore the generators from :func:`get_state`'s output."""
    torch.set_rng_state(state["torch_cpu"].cpu())
    py_internal = tuple(int(x) for x in state["python"].numpy().view(np.int64))
    version, gauss = state["python_meta"].tolist()
    random.setstate((int(version), py_internal, None if np.isnan(gauss) else gauss))
    keys = state["numpy_keys"].numpy().copy().view(np.uint32)
    pos, has_gauss = (int(x) for x in state["numpy_meta"].tolist())
    np.random.set_state(("MT19937", keys, pos, has_gauss, float(state["numpy_gauss"].item())))
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        device = torch.cuda.current_device()
        cuda = cuda_state_of(state, device)
        if cuda is not None:
            torch.cuda.set_rng_state(cuda.cpu(), device)
