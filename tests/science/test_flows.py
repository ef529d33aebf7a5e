"""The zuko flow samplers (flow, maf, nsf): they learn known densities, survive save/load, and say how to
install zuko when it is missing."""

from __future__ import annotations

import json
import logging
import sys

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file
from scipy.special import logsumexp
from scipy.stats import multivariate_normal, norm

from zspace.core.errors import ZspaceError
from zspace.science.samplers import StaleSampler, load_sampler, make_sampler
from zspace.science.samplers.flow import DEFAULT_KIND, zuko_available

needs_zuko = pytest.mark.skipif(not zuko_available(), reason="zuko (the flows extra) is not installed")

MEAN = np.array([1.0, -2.0, 0.5])
COV = np.array([[2.0, 0.8, 0.0], [0.8, 1.0, -0.3], [0.0, -0.3, 0.5]])
#: a 2-d mixture: weights, means, one isotropic std per component
MIX_WEIGHTS, MIX_MEANS, MIX_STD = np.array([0.7, 0.3]), np.array([[-2.0, 0.0], [2.0, 1.0]]), np.array([0.5, 0.4])


def small(spec: str, z_dim: int, **sizes):
    """An unfitted sampler, shrunk for a quick test (the defaults are for real latent clouds)."""
    sampler = make_sampler(spec, z_dim)
    for key, value in {"hidden": 32, "batch_size": 256, **sizes}.items():
        setattr(sampler, key, value)
    return sampler


def banana_points(n: int, seed: int) -> np.ndarray:
    """x1 ~ N(0, 1), x2 | x1 ~ N(x1^2, 0.5^2): curved, and exactly what an affine autoregressive flow can express."""
    rng = np.random.default_rng(seed)
    x1 = rng.standard_normal(n)
    return np.stack([x1, x1 ** 2 + 0.5 * rng.standard_normal(n)], axis=1)


def banana_log_density(z: np.ndarray) -> np.ndarray:
    return norm.logpdf(z[:, 0]) + norm.logpdf(z[:, 1], loc=z[:, 0] ** 2, scale=0.5)


