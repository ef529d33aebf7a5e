"""Void share against clouds where the answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from zspace.science.voids import VoidReference, void_share


def test_training_points_themselves_are_rarely_in_voids():
    z = np.random.default_rng(0).standard_normal((6000, 4))
    ref = VoidReference.build(z[:3000], n_reference=3000, percentile=99.0)
    # fresh draws of the same cloud sit as close to it as its own points
    share = void_share(z[3000:], ref).share
    assert share == pytest.approx(0.01, abs=0.01)


def test_points_in_a_hole_are_all_in_voids():
    rng = np.random.default_rng(0)
    direction = rng.standard_normal((4000, 3))
    shell = direction / np.linalg.norm(direction, axis=1, keepdims=True) * 10  # a sphere of radius 10
    ref = VoidReference.build(shell, n_reference=4000)
    centre = rng.standard_normal((500, 3))  # inside the empty ball
    result = void_share(centre, ref, "centre")
    assert result.share == 1.0 and result.median_ratio > 10


def test_reference_is_a_seeded_subsample():
    z = np.random.default_rng(0).standard_normal((5000, 2))
    a, b = VoidReference.build(z, n_reference=1000, seed=3), VoidReference.build(z, n_reference=1000, seed=3)
    assert len(a.points) == 1000 and a.threshold == b.threshold
