"""PCA spectrum of a cloud with a known covariance."""

import numpy as np

from zspace.analysis import PcaConfig, fit_pca, project


def test_defaults_follow_spec():
    assert PcaConfig().tsne_components == (2, 4, 10)


def test_spectrum_and_axes_of_a_known_covariance():
    rng = np.random.default_rng(0)
    variances = np.array([9.0, 4.0, 1.0, 0.25, 0.25, 0.1, 0.05, 0.01])
    rotation, _ = np.linalg.qr(rng.standard_normal((8, 8)))
    shift = np.arange(8.0)
    z = ((rng.standard_normal((50000, 8)) * np.sqrt(variances)) @ rotation.T + shift).astype(np.float32)
    result = fit_pca(z)
    assert np.allclose(result.explained_variance, variances, rtol=0.03, atol=0.002)
    assert np.allclose(result.explained_variance_ratio, variances / variances.sum(), rtol=0.03, atol=1e-3)
    assert abs(result.explained_variance_ratio.sum() - 1) < 1e-9
    for i in range(3):  # the distinct leading directions are the rotation's columns, up to sign
        assert abs(result.components[i] @ rotation[:, i]) > 0.999
    assert result.components_for_level == {"0.9": 3, "0.95": 3, "0.99": 6}  # cumulative 0.614, 0.887, 0.955, 0.972, 0.989, 0.996
    assert np.allclose(result.mean, shift, atol=0.05)
    coords = project(z, result, [0, 1])
    assert np.allclose(coords.mean(axis=0), 0, atol=1e-3)
    assert np.allclose(coords.var(axis=0), variances[:2], rtol=0.03)
