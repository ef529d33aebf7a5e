"""A stand-in for torch-fidelity's Inception-v3 weights file, for tests and benchmarks that cannot download it.

:func:`random_inception_weights` builds torch-fidelity's ``FeatureExtractorInceptionV3`` (the same architecture
and state-dict keys as the real ``weights-inception-2015-12-05-6726825d.pth``) with random, seeded weights and
saves its state dict with ``torch.save``, the real file's format; the caller passes the file's own SHA-256 as
``expected_sha256``. The numbers it gives are not the paper numbers, only the same computation.

:func:`import_torch_fidelity` imports torch-fidelity where the installed torchvision cannot load its C++ ops
(this machine: a CUDA build of torchvision beside the CPU-only torch of /opt/wheels; torchvision's import then
fails registering a fake for ``torchvision::nms``). torch-fidelity needs torchvision only for its data sets and
transforms, never for the Inception path, so the stand-in defines the two op schemas that torchvision's import
touches, and imports again. zspace itself does not do this: there the mismatch is a one-line error.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from unittest import mock

import torch
from torch import nn

_STUB_LIBRARY = None


def import_torch_fidelity():
    """The torch_fidelity module, importable even beside a torchvision whose C++ ops cannot load (see above)."""
    global _STUB_LIBRARY
    try:
        import torchvision  # noqa: F401
    except RuntimeError as exc:
        if "torchvision::nms" not in str(exc):
            raise
        if _STUB_LIBRARY is None:
            _STUB_LIBRARY = torch.library.Library("torchvision", "DEF")
            for op in ("nms", "qnms"):
                _STUB_LIBRARY.define(f"{op}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        import torchvision  # noqa: F401,F811
    import torch_fidelity

    return torch_fidelity


def random_inception_weights(path: str | Path, seed: int = 0) -> str:
    """Write a random-init Inception-v3 state dict to ``path`` (torch.save, as the real file); return its SHA-256.

    Convolutions get He-normal weights and BatchNorm its identity statistics, so the 2048 pool features stay
    of order 1 through the 94 layers (the default init would shrink them towards 0).
    """
    import_torch_fidelity()
    from torch_fidelity import feature_extractor_inceptionv3 as inception

    with torch.random.fork_rng(), mock.patch.object(inception, "load_state_dict_from_url", lambda *a, **k: None), \
            mock.patch.object(inception.FeatureExtractorInceptionV3, "load_state_dict", lambda self, *a, **k: None):
        torch.manual_seed(seed)
        net = inception.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
        for module in net.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    torch.save(net.state_dict(), str(path))
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
