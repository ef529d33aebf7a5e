"""The field's own numbers: FID, KID, precision/recall and density/coverage in Inception-v3 features, offline.

zspace's sample-quality score (:mod:`zspace.science.quality.features`) measures in a small net trained on the
run's own data: comparable within zspace, not with papers. Papers report the Frechet Inception Distance (FID),
measured in the 2048-d pool features of the TensorFlow Inception-v3 graph of 2015-12-05. This module computes
those numbers through torch-fidelity (the optional extra ``pip install 'zspace[fidelity]'``): its port of that
graph (``FeatureExtractorInceptionV3``: bilinear resize to 299 x 299 as TensorFlow 1.x does it, pixels
(x - 128) / 128), its FID, its KID and its precision/recall; density and coverage (Naeem et al. 2020) are
computed here from the same features (the formulas of the ``prdc`` package; checked against it in the tests).

**No downloads.** The weights come from a local file the user fetched once (torch-fidelity's release asset
:data:`INCEPTION_URL`), named by ``--inception-weights FILE`` or ``$ZSPACE_INCEPTION_WEIGHTS``. The file is a
pickle, so its SHA-256 is checked against :data:`INCEPTION_SHA256` before torch reads a byte of it; a
mismatch stops with one line naming the file and where the right one is. Without a file the standard
columns are absent and :data:`HINT` says in one line how to get them.

Images go in as zspace holds them, (N, H, W, C) uint8 or float in [0, 1] (rounded to uint8 levels, as
:func:`zspace.core.images.to_uint8`); grey images are repeated to 3 channels, as torch-fidelity's own
loader does with a grey PIL image.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from zspace.core.checksums import file_sha256
from zspace.core.config import Config
from zspace.core.device import select_device
from zspace.core.errors import ZspaceError, require
from zspace.core.images import to_uint8
from zspace.core.neighbours import distance_blocks, kth_neighbour_distances

#: the file name of torch-fidelity's Inception-v3 weights (release v0.2.0; torch.hub names a file by the first
#: 8 hex digits of its SHA-256, here 6726825d)
INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"
#: where the user fetches it (zspace never does)
INCEPTION_URL = f"https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/{INCEPTION_FILE}"
#: its SHA-256 (95,628,359 bytes), as two independent public records give it; it starts with the file name's
#: 6726825d
INCEPTION_SHA256 = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"
#: the environment variable naming the weights file when --inception-weights is not given
WEIGHTS_ENV = "ZSPACE_INCEPTION_WEIGHTS"
#: the feature net of the standard columns, as tables and reports label it
LABEL = "Inception-v3, torch-fidelity"
#: torch-fidelity's Inception feature layers and their widths; FID is defined on "2048" (the pool features)
FEATURE_LAYERS = {"64": 64, "192": 192, "768": 768, "2048": 2048}
#: the one line shown where the standard columns are absent
HINT = (f"standard scores (FID, KID in {LABEL} features) not computed: fetch {INCEPTION_FILE} from "
        f"{INCEPTION_URL} and pass --inception-weights FILE or set {WEIGHTS_ENV} (docs/question.md)")


@dataclass
class StandardConfig(Config):
    """Options of the standard scores.

    Parameters
    ----------
    weights : str or None
        Path of torch-fidelity's Inception-v3 weights file; None: ``$ZSPACE_INCEPTION_WEIGHTS``, and
        without that no standard scores (:meth:`weights_file`).
    expected_sha256 : str
        The hex SHA-256 the file must have: the published file's (:data:`INCEPTION_SHA256`) unless a test
        passes the digest of a file of its own.
    kid_subsets : int, default 100
        KID: random subsets averaged (torch-fidelity's default).
    kid_subset_size : int, default 1000
        KID: images per subset, capped at the size of the smaller set (torch-fidelity's default).
    kid_seed : int, default 2020
        KID: seed of the subsets (torch-fidelity's default ``rng_seed``).
    prc_k : int, default 3
        Precision/recall: the k-th nearest neighbour sets a ball's radius (Kynkaanniemi et al. 2019;
        torch-fidelity's ``prc_neighborhood``).
    dc_k : int, default 5
        Density/coverage: the k of Naeem et al. 2020 (their recommended 5).
    batch_size : int, default 64
        Images per Inception forward pass.
    feature_layer : str, default "2048"
        torch-fidelity's feature layer: "2048" (the pool features: the FID of papers), or "64", "192", "768"
        (earlier, narrower layers, as pytorch-fid's ``--dims``, for sets of fewer images than dimensions; their
        numbers are not comparable with the FID of papers).
    """

    weights: str | None = None
    expected_sha256: str = INCEPTION_SHA256
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    kid_seed: int = 2020
    prc_k: int = 3
    dc_k: int = 5
    batch_size: int = 64
    feature_layer: str = "2048"

    def validate(self) -> None:
        require(len(self.expected_sha256) == 64 and all(c in "0123456789abcdef" for c in self.expected_sha256),
                f"expected_sha256 {self.expected_sha256!r} must be 64 lower-case hex digits")
        require(self.feature_layer in FEATURE_LAYERS,
                f"feature_layer {self.feature_layer!r} must be one of {', '.join(FEATURE_LAYERS)}")
        for name in ("kid_subsets", "kid_subset_size", "prc_k", "dc_k", "batch_size"):
            require(getattr(self, name) >= 1, f"{name} {getattr(self, name)} must be >= 1")

    def weights_file(self) -> Path | None:
        """The weights file to use: :attr:`weights`, else ``$ZSPACE_INCEPTION_WEIGHTS``, else None (no scores)."""
        given = self.weights or os.environ.get(WEIGHTS_ENV) or None
        return None if given is None else Path(given).expanduser()


def check_weights(path: str | os.PathLike, expected_sha256: str = INCEPTION_SHA256) -> Path:
    """``path`` when it is a file whose SHA-256 is ``expected_sha256``; otherwise one-line ZspaceError naming it."""
    path = Path(path)
    fetch = f"fetch {INCEPTION_FILE} from {INCEPTION_URL}"
    require(path.is_file(), f"Inception weights {path}: no such file; {fetch}")
    digest = file_sha256(path)
    require(digest == expected_sha256,
            f"Inception weights {path}: SHA-256 {digest[:16]}... is not {expected_sha256[:16]}... (torch-fidelity's "
            f"Inception-v3 weights); {fetch}")
    return path


def require_torch_fidelity():
    """The torch_fidelity module, or a one-line ZspaceError saying how to install it."""
    try:
        import torch_fidelity
    except ImportError:
        raise ZspaceError("the standard scores need torch-fidelity: pip install 'zspace[fidelity]'") from None
    except RuntimeError as exc:  # torchvision (which torch-fidelity imports) built for another torch
        raise ZspaceError(f"torch-fidelity cannot be imported: its torchvision does not fit torch "
                          f"{torch.__version__} ({' '.join(str(exc).split())}); install the torchvision built for "
                          "this torch (a CPU-only torch needs a CPU-only torchvision)") from None
    return torch_fidelity


def inception_input(images: np.ndarray) -> torch.Tensor:
    """(N, 3, H, W) uint8 tensor of images (N, H, W, C) uint8 or float in [0, 1]; C = 1 is repeated to 3."""
    images = np.asarray(images)
    require(images.ndim == 4 and images.shape[-1] in (1, 3),
            f"standard scores: images must be (N, H, W, 1 or 3), got {images.shape}")
    pixels = images if images.dtype == np.uint8 else to_uint8(images)
    x = torch.from_numpy(np.ascontiguousarray(pixels)).permute(0, 3, 1, 2)
    return x.expand(-1, 3, -1, -1).contiguous() if x.shape[1] == 1 else x.contiguous()


class InceptionFeatures:
    """torch-fidelity's Inception-v3 feature extractor, built from a checked local weights file.

    ``__call__(images)`` gives the (N, D) float32 features of images (N, H, W, C), uint8 or float in [0, 1], at
    ``layer`` (D = 2048 for the pool features, the FID's); torch-fidelity resizes the images to 299 x 299
    inside. The forward pass is torch-fidelity's own, in its batches of 64 and its memory layout, so the
    features are the ones its ``calculate_metrics`` extracts (the channels-last layout would be 1.6x faster on
    a 2-core CPU, but moves the features by ~1e-6 and KID, a small difference of large float32 kernel sums, by
    ~2e-4 relative: benchmarks/bench_fidelity.py).
    """

    def __init__(self, weights: str | os.PathLike, expected_sha256: str = INCEPTION_SHA256, batch_size: int = 64,
                 device: str = "auto", layer: str = "2048") -> None:
        self.path = check_weights(weights, expected_sha256)
        self.sha256 = expected_sha256
        self.batch_size = batch_size
        self.layer = layer
        self.device = select_device(device)
        require_torch_fidelity()
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

        self.net = FeatureExtractorInceptionV3("inception-v3-compat", [layer],
                                               feature_extractor_weights_path=str(self.path)).to(self.device)

    @torch.no_grad()
    def __call__(self, images: np.ndarray) -> np.ndarray:
        out = np.empty((len(images), FEATURE_LAYERS[self.layer]), dtype=np.float32)
        for start in range(0, len(images), self.batch_size):
            x = inception_input(images[start:start + self.batch_size]).to(self.device)
            out[start:start + len(x)] = self.net(x)[0].cpu().numpy()
        return out


def density_coverage(real: np.ndarray, fake: np.ndarray, k: int = 5) -> tuple[float, float]:
    """Density and coverage of ``fake`` (M, D) against ``real`` (N, D) features (Naeem et al. 2020).

    Each real point gets a ball reaching its k-th nearest other real point. Density = (1 / kM) x the number of
    (fake, real ball) pairs with the fake point strictly inside (1 on average when the sets match; above 1
    where fakes crowd dense real regions); coverage = the share of real points whose ball holds some fake point
    (in [0, 1]). Strict inequalities, as the ``prdc`` package.
    """
    real = np.asarray(real, dtype=np.float32)
    fake = np.asarray(fake, dtype=np.float32)
    require(len(real) > k, f"density/coverage: need more than k={k} real points, got {len(real)}")
    radii = torch.from_numpy(kth_neighbour_distances(real, k))
    inside = 0
    for _, d in distance_blocks(fake, real):
        inside += int((d < radii[None, :]).sum())
    covered = 0
    for rows, d in distance_blocks(real, fake):
        covered += int((d.min(dim=1).values < radii[rows]).sum())
    return inside / (k * len(fake)), covered / len(real)


@dataclass
class StandardRow:
    """The standard scores of one image set against the real reference set, in Inception-v3 features.

    Attributes
    ----------
    fid : float
        Frechet Inception Distance (torch-fidelity's); 0 for the same Gaussian, lower is better. Its positive
        bias shrinks with the number of images: compare rows of equal n.
    kid, kid_std : float
        Kernel Inception Distance (torch-fidelity's: unbiased MMD^2, cubic polynomial kernel) averaged over random
        subsets, and its spread over them; papers often print it x 1000.
    precision, recall : float
        k-NN precision and recall in [0, 1] (torch-fidelity's, k = ``prc_k``).
    density, coverage : float
        Naeem et al. 2020 (k = ``dc_k``): density ~1 for matching sets; coverage in [0, 1].
    """

    fid: float
    kid: float
    kid_std: float
    precision: float
    recall: float
    density: float
    coverage: float


class StandardScorer:
    """The real reference set's Inception features, once; then :meth:`score_images` per image set.

    Parameters
    ----------
    real_images : ndarray (N, H, W, C)
        The real reference set, uint8 or float in [0, 1].
    config : StandardConfig
        Its :meth:`StandardConfig.weights_file` must name a file (see :func:`standard_scorer`).
    device : str
        Where Inception runs ("auto": a GPU when there is one).
    """

    def __init__(self, real_images: np.ndarray, config: StandardConfig, device: str = "auto") -> None:
        path = config.weights_file()
        require(path is not None, HINT)
        self.config = config
        self.features = InceptionFeatures(path, config.expected_sha256, config.batch_size, device,
                                          config.feature_layer)
        self.real = self.features(real_images)
        require_torch_fidelity()
        from torch_fidelity.metric_fid import fid_features_to_statistics

        self.real_stats = fid_features_to_statistics(torch.from_numpy(self.real))

    def score_features(self, feats: np.ndarray) -> StandardRow:
        """The standard scores of Inception features (M, D) against the real reference set."""
        from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric
        from torch_fidelity.metric_kid import kid_features_to_metric
        from torch_fidelity.metric_prc import prc_features_to_metric

        cfg = self.config
        fake, real = torch.from_numpy(feats), torch.from_numpy(self.real)
        fid = fid_statistics_to_metric(fid_features_to_statistics(fake), self.real_stats, verbose=False)
        # torch-fidelity's convention: input 1 is generated, input 2 real (the order of the KID subsets' draws)
        kid = kid_features_to_metric(fake, real, kid_subsets=cfg.kid_subsets, verbose=False, rng_seed=cfg.kid_seed,
                                     kid_subset_size=min(cfg.kid_subset_size, len(fake), len(real)))
        prc = prc_features_to_metric(fake, real, prc_neighborhood=cfg.prc_k, save_cpu_ram=True, verbose=False)
        density, coverage = density_coverage(self.real, feats, cfg.dc_k)
        return StandardRow(fid=float(fid["frechet_inception_distance"]),
                           kid=float(kid["kernel_inception_distance_mean"]),
                           kid_std=float(kid["kernel_inception_distance_std"]), precision=float(prc["precision"]),
                           recall=float(prc["recall"]), density=float(density), coverage=float(coverage))

    def score_images(self, images: np.ndarray) -> StandardRow:
        """The standard scores of images (M, H, W, C), uint8 or float in [0, 1], against the real reference set."""
        return self.score_features(self.features(images))

    def info(self) -> dict[str, Any]:
        """What the standard columns were measured with (stored beside them in scores and question.json)."""
        import torch_fidelity

        layer = self.config.feature_layer
        return {"label": LABEL if layer == "2048" else f"{LABEL}, layer {layer}", "weights": str(self.features.path),
                "sha256": self.features.sha256, "torch_fidelity": torch_fidelity.__version__,
                "feature_dim": FEATURE_LAYERS[layer], "n_reference": len(self.real),
                **{k: v for k, v in dataclasses.asdict(self.config).items() if k not in ("weights", "expected_sha256")}}


def standard_scorer(real_images: np.ndarray, config: StandardConfig | None = None,
                    device: str = "auto") -> StandardScorer | None:
    """A :class:`StandardScorer` when the config (or ``$ZSPACE_INCEPTION_WEIGHTS``) names a weights file, else None."""
    config = config or StandardConfig()
    if config.weights_file() is None:
        return None
    return StandardScorer(real_images, config, device)


__all__ = ["FEATURE_LAYERS", "INCEPTION_FILE", "INCEPTION_URL", "INCEPTION_SHA256", "WEIGHTS_ENV", "LABEL", "HINT",
           "StandardConfig", "StandardRow", "StandardScorer", "InceptionFeatures", "check_weights", "density_coverage",
           "inception_input", "require_torch_fidelity", "standard_scorer"]
