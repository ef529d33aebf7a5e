"""The two-stage VAE sampler (twostage): it learns a known Gaussian, is deterministic for a seed, survives
save/load, and is listed where samplers are listed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from zspace.science.samplers import StaleSampler, load_sampler, make_sampler, sampler_names
from zspace.science.samplers import base
from zspace.science.samplers.networks import isotropic_scaling
from zspace.science.samplers.twostage import TwoStageVAESampler

MEAN = np.array([1.0, -2.0, 0.5])
COV = np.array([[2.0, 0.8, 0.0], [0.8, 1.0, -0.3], [0.0, -0.3, 0.5]])
DOCS = Path(__file__).resolve().parents[2] / "docs" / "question.md"


def small(spec: str, z_dim: int, **sizes):
    """An unfitted twostage sampler, shrunk for a quick test (the defaults are for 30,000 real codes)."""
    sampler = make_sampler(spec, z_dim)
    for key, value in sizes.items():
        setattr(sampler, key, value)
    return sampler


def test_twostage_learns_a_correlated_gaussian():
    z = np.random.default_rng(0).multivariate_normal(MEAN, COV, size=2000)
    sampler = small("twostage:64", 3, epochs=15, lr=5e-3, batch_size=128).fit(z)
    out = sampler.sample(20000, np.random.default_rng(1)).astype(np.float64)
    # Compare in the true whitened frame, where the answer is N(0, I). Tolerances: the 2000 fitted points alone move
    # the mean by ~0.02 (1/sqrt(2000)) and each variance by ~0.03 (sqrt(2/2000)), the extremes of three eigenvalues
    # about twice that; 300 Adam steps leave the fit a little off too (0.90-1.08 over three seeds in trials), so mean
    # within 0.1 and every eigenvalue of the covariance within [0.85, 1.15].
    unwhiten = np.linalg.cholesky(COV)
    x = np.linalg.solve(unwhiten, (out - MEAN).T).T
    assert np.abs(x.mean(axis=0)).max() < 0.1
    eigenvalues = np.linalg.eigvalsh(np.cov(x.T))
    assert eigenvalues.min() > 0.85 and eigenvalues.max() < 1.15, eigenvalues
    assert 0 < sampler.gamma < 1 and np.isfinite(sampler.heldout_elbo)


def test_twostage_is_deterministic_for_a_seed_and_round_trips(tmp_path):
    z = np.random.default_rng(0).standard_normal((200, 2)) * [2.0, 0.5]

    def fit(seed: int):
        return small("twostage:16", 2, epochs=3).fit(z, seed=seed)

    first, again, other = fit(5), fit(5), fit(6)
    draw = first.sample(50, np.random.default_rng(3))
    np.testing.assert_array_equal(draw, again.sample(50, np.random.default_rng(3)))
    assert not np.array_equal(draw, other.sample(50, np.random.default_rng(3)))
    assert draw.shape == (50, 2) and draw.dtype == np.float32

    first.save(tmp_path / "twostage-16")
    meta = json.loads((tmp_path / "twostage-16" / base.SAMPLER_FILE).read_text())
    assert meta["name"] == "twostage" and meta["params"]["hidden"] == 16 and meta["params"]["epochs"] == 3
    assert "net.log_gamma" in meta["learned"] and "unwhiten_" in meta["learned"]
    loaded = load_sampler(tmp_path / "twostage-16")
    np.testing.assert_array_equal(loaded.sample(50, np.random.default_rng(3)), draw)
    assert loaded.gamma == pytest.approx(first.gamma)

    stale = make_sampler("twostage:16", 2)
    with pytest.raises(StaleSampler, match="refit"):
        stale.set_learned({k: v for k, v in first.learned_arrays().items() if not k.startswith("net.")})


def test_twostage_is_listed_with_the_samplers():
    assert "twostage" in sampler_names()
    assert "``twostage[:H]``" in base.__doc__
    assert "| `twostage[:H]` |" in DOCS.read_text()
    assert make_sampler("twostage", 8).hidden == 256 and make_sampler("twostage:32", 8).hidden == 32
    with pytest.raises(Exception, match="hidden width"):
        make_sampler("twostage:0", 8)


def test_isotropic_scaling_keeps_the_relative_variances_and_survives_save_and_load(tmp_path):
    z = np.random.default_rng(4).standard_normal((400, 2)) * [3.0, 0.1] + [5.0, -1.0]
    mean, whiten, unwhiten = isotropic_scaling(z)
    scale = np.sqrt(((z - z.mean(axis=0)) ** 2).sum() / (400 * 2))   # root mean variance per direction
    np.testing.assert_allclose(mean, z.mean(axis=0))
    np.testing.assert_allclose(whiten, np.eye(2) / scale)
    np.testing.assert_allclose(unwhiten @ whiten, np.eye(2), atol=1e-12)
    x = (z - mean) @ whiten
    assert x.var(axis=0)[0] / x.var(axis=0)[1] == pytest.approx(z.var(axis=0)[0] / z.var(axis=0)[1])
    sampler = small("twostage:16", 2, epochs=2)
    sampler.scaling = "isotropic"
    sampler.fit(z, seed=1)
    np.testing.assert_allclose(sampler.whiten_, whiten)
    sampler.save(tmp_path / "iso")
    loaded = load_sampler(tmp_path / "iso")
    assert loaded.scaling == "isotropic"
    draws = [s.sample(20, np.random.default_rng(0)) for s in (loaded, sampler)]
    np.testing.assert_array_equal(*draws)
    with pytest.raises(Exception, match="scaling 'pca' is not one of whiten, isotropic"):
        TwoStageVAESampler(2, scaling="pca")
