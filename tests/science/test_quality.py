"""Frechet distance and k-NN precision/recall against known answers."""

from __future__ import annotations

import numpy as np
import pytest

from zspace.science.quality.frechet import frechet_distance, frechet_distance_from_stats
from zspace.science.quality.precision_recall import knn_radii, precision_recall, realism


def cloud(n=2000, d=16, seed=0):
    return np.random.default_rng(seed).standard_normal((n, d))


def test_fd_of_a_set_with_itself_is_zero():
    x = cloud()
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-6)


def test_fd_matches_the_closed_form_for_gaussians():
    # N(0, I) vs N(m, s^2 I) in d dims: |m|^2 + d (1 - s)^2
    d, s, m = 8, 2.0, np.full(8, 0.5)
    assert frechet_distance_from_stats(np.zeros(d), np.eye(d), m, s ** 2 * np.eye(d)) == pytest.approx(
        m @ m + d * (1 - s) ** 2)


def test_fd_grows_monotonically_with_added_noise():
    x = cloud()
    rng = np.random.default_rng(1)
    noise = rng.standard_normal(x.shape)
    fds = [frechet_distance(x, x + sigma * noise) for sigma in (0.0, 0.1, 0.3, 0.6, 1.0, 2.0)]
    assert fds[0] == pytest.approx(0.0, abs=1e-6)
    assert all(a < b for a, b in zip(fds, fds[1:]))


def test_precision_and_recall_of_two_draws_of_one_cloud_are_high():
    pr = precision_recall(cloud(seed=0), cloud(seed=1), k=3)
    assert pr.precision > 0.7 and pr.recall > 0.7


def test_shifted_cloud_has_neither_precision_nor_recall():
    pr = precision_recall(cloud(seed=0), cloud(seed=1) + 10.0, k=3)
    assert pr.precision == 0.0 and pr.recall == 0.0


def test_collapsed_generator_is_precise_but_misses_recall():
    real = cloud(seed=0)
    collapsed = 0.1 * cloud(seed=1)  # all samples in the dense centre of the real cloud
    pr = precision_recall(real, collapsed, k=3)
    assert pr.precision > 0.9 and pr.recall < 0.1


def test_broad_generator_recalls_but_is_imprecise():
    real = cloud(seed=0, d=4)
    broad = 3.0 * cloud(seed=1, d=4)
    pr = precision_recall(real, broad, k=3)
    assert pr.recall > 0.6 and pr.precision < 0.4


def test_realism_is_at_least_one_inside_and_small_far_away():
    real = cloud(seed=0, d=4)
    radii = knn_radii(real, 3)
    scores = realism(np.stack([real[0] * 1.0, real[0] + 100.0]), real, radii)
    assert scores[0] >= 1.0 and scores[1] < 0.1
