"""Fitted samplers reproduce what they fitted, survive save/load, and are used by generate."""

from __future__ import annotations

import numpy as np
import pytest

from zspace.cli import main
from zspace.core.errors import ZspaceError
from zspace.pipeline.run import open_run
from zspace.science.generation import generate
from zspace.science.latents import fit_sampler, training_latents
from zspace.science.samplers import SAMPLERS, load_sampler, make_sampler


def correlated_cloud(n=20000, seed=0):
    """A 3-d Gaussian with known mean and covariance."""
    mean = np.array([1.0, -2.0, 0.5])
    cov = np.array([[2.0, 0.8, 0.0], [0.8, 1.0, -0.3], [0.0, -0.3, 0.5]])
    return np.random.default_rng(seed).multivariate_normal(mean, cov, size=n), mean, cov


def test_diag_gauss_reproduces_mean_and_std():
    z, mean, cov = correlated_cloud()
    s = make_sampler("diag-gauss", 3).fit(z).sample(40000, np.random.default_rng(1))
    np.testing.assert_allclose(s.mean(0), mean, atol=0.05)
    np.testing.assert_allclose(s.std(0), np.sqrt(np.diag(cov)), rtol=0.03)
    assert abs(np.corrcoef(s.T)[0, 1]) < 0.03  # no correlation kept


def test_full_gauss_reproduces_covariance():
    z, mean, cov = correlated_cloud()
    s = make_sampler("full-gauss", 3).fit(z).sample(40000, np.random.default_rng(1))
    np.testing.assert_allclose(s.mean(0), mean, atol=0.05)
    np.testing.assert_allclose(np.cov(s.T), cov, atol=0.06)


def test_gmm_recovers_components_and_moments():
    rng = np.random.default_rng(0)
    z = np.concatenate([rng.normal(-5, 1, (6000, 2)), rng.normal(5, 0.5, (2000, 2))])
    sampler = make_sampler("gmm:2", 2).fit(z)
    order = np.argsort(sampler.means_[:, 0])
    np.testing.assert_allclose(sampler.weights_[order], [0.75, 0.25], atol=0.02)
    np.testing.assert_allclose(sampler.means_[order], [[-5, -5], [5, 5]], atol=0.1)
    s = sampler.sample(40000, np.random.default_rng(1))
    np.testing.assert_allclose(s.mean(0), z.mean(0), atol=0.1)
    np.testing.assert_allclose(np.cov(s.T), np.cov(z.T), rtol=0.05, atol=0.05)


def test_marginal_keeps_marginals_and_breaks_correlation():
    z, _, _ = correlated_cloud()
    s = make_sampler("marginal", 3).fit(z).sample(40000, np.random.default_rng(1))
    for j in range(3):
        np.testing.assert_allclose(np.quantile(s[:, j], [0.1, 0.5, 0.9]), np.quantile(z[:, j], [0.1, 0.5, 0.9]),
                                   atol=0.05)
    assert abs(np.corrcoef(s.T)[0, 1]) < 0.03
    assert np.corrcoef(z.T)[0, 1] > 0.5


def test_shell_reproduces_radius_distribution_with_uniform_directions():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((20000, 8)) * 3.0
    s = make_sampler("shell", 8).fit(z).sample(40000, np.random.default_rng(1))
    qs = [0.05, 0.5, 0.95]
    np.testing.assert_allclose(np.quantile(np.linalg.norm(s, axis=1), qs), np.quantile(np.linalg.norm(z, axis=1), qs),
                               rtol=0.02)
    direction = s / np.linalg.norm(s, axis=1, keepdims=True)
    np.testing.assert_allclose(direction.mean(0), 0, atol=0.02)
    np.testing.assert_allclose((direction ** 2).mean(0), 1 / 8, atol=0.01)


def test_interp_points_lie_between_neighbours():
    # points on a circle: a neighbour interpolation stays close to it, never crosses it
    angle = np.random.default_rng(0).uniform(0, 2 * np.pi, 3000)
    z = np.stack([np.cos(angle), np.sin(angle)], 1)
    s = make_sampler("interp:3", 2).fit(z).sample(5000, np.random.default_rng(1))
    radius = np.linalg.norm(s, axis=1)
    assert radius.max() <= 1 + 1e-5
    assert radius.min() > 0.99
    np.testing.assert_allclose(s.mean(0), z.mean(0), atol=0.05)


