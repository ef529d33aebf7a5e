"""TensorBoard files: a training run's event files, and the Embedding Projector layout of latent points.

The one module of zspace that imports TensorBoard, the optional extra
(``pip install 'zspace[tensorboard]'``), and only inside the functions that
need it: training without ``--tensorboard`` never imports it.

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

Embedding Projector (``zspace projector``, :func:`write_projector_layout`): a
flat directory that ``tensorboard --logdir DIR`` opens in its Projector tab:
``tensors.tsv`` (one point per line, float32 written with 9 significant
digits, which reads back exactly), ``metadata.tsv`` (a header line when there
is more than one column), ``sprite.png`` (optional) and
``projector_config.pbtxt`` (TensorBoard's ``ProjectorConfig`` in protobuf text
format, paths relative to it). Everything goes through :mod:`zspace.core.io`
into a temporary directory renamed into place.
"""

from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch

from zspace.core import images as core_images
from zspace.core import io
from zspace.core.errors import ZspaceError
from zspace.core.images import tile
from zspace.pipeline.batches import to_tensor

#: what a user runs to get TensorBoard
INSTALL = "pip install 'zspace[tensorboard]'"
#: the folder of a run directory that holds the event files
BOARD_DIR = "tensorboard"
#: images per row of the reconstruction and sample grids
GRID_COLUMNS = 8
#: rows of the sample grid
SAMPLE_ROWS = 2
#: the largest side of a sprite image the Projector loads (a WebGL texture), in pixels
SPRITE_MAX_SIDE = 8192
#: the files of a projector layout (a directory holding anything else is never replaced)
PROJECTOR_FILES = ("tensors.tsv", "metadata.tsv", "sprite.png", "projector_config.pbtxt")


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
    """``RUN_DIR/tensorboard``, where ``zspace train --tensorboard`` writes its event files."""
    return Path(run_root) / BOARD_DIR


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


# -- Embedding Projector --------------------------------------------------------------------------------------------
def check_projector_out(out: str | Path, force: bool) -> None:
    """Refuse an ``out`` that holds something, unless ``force`` and it is an earlier projector layout.

    An empty directory is fine. A one-line :class:`ZspaceError` names the fix.
    """
    out = Path(out)
    if not out.exists() and not out.is_symlink():
        return
    if out.is_dir() and not out.is_symlink():
        held = sorted(child.name for child in out.iterdir())
        if not held:
            return
        if not force:
            raise ZspaceError(f"--out {out} already exists and is not empty; choose another --out or pass --force "
                              f"to replace it")
        others = [name for name in held if name not in PROJECTOR_FILES]
        if others:
            shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
            raise ZspaceError(f"--out {out} holds files that are not part of a projector layout ({shown}); "
                              f"--force replaces only projector layouts: choose a new --out")
        return
    raise ZspaceError(f"--out {out} exists and is not a directory; choose another --out")


def sprite_image(images: np.ndarray, max_side: int = SPRITE_MAX_SIDE) -> tuple[np.ndarray, tuple[int, int]]:
    """The Projector's sprite of uint8 images (N, H, W, C): a square of ceil(sqrt(N)) x ceil(sqrt(N)) thumbnails.

    Thumbnails are the images themselves, or shrunk (Pillow, box filter,
    aspect kept) when the sprite would be larger than ``max_side`` pixels
    on a side. Returns (sprite uint8 (S*h, S*w, C), (w, h) of one thumbnail).
    """
    from PIL import Image

    n, h, w, c = images.shape
    per_side = max(1, math.ceil(math.sqrt(n)))
    scale = min(1.0, (max_side // per_side) / max(h, w))
    if scale < 1.0:
        th, tw = max(1, int(h * scale)), max(1, int(w * scale))
        small = np.empty((n, th, tw, c), dtype=np.uint8)
        for i in range(n):
            img = Image.fromarray(images[i, ..., 0] if c == 1 else images[i])
            small[i] = np.asarray(img.resize((tw, th), Image.BOX)).reshape(th, tw, c)
        images, h, w = small, th, tw
    return tile(images, ncols=per_side, nrows=per_side, pad=0, fill=0), (w, h)


def _tsv_cell(value: Any) -> str:
    # a tab or a line break inside a value would shift the columns or the rows
    return " ".join(str(value).split()) or "-"


def metadata_tsv(columns: dict[str, Sequence[Any]]) -> str:
    """The text of metadata.tsv: one line per point; a header line of the column names when there are several."""
    names = list(columns)
    rows = zip(*(columns[name] for name in names))
    lines = ["\t".join(_tsv_cell(v) for v in row) for row in rows]
    if len(names) > 1:
        lines.insert(0, "\t".join(_tsv_cell(name) for name in names))
    return "\n".join(lines) + "\n"


def write_projector_layout(out: str | Path, vectors: np.ndarray, name: str, columns: dict[str, Sequence[Any]],
                           images: np.ndarray | None = None) -> list[str]:
    """Write the Projector layout of ``vectors`` (N, d) into directory ``out``, all files appearing at once.

    ``columns``: metadata column name -> N values (none: no metadata.tsv).
    ``images``: uint8 (N, H, W, C) thumbnails for the sprite, or None. An
    existing ``out`` is replaced (check it first with :func:`check_projector_out`).
    Returns the names of the files written.
    """
    from google.protobuf import text_format
    from PIL import Image
    from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

    out = Path(out)
    vectors = np.asarray(vectors, dtype=np.float32)
    n = len(vectors)
    if any(len(values) != n for values in columns.values()) or (images is not None and len(images) != n):
        raise ValueError(f"metadata columns and images must have the {n} rows of the vectors")
    config = ProjectorConfig()
    embedding = config.embeddings.add()
    embedding.tensor_name = name
    embedding.tensor_path = "tensors.tsv"
    embedding.tensor_shape.extend([n, int(vectors.shape[1])])
    written = ["tensors.tsv"]
    io.remove_stale_temporaries(out)
    with io.atomic_dir(out) as tmp:
        with io.atomic_path(tmp / "tensors.tsv") as path:
            np.savetxt(path, vectors, fmt="%.9g", delimiter="\t")
        if columns:
            io.write_text(tmp / "metadata.tsv", metadata_tsv(columns))
            embedding.metadata_path = "metadata.tsv"
            written.append("metadata.tsv")
        if images is not None:
            sprite, (w, h) = sprite_image(images)
            with io.atomic_path(tmp / "sprite.png") as path:
                Image.fromarray(sprite[..., 0] if sprite.shape[-1] == 1 else sprite).save(path, format="PNG")
            embedding.sprite.image_path = "sprite.png"
            embedding.sprite.single_image_dim.extend([w, h])
            written.append("sprite.png")
        io.write_text(tmp / "projector_config.pbtxt", text_format.MessageToString(config))
        written.append("projector_config.pbtxt")
    return written


__all__ = ["INSTALL", "BOARD_DIR", "GRID_COLUMNS", "SAMPLE_ROWS", "SPRITE_MAX_SIDE", "PROJECTOR_FILES",
           "require_tensorboard", "board_dir", "to_uint8", "sample_points", "TrainingBoard",
           "open_training_board", "check_projector_out", "sprite_image", "metadata_tsv", "write_projector_layout"]