def mixture_points(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    component = rng.choice(2, size=n, p=MIX_WEIGHTS)
    return MIX_MEANS[component] + rng.standard_normal((n, 2)) * MIX_STD[component, None]


def mixture_log_density(z: np.ndarray) -> np.ndarray:
    parts = [np.log(w) + multivariate_normal(m, s ** 2 * np.eye(2)).logpdf(z)
             for w, m, s in zip(MIX_WEIGHTS, MIX_MEANS, MIX_STD)]
    return logsumexp(np.stack(parts), axis=0)


@needs_zuko
def test_maf_learns_a_correlated_gaussian():
    rng = np.random.default_rng(0)
    z = rng.multivariate_normal(MEAN, COV, size=3000)
    sampler = small("maf:3", 3, epochs=20).fit(z)
    out = sampler.sample(20000, np.random.default_rng(1))
    np.testing.assert_allclose(out.mean(0), MEAN, atol=0.06)
    np.testing.assert_allclose(np.cov(out.T), COV, atol=0.1)
    held_out = rng.multivariate_normal(MEAN, COV, size=5000)
    truth = multivariate_normal(MEAN, COV).logpdf(held_out).mean()
    assert abs(sampler.log_prob(held_out).mean() - truth) < 0.05


@needs_zuko
def test_maf_learns_a_curved_density():
    sampler = small("maf:3", 2, epochs=20).fit(banana_points(5000, 0))
    held_out = banana_points(5000, 1)
    assert abs(sampler.log_prob(held_out).mean() - banana_log_density(held_out).mean()) < 0.05
    out = sampler.sample(20000, np.random.default_rng(1))
    np.testing.assert_allclose(out.mean(0), [0.0, 1.0], atol=0.05)    # E[x2] = E[x1^2] = 1
    np.testing.assert_allclose(out.var(0), [1.0, 2.25], rtol=0.06)    # Var x2 = Var x1^2 + 0.25 = 2.25


@needs_zuko
def test_nsf_learns_a_two_mode_mixture():
    sampler = small("nsf:3", 2, epochs=40).fit(mixture_points(5000, 0))
    held_out = mixture_points(5000, 1)
    truth = mixture_log_density(held_out).mean()
    single_gaussian = multivariate_normal(held_out.mean(0), np.cov(held_out.T)).logpdf(held_out).mean()
    learned = sampler.log_prob(held_out).mean()
    assert abs(learned - truth) < 0.1 < truth - single_gaussian
    out = sampler.sample(20000, np.random.default_rng(2))
    right = out[:, 0] > 0  # the modes sit at x = -2 and x = +2
    assert abs(right.mean() - MIX_WEIGHTS[1]) < 0.03
    np.testing.assert_allclose(out[right].mean(0), MIX_MEANS[1], atol=0.1)
    np.testing.assert_allclose(out[~right].mean(0), MIX_MEANS[0], atol=0.1)


@needs_zuko
@pytest.mark.parametrize("spec", ["flow:2", "maf:2", "nsf:2"])
def test_saved_flow_draws_the_same_points_and_is_safetensors_and_json(tmp_path, spec):
    z = np.random.default_rng(0).multivariate_normal(MEAN, COV, size=400)
    sampler = small(spec, 3, epochs=2).fit(z, seed=3)
    directory = sampler.save(tmp_path / "s")
    assert sorted(p.name for p in directory.iterdir()) == ["sampler.json", "state.safetensors"]
    meta = json.loads((directory / "sampler.json").read_text())
    assert meta["params"]["kind"] == (DEFAULT_KIND if spec.startswith("flow") else spec[:3])
    assert any(key.startswith("zuko.") for key in meta["learned"])
    restored = load_sampler(directory)
    assert type(restored) is type(sampler) and restored.params() == sampler.params()
    np.testing.assert_array_equal(restored.sample(64, np.random.default_rng(7)),
                                  sampler.sample(64, np.random.default_rng(7)))
    np.testing.assert_allclose(restored.log_prob(z[:50]), sampler.log_prob(z[:50]), rtol=1e-6)


@needs_zuko
def test_sampling_and_densities_in_passes_match_one_pass(monkeypatch):
    import zspace.science.samplers.flow as flow_module

    z = np.random.default_rng(0).multivariate_normal(MEAN, COV, size=300)
    sampler = small("maf:1", 3, epochs=1).fit(z)
    whole, density = sampler.sample(50, np.random.default_rng(4)), sampler.log_prob(z[:50])
    monkeypatch.setattr(flow_module, "ROWS_PER_PASS", 7)
    np.testing.assert_allclose(sampler.sample(50, np.random.default_rng(4)), whole, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(sampler.log_prob(z[:50]), density, rtol=1e-6)
    assert sampler.sample(0, np.random.default_rng(4)).shape == (0, 3)


@needs_zuko
def test_the_same_seed_fits_the_same_flow():
    z = np.random.default_rng(0).multivariate_normal(MEAN, COV, size=300)
    first = small("maf:1", 3, epochs=2).fit(z, seed=5).sample(20, np.random.default_rng(0))
    second = small("maf:1", 3, epochs=2).fit(z, seed=5).sample(20, np.random.default_rng(0))
    np.testing.assert_array_equal(first, second)


@needs_zuko
def test_flow_spec_sets_the_number_of_transforms_within_bounds():
    assert make_sampler("flow:3", 4).n_layers == 3
    assert make_sampler("maf", 4).kind == "maf" and make_sampler("nsf", 4).kind == "nsf"
    assert make_sampler("flow", 4).kind == DEFAULT_KIND
    with pytest.raises(ZspaceError, match="sampler flow:0"):
        make_sampler("flow:0", 4)


@needs_zuko
def test_a_flow_saved_by_the_hand_written_realnvp_asks_for_a_refit(tmp_path):
    directory = tmp_path / "flow"
    directory.mkdir()
    arrays = {"mean_": np.zeros(3), "whiten_": np.eye(3), "unwhiten_": np.eye(3),
              "permutations_": np.zeros((8, 3), np.int64), "net.layers.0.net.0.weight": np.zeros((32, 1), np.float32)}
    save_file(arrays, str(directory / "state.safetensors"))
    (directory / "sampler.json").write_text(json.dumps({
        "name": "flow", "z_dim": 3, "learned": sorted(arrays),
        "params": {"n_layers": 8, "hidden": 128, "epochs": 40, "max_fit_points": 20000, "lr": 0.002}}))
    with pytest.raises(ZspaceError, match="refit"):
        load_sampler(directory)


@needs_zuko
def test_a_stale_saved_flow_is_refitted_where_a_fitted_sampler_is_wanted(ae_run, tmp_path):
    """fitted_sampler (fit-sampler reuse, question, the demo) refits a flow an earlier zspace saved."""
    import shutil

    from zspace.science.latents import fitted_sampler
    from zspace.science.samplers import samplers_dir, saved_name

    run_dir = tmp_path / "run"
    shutil.copytree(ae_run, run_dir, ignore=shutil.ignore_patterns("samplers"))
    fresh = fitted_sampler(run_dir, "flow:2")
    directory = samplers_dir(run_dir) / saved_name("flow:2")
    state = {k: v for k, v in load_file(directory / "state.safetensors").items() if not k.startswith("zuko.")}
    state["net.layers.0.weight"] = np.zeros((4, 4), np.float32)  # what the RealNVP kept instead of zuko.*
    save_file(state, str(directory / "state.safetensors"))
    meta = json.loads((directory / "sampler.json").read_text())
    meta.pop("files", None)  # as written before content hashes
    meta["learned"] = sorted(state)
    (directory / "sampler.json").write_text(json.dumps(meta))
    with pytest.raises(StaleSampler):
        load_sampler(directory)
    refitted = fitted_sampler(run_dir, "flow:2")
    rng = np.random.default_rng
    np.testing.assert_array_equal(refitted.sample(50, rng(1)), fresh.sample(50, rng(1)))
    assert any(k.startswith("zuko.") for k in load_file(directory / "state.safetensors"))


@pytest.fixture
def no_zuko(monkeypatch):
    """Make ``import zuko`` fail, as on an install without the flows extra."""
    for name in [m for m in sys.modules if m == "zuko" or m.startswith("zuko.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "zuko", None)
    monkeypatch.setitem(sys.modules, "zuko.flows", None)


@pytest.mark.parametrize("spec", ["flow", "maf:4", "nsf"])
def test_without_zuko_a_flow_is_a_one_line_error_naming_the_extra(no_zuko, spec):
    assert not zuko_available()
    with pytest.raises(ZspaceError) as caught:
        make_sampler(spec, 4)
    message = str(caught.value)
    assert "pip install 'zspace[flows]'" in message and "\n" not in message
    assert f"sampler {spec.partition(':')[0]}" in message


def test_without_zuko_the_demo_skips_the_flow(no_zuko, monkeypatch):
    from zspace.demo import DemoConfig, question_samplers

    records = []
    handler = logging.Handler()
    handler.emit = records.append
    monkeypatch.setattr(logging.getLogger("zspace"), "handlers", [handler])
    config = DemoConfig(question_samplers=("normal", "gmm:10", "flow"))  # the demo can ask for the flow
    kept = question_samplers(config)
    assert kept == ("normal", "gmm:10")
    assert [r.getMessage() for r in records if "flow" in r.getMessage() and "zspace[flows]" in r.getMessage()]
