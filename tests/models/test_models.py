"""Model shapes and the parameter counts SPEC gives for the seeds' CelebA models."""

import numpy as np
import pytest
import torch

from zspace.core.errors import ZspaceError
from zspace.models import ModelConfig, build_model, forward_flops, summarize

# SPEC section 2, in millions: (kind, z_dim, extra_dense) -> (encoder, decoder or None)
SPEC_COUNTS = [
    ("vae", 256, None, 5.11, 2.76),
    ("vae", 256, 256, 2.88, 2.76),
    ("vae", 256, 384, 4.13, 2.76),
    ("ae", 256, None, 2.75, 2.76),
    ("vae", 512, None, 9.83, 5.1),
]


@pytest.mark.parametrize("kind,z_dim,extra,enc_m,dec_m", SPEC_COUNTS)
def test_parameter_counts_match_spec_within_one_percent(kind, z_dim, extra, enc_m, dec_m):
    summary = summarize(build_model(ModelConfig(kind=kind, input_shape=(96, 96, 3), z_dim=z_dim, extra_dense=extra)))
    assert summary.params("encoder") == pytest.approx(enc_m * 1e6, rel=0.01)
    assert summary.params("decoder") == pytest.approx(dec_m * 1e6, rel=0.01)


def test_counts_by_hand():
    # SPEC's check by hand: four convolutions hold 388,416 parameters, each Dense 9216->256 head 2,359,552.
    rows = summarize(build_model(ModelConfig(kind="vae"))).rows["encoder"]
    conv = sum(r.params for r in rows if r.kind == "Conv2d")
    heads = [r.params for r in rows if r.name in ("mu_head", "logvar_head")]
    assert conv == 388_416
    assert heads == [2_359_552, 2_359_552]


@pytest.mark.parametrize("shape", [(28, 28, 1), (96, 96, 3), (30, 20, 3), (7, 9, 1)])
def test_decoder_reproduces_any_input_shape(shape):
    config = ModelConfig(kind="ae", input_shape=shape, z_dim=3, filters=(4, 8, 8) if min(shape[:2]) >= 8 else (4, 8))
    model = build_model(config)
    x = torch.rand(2, shape[2], shape[0], shape[1])
    logits, enc = model(x)
    assert logits.shape == x.shape
    assert enc.z.shape == (2, 3)
    out = model.decode(enc.z).detach()
    assert float(out.min()) >= 0 and float(out.max()) <= 1


def test_vae_sampling_clip_and_eps_factor():
    torch.manual_seed(0)
    model = build_model(ModelConfig(kind="vae", input_shape=(16, 16, 1), z_dim=64, filters=(4,), eps_clip=1.5))
    x = torch.rand(256, 1, 16, 16)
    torch.set_grad_enabled(False)
    enc = model.encode(x)
    eps = (enc.z - enc.mu) / torch.exp(0.5 * enc.logvar)
    assert float(eps.abs().max()) <= 1.5 + 1e-4
    # a standard normal exceeds 1.5 in ~13% of draws, so the clip must be active
    assert float((eps.abs() > 1.4999).float().mean()) > 0.05
    model.eps_factor = 0.0
    enc0 = model.encode(x)
    torch.testing.assert_close(enc0.z, enc0.mu)
    model.eps_factor = 2.0
    enc2 = model.encode(x)
    eps2 = (enc2.z - enc2.mu) / torch.exp(0.5 * enc2.logvar)
    assert float(eps2.abs().max()) == pytest.approx(3.0, abs=1e-3)
    torch.set_grad_enabled(True)


@pytest.mark.parametrize("bad,match", [
    (dict(z_dim=0), "z_dim 0"),
    (dict(input_shape=(4, 4, 1), filters=(8, 8, 8)), "convolution 3 would see a 1x1 map"),
    (dict(kernel_size=4), "odd"),
    (dict(kind="gan"), "unknown"),
    (dict(input_shape=(28, 28, 2)), "channels"),
])
def test_bad_model_config_names_the_field(bad, match):
    with pytest.raises(ZspaceError, match=match):
        ModelConfig(**bad)


def test_batchnorm_variant_has_expected_extra_parameters():
    plain = summarize(build_model(ModelConfig(kind="ae", input_shape=(28, 28, 1), z_dim=8, filters=(8, 16))))
    bn = summarize(build_model(ModelConfig(kind="ae", input_shape=(28, 28, 1), z_dim=8, filters=(8, 16), batch_norm=True)))
    # BatchNorm adds gamma and beta per channel: encoder 8+16 channels, decoder one hidden layer of 8
    assert bn.params("encoder") - plain.params("encoder") == 2 * (8 + 16)
    assert bn.params("decoder") - plain.params("decoder") == 2 * 8
    assert np.isfinite(bn.total_params)


def test_forward_flops_match_a_hand_count():
    """One stride-2 conv (1 -> 4 channels, 3x3) on 8x8, Dense 64 -> 2, Dense 2 -> 64, one transposed conv 4 -> 1."""
    config = ModelConfig(kind="ae", input_shape=(8, 8, 1), z_dim=2, filters=(4,))
    conv = 2 * (4 * 4) * 4 * (3 * 3 * 1)          # 4x4 outputs x 4 channels x 9 taps, 2 FLOP per multiply-add
    dense = 2 * 64 * 2 + 2 * 2 * 64                 # 4*4*4 = 64 features -> 2, and back
    transposed = 2 * (4 * 4) * 4 * (3 * 3 * 1)      # every input pixel scatters 9 taps x 1 channel from 4
    assert forward_flops(config) == conv + dense + transposed
