"""Losses against independent numpy computations."""

import numpy as np
import pytest
import torch

from zspace.pipeline.losses import kl_loss, reconstruction_loss


def test_bce_summed_per_image_and_averaged_over_batch():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(5, 3, 4, 4))
    target = rng.uniform(size=(5, 3, 4, 4))
    p = 1 / (1 + np.exp(-logits))
    expected = (-(target * np.log(p) + (1 - target) * np.log(1 - p))).reshape(5, -1).sum(1).mean()
    got = reconstruction_loss(torch.tensor(logits), torch.tensor(target), "bce")
    assert float(got) == pytest.approx(expected, rel=1e-5)


def test_bce_is_finite_for_saturated_logits():
    logits = torch.tensor([[[[1e4, -1e4]]]])
    target = torch.tensor([[[[0.0, 1.0]]]])
    assert float(reconstruction_loss(logits, target)) == pytest.approx(2e4, rel=1e-6)


def test_mse_option():
    logits = torch.zeros(2, 1, 2, 2)  # sigmoid -> 0.5
    target = torch.ones(2, 1, 2, 2)
    assert float(reconstruction_loss(logits, target, "mse")) == pytest.approx(4 * 0.25)


def test_kl_closed_form():
    rng = np.random.default_rng(1)
    mu, logvar = rng.normal(size=(6, 8)), rng.normal(size=(6, 8))
    var = np.exp(logvar)
    expected = (0.5 * (var + mu**2 - 1 - logvar)).sum(1).mean()
    assert float(kl_loss(torch.tensor(mu), torch.tensor(logvar))) == pytest.approx(expected, rel=1e-6)
    assert float(kl_loss(torch.zeros(3, 4), torch.zeros(3, 4))) == 0.0
