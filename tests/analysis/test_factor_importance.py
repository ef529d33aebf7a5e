"""The importance models of DCI by name (the registry the command line offers), and the helpers they run on:
one OpenMP thread per worker (zspace.core.device) and the split's seeded stream (zspace.core.rng)."""

from __future__ import annotations

import numpy as np
import pytest

from zspace.analysis.factors import IMPORTANCE_MODELS, FactorConfig
from zspace.core.device import one_openmp_thread
from zspace.core.errors import ZspaceError
from zspace.core.rng import stream_rng


@pytest.mark.parametrize("name", ["gbt", "lasso", "gbc"])
@pytest.mark.parametrize("discrete", [False, True])
def test_every_model_finds_the_one_direction_a_factor_depends_on(name, discrete):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(400, 4))
    y = x[:, 2] + 0.1 * rng.normal(size=400)
    y = (y > 0).astype(np.int64) if discrete else y
    cfg = FactorConfig(importance=name, gbt_iterations=20)
    importance, score = IMPORTANCE_MODELS[name].fit(x[:300], y[:300], x[300:], y[300:], discrete, 2, cfg, 0)
    assert importance.shape == (4,) and int(np.argmax(importance)) == 2
    assert score > 0.8  # held-out accuracy or R^2 of an easy factor


def test_the_registry_names_the_models_and_each_describes_its_settings():
    assert list(IMPORTANCE_MODELS) == ["gbt", "lasso", "gbc"] and FactorConfig().importance == "gbt"
    cfg = FactorConfig(gbt_iterations=7, gbt_depth=2, gbt_learning_rate=0.25, lasso_folds=4)
    assert "7 iterations, depth 2, learning rate 0.25" in IMPORTANCE_MODELS["gbt"].describe(cfg)
    assert IMPORTANCE_MODELS["gbc"].describe(cfg).endswith("importance = feature_importances_")
    assert "LassoCV (4 folds)" in IMPORTANCE_MODELS["lasso"].describe(cfg)
    with pytest.raises(ZspaceError, match="choose one of gbt, lasso, gbc"):
        FactorConfig(importance="forest")


def test_one_openmp_thread_limits_the_calling_thread_and_restores_it():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    import sklearn.ensemble  # noqa: F401  (loads scikit-learn's OpenMP runtime)

    def openmp_threads() -> list[int]:
        return [pool["num_threads"] for pool in threadpoolctl.threadpool_info() if pool["user_api"] == "openmp"]

    before = openmp_threads()
    if not before:
        pytest.skip("no OpenMP runtime loaded")
    with one_openmp_thread():
        assert openmp_threads() == [1] * len(before)
    assert openmp_threads() == before


def test_stream_rng_is_the_generator_of_the_seed_sequence_of_its_parts():
    for seed in (0, 7, 2**32 - 1):
        expected = np.random.default_rng(np.random.SeedSequence([seed, 1])).permutation(50)
        assert np.array_equal(stream_rng(seed, 1).permutation(50), expected)
    assert not np.array_equal(stream_rng(7, 1).permutation(50), stream_rng(7, 2).permutation(50))
