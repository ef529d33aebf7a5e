"""Encode, generate and reconstruct through the public API."""

import numpy as np
import pytest
import torch
from PIL import Image

from zspace.data import load_images
from zspace.pipeline.encode import encode
from zspace.pipeline.generate import reconstruct
from zspace.pipeline.run import open_run
from zspace.pipeline.zstore import load_zstore
from zspace.plots.grids import save_reconstruction_grid
from zspace.science.generation import generate
from zspace.science.samplers import load_sampler, make_sampler


def test_encode_vae_writes_z_mu_logvar_labels_factors(vae_run, tmp_path):
    store = encode(vae_run, split="test", device="cpu")
    test = load_images("shapes", "test", seed=3, n=None)
    assert store.z.shape == (len(test), 4) and store.mu.shape == store.z.shape == store.logvar.shape
    np.testing.assert_array_equal(store.labels, test.labels)
    np.testing.assert_array_equal(store.factors, test.factors)
    # z was sampled around mu with the clipped eps
    eps = (store.z - store.mu) / np.exp(store.logvar / 2)
    assert np.abs(eps).max() <= 5.0 + 1e-3 and 0.5 < eps.std() < 1.5
    path = store.save(tmp_path / "z.npz")
    with np.load(path, allow_pickle=False) as f:  # readable with plain numpy
        assert set(f.files) >= {"z", "mu", "logvar", "labels", "factors", "factor_names", "index", "meta"}
    again = load_zstore(path)
    np.testing.assert_array_equal(again.z, store.z)
    assert again.factor_names == test.factor_names and again.meta["model_kind"] == "vae"
    # same seed -> same sampled z
    np.testing.assert_array_equal(encode(vae_run, split="test", device="cpu").z, store.z)


def test_encode_ae_has_no_variational_arrays(ae_run):
    store = encode(ae_run, split="test", n=50, device="cpu")
    assert store.z.shape == (50, 4) and store.mu is None and store.logvar is None


@pytest.mark.parametrize("spec", ["normal", "uniform:10"])
def test_generate_images_in_unit_range_and_reproducible(ae_run, spec):
    z, images = generate(open_run(ae_run), spec, n=10, seed=7, device="cpu")
    assert images.shape == (10, 28, 28, 1) and images.dtype == np.float32
    assert images.min() >= 0 and images.max() <= 1
    z2, images2 = generate(open_run(ae_run), spec, n=10, seed=7, device="cpu")
    np.testing.assert_array_equal(images, images2)
    if spec.startswith("uniform"):
        assert np.abs(z).max() <= 10 and np.abs(z).max() > 5


def test_samplers_have_their_distributions(tmp_path):
    rng = np.random.default_rng(0)
    normal = make_sampler("normal", 8).sample(20000, rng)
    assert abs(normal.mean()) < 0.02 and normal.std() == pytest.approx(1.0, abs=0.02)
    uniform = make_sampler("uniform:2", 8).sample(20000, rng)
    assert uniform.min() >= -2 and uniform.max() <= 2
    assert uniform.std() == pytest.approx(2 / np.sqrt(3), abs=0.02)  # std of U[-a, a] is a/sqrt(3)
    restored = load_sampler(make_sampler("uniform:2", 8).save(tmp_path / "s"))
    assert restored.a == 2 and restored.z_dim == 8


def test_reconstruction_grid_puts_originals_above_reconstructions(ae_run, tmp_path):
    originals, recos = reconstruct(open_run(ae_run), n=5, seed=1, device="cpu")
    assert originals.shape == recos.shape == (5, 28, 28, 1)
    # originals are test images (not training images), reconstructions the model's decode of their encoding
    test = load_images("shapes", "test", seed=3).images.astype(np.float32) / 255
    assert all(any(np.array_equal(o, t) for t in test) for o in originals)
    model = open_run(ae_run).load_model()
    with torch.no_grad():
        x = torch.from_numpy(originals).permute(0, 3, 1, 2)
        direct = model.decode(model.encode(x).z).permute(0, 2, 3, 1).numpy()
    np.testing.assert_allclose(recos, direct, atol=1e-6)
    grid = np.asarray(Image.open(save_reconstruction_grid(originals, recos, tmp_path / "g.png", ncols=8)))
    scale = 96 // 28
    cell = 28 * scale
    top_left = grid[scale:scale + cell, scale:scale + cell].astype(np.float32) / 255
    expected = np.kron(originals[0, :, :, 0], np.ones((scale, scale)))
    np.testing.assert_allclose(top_left, expected, atol=1 / 255 + 1e-6)
