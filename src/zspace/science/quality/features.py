"""The feature space of the sample-quality score: a small conv net zspace trains itself.

No Inception or other downloaded weights. The network is trained on the
training split of the data set the run was trained on, and its penultimate
layer (``feature_dim`` = 128 numbers per image) is the space in which the
Frechet distance and k-NN precision/recall are measured.

Task, by what the data offers:

* labels (Fashion-MNIST, MNIST, shapes, labelled folders): a label
  classifier (cross-entropy);
* no labels (CelebA, plain folders, arrays): a self-supervised rotation
  classifier (Gidaris et al. 2018): each image is rotated by 0, 90, 180 or
  270 degrees and the net predicts which; to do that it must learn the
  orientation of shapes, edges and faces, which is what a decoder gets wrong.
  Non-square images use 0 and 180 degrees only.

Architecture: three stride-2 3x3 convolutions (32, 64, 128 channels,
LeakyReLU) on inputs standardised per channel, adaptive average pooling to 4x4, Dense 2048 -> 128 (the
features), LeakyReLU, Dense 128 -> classes. Trained with Adam (1e-3) for
``epochs`` passes over at most ``max_train_images`` images, seeded.

The trained net is cached as ``model.safetensors`` + ``feature_net.json`` under
``CACHE/feature-nets/<key>/`` (``CACHE`` = $ZSPACE_CACHE or ~/.cache/zspace),
where the key hashes everything that defines it (data spec, image shape,
task, options, seed), so every run on the same data is scored in the same
space. ``feature_net.json`` records the held-out accuracy of the task.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from zspace.core import io, timing
from zspace.core.config import Config
from zspace.core.errors import ZspaceError
from zspace.core.log import get_logger
from zspace.core.progress import progress
from zspace.data import default_cache_dir, load_images
from zspace.pipeline.batches import epoch_order

log = get_logger(__name__)

#: bump when the architecture or training changes, so cached nets are retrained
FEATURE_NET_VERSION = 3
#: this feature space, as tables and reports label its columns (beside the standard scores' Inception-v3)
LABEL = "zspace feature net"


@dataclass
class FeatureNetConfig(Config):
    """What defines a feature net (all of it goes into the cache key).

    Parameters
    ----------
    data : str or None
        Data spec the net is trained on (its ``train`` split); None: the run's
        data (filled in by :class:`zspace.science.quality.score.Scorer`).
    image_size : int or None
        Resize target for folder/CelebA sources, as in training.
    feature_dim : int, default 128
    epochs : int, default 2
    max_train_images : int, default 30000
    batch_size : int, default 128
    lr : float, default 1e-3
    seed : int, default 0
    """

    data: str | None = None
    image_size: int | None = None
    feature_dim: int = 128
    epochs: int = 2
    max_train_images: int = 30000
    batch_size: int = 128
    lr: float = 1e-3
    seed: int = 0

    def key(self, image_shape: tuple[int, ...], task: str, n_classes: int) -> str:
        blob = json.dumps({**asdict(self), "image_shape": list(image_shape), "task": task, "n_classes": n_classes,
                           "version": FEATURE_NET_VERSION}, sort_keys=True)
        return hashlib.sha1(blob.encode()).hexdigest()[:16]


class FeatureNet(nn.Module):
    """Conv classifier whose penultimate layer gives the features (see the module docstring)."""

    def __init__(self, channels: int, n_classes: int, feature_dim: int = 128) -> None:
        super().__init__()
        act = lambda: nn.LeakyReLU(0.2)  # noqa: E731
        self.body = nn.Sequential(
            nn.Conv2d(channels, 32, 3, 2, 1), act(), nn.Conv2d(32, 64, 3, 2, 1), act(),
            nn.Conv2d(64, 128, 3, 2, 1), act(),
            nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(128 * 16, feature_dim))
        self.head = nn.Sequential(nn.LeakyReLU(0.2), nn.Linear(feature_dim, n_classes))
        # per-channel pixel mean and std of the training images: inputs are standardised
        self.register_buffer("pixel_mean", torch.zeros(1, channels, 1, 1))
        self.register_buffer("pixel_std", torch.ones(1, channels, 1, 1))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body((x - self.pixel_mean) / self.pixel_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


@dataclass
class FeatureExtractor:
    """A trained feature net and what it was trained on."""

    net: FeatureNet
    config: FeatureNetConfig
    task: str                 # "labels" or "rotation"
    n_classes: int
    test_accuracy: float
    path: Path

    @torch.no_grad()
    def __call__(self, images: np.ndarray, batch_size: int = 512) -> np.ndarray:
        """Features (N, feature_dim) float32 of images (N, H, W, C): uint8, or float in [0, 1]."""
        self.net.eval()
        out = np.empty((len(images), self.config.feature_dim), dtype=np.float32)
        for start in range(0, len(images), batch_size):
            out[start:start + batch_size] = self.net.features(_to_tensor(images[start:start + batch_size])).numpy()
        return out

    def info(self) -> dict:
        return {"task": self.task, "n_classes": self.n_classes, "test_accuracy": self.test_accuracy,
                "feature_dim": self.config.feature_dim, "path": str(self.path), "data": self.config.data}


def _to_tensor(images: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(np.ascontiguousarray(images))
    x = x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()
    return x.permute(0, 3, 1, 2).contiguous()


def _rotation_task(x: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotate each image by a random multiple of 90 degrees (180 for non-square); return images, classes."""
    square = x.shape[2] == x.shape[3]
    k = torch.randint(0, 4 if square else 2, (len(x),), generator=generator)
    turns = k if square else 2 * k
    out = torch.stack([torch.rot90(img, int(t), dims=(1, 2)) for img, t in zip(x, turns)])
    return out, k


