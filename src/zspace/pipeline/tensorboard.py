"""TensorBoard during training: a run's event files; and :func:`require_tensorboard`, the check of the extra.

TensorBoard is an optional extra (``pip install 'zspace[tensorboard]'``).
It is imported only inside the functions that need it, here and in
:mod:`zspace.exports.projector_layout` (the Embedding Projector's files),
which checks it with :func:`require_tensorboard` first: training without
``--tensorboard`` never imports it.

Training (``zspace train --tensorboard``, :class:`TrainingBoard`): the writer
process writes into ``RUN_DIR/tensorboard`` with
:class:`torch.utils.tensorboard.SummaryWriter`, one step per epoch (step =
epoch number):

* scalars ``train/total``, ``train/reco``, ``val/total``, ``val/reco`` (and
  ``train/kl``, ``val/kl`` for a VAE), ``lr`` and ``images_per_s``: the
  numbers of that epoch's ``metrics.jsonl`` record (nats per image, Adam's
  learning rate, training images per second), stored as float32;
* image ``reconstructions``: the first :data:`GRID_COLUMNS` validation images
  above their reconstructions (a VAE decodes its mu), 1-pixel white gutters;
* image ``samples``: :data:`GRID_COLUMNS` x :data:`SAMPLE_ROWS` points of
  N(0, I), drawn once from a generator seeded by the run's seed (the same
  points every epoch), decoded.

The grids run in eval mode under ``torch.no_grad`` with the global RNG forked
and their own generator, so the trained weights are bit-identical with and
without ``--tensorboard``. A resume writes a new event file into the same
directory with ``purge_step`` = first epoch trained again: TensorBoard drops
the old records of the epochs that are trained again, as ``metrics.jsonl``
does.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from zspace.core import images as core_images
from zspace.core.errors import ZspaceError
from zspace.core.images import tile
from zspace.core.layout import RunLayout
from zspace.pipeline.batches import to_tensor

#: what a user runs to get TensorBoard
INSTALL = "pip install 'zspace[tensorboard]'"
#: images per row of the reconstruction and sample grids
GRID_COLUMNS = 8
#: rows of the sample grid
SAMPLE_ROWS = 2


def require_tensorboard(what: str) -> None:
    """Raise a one-line :class:`ZspaceError` naming the fix when TensorBoard cannot be imported.

    ``what`` names the command or option that needs it (``zspace train --tensorboard``).
    """
    try:
        import torch.utils.tensorboard  # noqa: F401
        from tensorboard.plugins.projector import projector_config_pb2  # noqa: F401
    except ImportError:
        raise ZspaceError(f"{what} needs TensorBoard, which is not installed; install it with: {INSTALL}") from None
    except Exception as exc:  # an install that is there but broken (a protobuf of another version, ...)
        reason = " ".join(str(exc).split())[:200]
        raise ZspaceError(f"{what} needs TensorBoard, which is installed but cannot be imported ({reason}); "
                          f"reinstall it with: {INSTALL}") from None


def board_dir(run_root: str | Path) -> Path:
    """``RUN_DIR/tensorboard`` (:attr:`RunLayout.tensorboard <zspace.core.layout.RunLayout.tensorboard>`), where
    ``zspace train --tensorboard`` writes its event files."""
    return RunLayout(Path(run_root)).tensorboard


# -- images ---------------------------------------------------------------------------------------------------------
def to_uint8(images: torch.Tensor) -> np.ndarray:
    """float images (B, C, H, W) in [0, 1] -> uint8 (B, H, W, C), rounded to the nearest level."""
    return core_images.to_uint8(images.detach().float().permute(0, 2, 3, 1).cpu().numpy())


def sample_points(seed: int, n: int, z_dim: int) -> torch.Tensor:
    """(n, z_dim) float32 points of N(0, I) from a generator of their own seeded by ``seed`` (not the global RNG)."""
    return torch.randn(n, z_dim, generator=torch.Generator().manual_seed(int(seed)))


# -- training -------------------------------------------------------------------------------------------------------
class TrainingBoard:
    """The TensorBoard records of one training run (see the module docstring); made by :func:`open_training_board`.

    Parameters
    ----------
    root : Path
        The run directory; events go to ``root/tensorboard``.
    model : Autoencoder
        The model being trained (its device is used for the grids).
    val_images : numpy.ndarray, uint8 (N, H, W, C)
        The validation split; its first :data:`GRID_COLUMNS` images are the fixed reconstruction inputs.
    seed : int
        Seeds the fixed latent points of the sample grid.
    start_epoch : int
        The last epoch already trained (0 for a new run); records of later steps in earlier event files are purged.
    channels_last : bool
        The memory format of the model's inputs.
    """

    def __init__(self, root: Path, model: torch.nn.Module, val_images: np.ndarray, seed: int, start_epoch: int,
                 channels_last: bool = False) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.device = next(model.parameters()).device
        self.originals = np.ascontiguousarray(val_images[:GRID_COLUMNS])
        self._inputs = to_tensor(self.originals, self.device, channels_last)
        z_dim = int(model.config.z_dim)
        self._eps = torch.zeros(len(self.originals), z_dim, device=self.device)
        self._points = sample_points(seed, GRID_COLUMNS * SAMPLE_ROWS, z_dim).to(self.device)
        with self._evaluating(model):
            self.variational = model.encode(self._inputs, eps=self._eps).mu is not None
        self.writer = SummaryWriter(log_dir=str(board_dir(root)), purge_step=start_epoch + 1)

    @contextlib.contextmanager
    def _evaluating(self, model: torch.nn.Module) -> Iterator[None]:
        """Eval mode, no gradients, the global RNG forked; the model's mode is restored after."""
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad(), torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
                yield
        finally:
            model.train(was_training)

    def scalars(self, record: dict[str, Any]) -> dict[str, float]:
        """tag -> value of one metrics.jsonl record: train/val total, reco (and kl for a VAE), lr, images_per_s."""
        terms = ("total", "reco", "kl") if self.variational else ("total", "reco")
        values = {f"{part}/{term}": float(record[part][term]) for part in ("train", "val") for term in terms}
        values["lr"] = float(record["lr"])
        values["images_per_s"] = float(record["images_per_s"])
        return values

    def grids(self, model: torch.nn.Module) -> tuple[np.ndarray, np.ndarray]:
        """(reconstruction grid, sample grid), uint8 (H, W, C), drawn in eval mode; model mode and RNG are restored."""
        with self._evaluating(model):
            reconstructions = to_uint8(model.decode(model.encode(self._inputs, eps=self._eps).code))
            samples = to_uint8(model.decode(self._points))
        pairs = tile(np.concatenate([self.originals, reconstructions]), ncols=len(self.originals), pad=1)
        return pairs, tile(samples, ncols=GRID_COLUMNS, pad=1)

    def log_epoch(self, record: dict[str, Any], model: torch.nn.Module) -> None:
        """Write the scalars and grids of one kept epoch (``record["epoch"]`` is the step) and flush them."""
        step = int(record["epoch"])
        for tag, value in self.scalars(record).items():
            self.writer.add_scalar(tag, value, step)
        pairs, samples = self.grids(model)
        self.writer.add_image("reconstructions", pairs, step, dataformats="HWC")
        self.writer.add_image("samples", samples, step, dataformats="HWC")
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class _NoBoard:
    """What training logs to without ``--tensorboard`` (and in the processes that do not write): nothing."""

    def log_epoch(self, record: dict[str, Any], model: torch.nn.Module) -> None:
        pass

    def close(self) -> None:
        pass


def open_training_board(root: Path, config: Any, model: torch.nn.Module, val_images: np.ndarray, start_epoch: int,
                        is_writer: bool) -> TrainingBoard | _NoBoard:
    """A :class:`TrainingBoard` when ``config.tensorboard`` (a TrainConfig) and this process writes; else a no-op."""
    if not (config.tensorboard and is_writer):
        return _NoBoard()
    return TrainingBoard(Path(root), model, val_images, config.seed, start_epoch, config.channels_last)


__all__ = ["INSTALL", "GRID_COLUMNS", "SAMPLE_ROWS", "require_tensorboard", "board_dir", "to_uint8", "sample_points",
           "TrainingBoard", "open_training_board"]