@pytest.mark.parametrize("spec", ["diag-gauss", "full-gauss", "gmm:2", "marginal", "shell", "interp:2", "flow:2"])
def test_saved_sampler_draws_the_same_points(tmp_path, spec):
    z, _, _ = correlated_cloud(n=500)
    sampler = make_sampler(spec, 3)
    if spec.startswith("flow"):
        sampler.epochs = 1
    sampler.fit(z)
    restored = load_sampler(sampler.save(tmp_path / "s"))
    assert type(restored) is type(sampler) and restored.params() == sampler.params()
    np.testing.assert_array_equal(restored.sample(50, np.random.default_rng(7)), sampler.sample(50, np.random.default_rng(7)))
    assert not list(tmp_path.rglob("*.pkl"))


def test_unfitted_sampler_refuses_to_sample():
    with pytest.raises(ZspaceError, match="fit-sampler"):
        make_sampler("gmm", 3).sample(5, np.random.default_rng(0))


def test_fit_spec_argument_must_be_an_integer():
    with pytest.raises(ZspaceError, match="integer"):
        make_sampler("gmm:2.5", 3)


def test_registry_lists_the_issue_samplers():
    assert {"normal", "uniform", "diag-gauss", "full-gauss", "gmm", "marginal", "shell", "interp"} <= set(SAMPLERS)


def test_generate_uses_the_sampler_fitted_in_the_run(ae_run):
    run = open_run(ae_run)
    with pytest.raises(ZspaceError, match="fit-sampler"):
        generate(run, "diag-gauss", n=4, device="cpu")
    sampler = fit_sampler(run, "diag-gauss", device="cpu")
    z_train = training_latents(run, device="cpu")
    np.testing.assert_allclose(sampler.mean_, z_train.mean(0), rtol=1e-5, atol=1e-6)
    assert (ae_run / "samplers" / "diag-gauss" / "state.safetensors").exists()
    z, images = generate(run, "diag-gauss", n=6, seed=2, device="cpu")
    np.testing.assert_allclose(z, sampler.sample(6, np.random.default_rng(2)))
    assert images.shape == (6, 28, 28, 1)


def test_cli_fit_sampler_then_generate(ae_run, tmp_path, capsys):
    assert main(["fit-sampler", str(ae_run), "gmm:2", "--device", "cpu"]) == 0
    assert "gmm-2" in capsys.readouterr().out
    out = tmp_path / "g.npy"
    assert main(["generate", str(ae_run), "--sampler", "gmm:2", "--n", "5", "--out", str(out), "--device", "cpu"]) == 0
    assert np.load(out).shape == (5, 28, 28, 1)
    assert main(["generate", str(ae_run), "--sampler", "shell", "--n", "5", "--out", str(tmp_path / "h.npy")]) == 2


def test_a_sampler_fitted_to_another_epoch_is_refitted(ae_run):
    import json as _json

    from zspace.science.latents import fitted_sampler

    fit_sampler(ae_run, "full-gauss", epoch=1, device="cpu")
    meta = ae_run / "samplers" / "full-gauss" / "sampler.json"
    assert _json.loads(meta.read_text())["info"]["epoch"] == 1
    sampler = fitted_sampler(ae_run, "full-gauss", epoch=2, device="cpu")
    assert _json.loads(meta.read_text())["info"]["epoch"] == 2
    np.testing.assert_allclose(sampler.mean_, training_latents(ae_run, epoch=2, device="cpu").mean(0), atol=1e-5)


def test_samplers_are_fitted_to_the_images_the_model_was_trained_on(ae_run):
    # the run saw n_train = 512 images of a larger training split; those 512, encoded, are what samplers fit
    from zspace.pipeline.encode import encode

    run = open_run(ae_run)
    assert run.train_config.n_train == 512 and len(run.data_split("train").images) > 512
    z_train = training_latents(run, device="cpu")
    trained_on = encode(run, split="train", n=512, device="cpu").codes
    assert z_train.shape == (512, run.model_config.z_dim)
    np.testing.assert_array_equal(z_train, trained_on)