def feature_extractor(config: FeatureNetConfig, cache_dir: str | Path | None = None) -> FeatureExtractor:
    """The feature net for ``config``: loaded from the cache, or trained (and cached) first."""
    if config.data is None:
        raise ZspaceError("feature net: no data spec given (FeatureNetConfig.data)")
    train = load_images(config.data, "train", image_size=config.image_size, seed=config.seed,
                        n=config.max_train_images)
    task = "labels" if train.labels is not None and len(np.unique(train.labels)) >= 2 else "rotation"
    n_classes = int(train.labels.max()) + 1 if task == "labels" else (4 if train.image_shape[0] == train.image_shape[1] else 2)
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    directory = root / "feature-nets" / config.key(train.image_shape, task, n_classes)
    if (directory / "feature_net.json").exists() and (directory / "model.safetensors").exists():
        return _load(directory, config, train.image_shape, task, n_classes)
    with timing.stage("feature net"):
        net, accuracy = _train(train, config, task, n_classes)
    _save(net, directory, config, task, n_classes, accuracy, train.image_shape)
    return FeatureExtractor(net.eval(), config, task, n_classes, accuracy, directory)


def cached_feature_extractor(config: FeatureNetConfig, cache_dir: str | Path | None = None) -> FeatureExtractor | None:
    """The feature net for ``config`` when it is cached, else None; nothing is trained or written, and the data
    is not read (the cached nets' records say which image shape, task and classes their keys hash)."""
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    for meta_path in sorted((root / "feature-nets").glob("*/feature_net.json")):
        directory = meta_path.parent
        try:
            meta = json.loads(meta_path.read_text())
            shape, task, n_classes = tuple(meta["image_shape"]), str(meta["task"]), int(meta["n_classes"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if config.key(shape, task, n_classes) == directory.name and (directory / "model.safetensors").exists():
            return _load(directory, config, shape, task, n_classes)
    return None


def _load(directory: Path, config: FeatureNetConfig, image_shape: tuple[int, ...], task: str,
          n_classes: int) -> FeatureExtractor:
    from safetensors.torch import load_file

    net = FeatureNet(image_shape[2], n_classes, config.feature_dim)
    net.load_state_dict(load_file(str(directory / "model.safetensors")))
    meta = json.loads((directory / "feature_net.json").read_text())
    return FeatureExtractor(net.eval(), config, task, n_classes, meta["test_accuracy"], directory)


def _train(train, config: FeatureNetConfig, task: str, n_classes: int) -> tuple[FeatureNet, float]:
    log.info("training the feature net on %s (%s task, %d images, %d epochs)", config.data, task, len(train),
             config.epochs)
    with torch.random.fork_rng():
        torch.manual_seed(config.seed)
        net = FeatureNet(train.image_shape[2], n_classes, config.feature_dim)
        pixels = train.images[:5000].reshape(-1, train.image_shape[2]).astype(np.float64) / 255.0
        net.pixel_mean.copy_(torch.from_numpy(pixels.mean(0)).view(1, -1, 1, 1))
        net.pixel_std.copy_(torch.from_numpy(np.maximum(pixels.std(0), 1e-3)).view(1, -1, 1, 1))
        generator = torch.Generator().manual_seed(config.seed)
        opt = torch.optim.Adam(net.parameters(), lr=config.lr)
        labels = None if task == "rotation" else torch.from_numpy(train.labels.astype(np.int64))
        net.train()
        for epoch in range(1, config.epochs + 1):
            order = epoch_order(len(train), config.seed, epoch)
            bar = progress(total=len(order), desc=f"feature net {epoch}/{config.epochs}", unit="img")
            for start in range(0, len(order), config.batch_size):
                idx = np.sort(order[start:start + config.batch_size])
                x = _to_tensor(train.images[idx])
                if task == "rotation":
                    x, y = _rotation_task(x, generator)
                else:
                    y = labels[idx]
                loss = nn.functional.cross_entropy(net(x), y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                bar.update(len(idx))
                bar.set_postfix(loss=f"{loss.item():.3f}")
            bar.close()
        net.eval()
        return net, _test_accuracy(net, config, task, generator)


@torch.no_grad()
def _test_accuracy(net: FeatureNet, config: FeatureNetConfig, task: str, generator: torch.Generator) -> float:
    try:
        test = load_images(config.data, "test", image_size=config.image_size, seed=config.seed, n=5000)
    except ZspaceError:
        return float("nan")
    correct = 0
    for start in range(0, len(test), 512):
        x = _to_tensor(test.images[start:start + 512])
        if task == "rotation":
            x, y = _rotation_task(x, generator)
        else:
            y = torch.from_numpy(test.labels[start:start + 512].astype(np.int64))
        correct += int((net(x).argmax(1) == y).sum())
    return correct / max(len(test), 1)


def _save(net: FeatureNet, directory: Path, config: FeatureNetConfig, task: str, n_classes: int, accuracy: float,
          image_shape: tuple[int, ...]) -> None:
    from safetensors.torch import save_file

    with io.atomic_path(directory / "model.safetensors") as tmp:
        save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(tmp))
    io.write_json(directory / "feature_net.json", {**asdict(config), "task": task, "n_classes": n_classes,
                                                   "test_accuracy": accuracy, "image_shape": list(image_shape),
                                                   "version": FEATURE_NET_VERSION})


__all__ = ["FeatureNetConfig", "FeatureNet", "FeatureExtractor", "feature_extractor", "cached_feature_extractor",
           "LABEL"]
