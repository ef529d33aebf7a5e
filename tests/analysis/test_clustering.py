"""Inertia curve and elbow against known cluster structure and scikit-learn's KMeans."""

import numpy as np
from sklearn.cluster import KMeans

from zspace.analysis import InertiaConfig, inertia_curve, kneedle_elbow


def blobs(k, n_per, d, spread=30.0, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-spread, spread, size=(k, d))
    return (np.repeat(centres, n_per, axis=0) + rng.standard_normal((k * n_per, d))).astype(np.float32)


def test_defaults_follow_spec():
    assert InertiaConfig().k_values == tuple(range(2, 81, 2))


def test_elbow_of_well_separated_blobs_is_their_number():
    for k_true in (6, 10):
        z = blobs(k_true, 300, 8, seed=k_true)
        result = inertia_curve(z, InertiaConfig(n_init=1), show_progress=False)  # SPEC k values
        assert result.k_values == list(range(2, 81, 2))
        assert result.elbow_k == k_true
        # at the true k the inertia is the within-blob scatter: N * d * 1 (unit variance)
        at_k = result.inertia[result.k_values.index(k_true)]
        assert abs(at_k / (len(z) * 8) - 1) < 0.05


def test_inertia_matches_full_kmeans_on_structureless_data():
    z = np.random.default_rng(3).standard_normal((3000, 16)).astype(np.float32)
    ks = (4, 16)
    ours = inertia_curve(z, InertiaConfig(k_values=ks, fit_sample_size=1000), show_progress=False)
    for k, inertia in zip(ks, ours.inertia):
        reference = KMeans(n_clusters=k, n_init=2, random_state=0).fit(z).inertia_
        assert inertia <= 1.02 * reference


def test_kneedle_on_a_curve_with_a_corner():
    k = np.arange(2, 42, 2)
    inertia = np.where(k <= 12, 100 - 8 * (k - 2), 20 - 0.1 * (k - 12))
    assert kneedle_elbow(k, inertia) == (12, kneedle_elbow(k, inertia)[1])
    assert kneedle_elbow(k, 100 - k)[1] < 1e-12  # a straight line has no elbow
