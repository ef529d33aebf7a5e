"""The hole measures against known answers: the MMD's closed form and direct double sums, a planted hole in a
point cloud, the cycle ratio of a known map, and a run's measures end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from zspace.core.neighbours import neighbour_resultant
from zspace.core.results import json_summary
from zspace.science.holes import HoleMeter, Kernel, auc, imq_kernel, mmd2, run_holes, store_prior_mismatch, witness
from zspace.science.latents import training_store


def gaussian_closed_form(mean_shift: np.ndarray, bandwidth: float) -> float:
    """MMD^2 of N(0, I) and N(m, I) under exp(-|x - y|^2 / (2 l^2)): x - x' ~ N(0, 2I) and x - y ~ N(-m, 2I) give
    E k(x, x') = (l^2 / (l^2 + 2))^(d/2) and E k(x, y) = the same times exp(-|m|^2 / (2 (l^2 + 2)))."""
    d, l2 = len(mean_shift), bandwidth ** 2
    return 2 * (l2 / (l2 + 2)) ** (d / 2) * (1 - np.exp(-mean_shift @ mean_shift / (2 * (l2 + 2))))


def test_unbiased_mmd_matches_the_closed_form_and_is_zero_for_the_same_law():
    rng = np.random.default_rng(0)
    d, n, kernel = 4, 1000, Kernel("gaussian", 2.0)
    shift = np.r_[1.0, np.zeros(d - 1)]
    x, y, same = rng.standard_normal((n, d)), rng.standard_normal((n, d)) + shift, rng.standard_normal((n, d))
    # Over 12 seeds the estimate's std was 0.0078 against N(m, I) (closed form 0.0711) and 0.00042 against N(0, I):
    # both tolerances are about 4 of those.
    assert mmd2(x, y, kernel)[0] == pytest.approx(gaussian_closed_form(shift, 2.0), abs=0.03)
    assert abs(mmd2(x, same, kernel)[0]) < 0.002


def test_unbiased_biased_and_witness_against_direct_double_sums():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((30, 3)), rng.standard_normal((40, 3)) * 1.5 + 0.3
    kernel = imq_kernel(3)
    assert kernel.scale == 6.0  # C = 2 d sigma^2 with sigma^2 = 1

    def k(a, b):
        return 6.0 / (6.0 + cdist(a, b, "sqeuclidean"))

    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    unbiased = ((kxx.sum() - np.trace(kxx)) / (30 * 29) + (kyy.sum() - np.trace(kyy)) / (40 * 39) - 2 * kxy.mean())
    biased = kxx.mean() + kyy.mean() - 2 * kxy.mean()
    got_unbiased, got_biased = mmd2(x, y, kernel)
    assert got_unbiased == pytest.approx(unbiased, rel=1e-10) and got_biased == pytest.approx(biased, rel=1e-10)
    f = witness(np.concatenate([x, y]), x, y, kernel)
    np.testing.assert_allclose(f[:30], kxx.mean(1) - kxy.mean(1), rtol=1e-10)
    # the biased MMD^2 is the witness's mean over the first sample minus its mean over the second
    assert f[:30].mean() - f[30:].mean() == pytest.approx(biased, rel=1e-10)


def test_measures_find_a_planted_hole():
    rng = np.random.default_rng(0)
    # A uniform square with a disc (radius 0.4) taken out: the void distance sees it (the density is flat, so only
    # test points within a neighbour spacing, ~0.03, of the disc's edge look like training points).
    square = rng.uniform(-1, 1, (6000, 2))
    train = square[np.linalg.norm(square, axis=1) >= 0.4][:4000]
    test = rng.uniform(-1, 1, (2000, 2))
    hole = np.linalg.norm(test, axis=1) < 0.4
    meter = HoleMeter(train, n_void_reference=4000, n_mmd=500)
    scores = meter.score(test, "test")
    assert auc(scores.void_distance[hole], scores.void_distance[~hole]) > 0.95
    assert (scores.void_distance[hole] > 1).mean() > 0.8 and (scores.void_distance[~hole] > 1).mean() < 0.05
    # N(0, I) codes without the disc of radius 0.6 at the origin, where the prior has most mass: the witness sees it,
    # and the MMD to the prior is ~8 times the null spread of an intact cloud's (std 0.00036 over 8 seeds).
    gauss = rng.standard_normal((8000, 2))
    holed = gauss[np.linalg.norm(gauss, axis=1) >= 0.6][:3000]
    test = rng.standard_normal((2000, 2))
    hole = np.linalg.norm(test, axis=1) < 0.6
    meter = HoleMeter(holed, n_void_reference=3000, n_mmd=1000)
    wit = meter.witness(test)
    assert auc(wit[hole], wit[~hole]) > 0.95
    assert meter.prior_mismatch().mmd2 > 0.002
    assert abs(HoleMeter(gauss[:3000], n_mmd=1000).prior_mismatch().mmd2) < 0.0015


def test_neighbour_resultant_is_zero_inside_a_ring_and_one_beyond_a_cloud():
    angles = np.arange(8) * np.pi / 4
    ring = np.c_[np.cos(angles), np.sin(angles)]
    points = np.array([[0.0, 0.0], [100.0, 0.0]])
    # at the ring's centre the 8 unit vectors cancel; far away they all point back (length -> 1)
    np.testing.assert_allclose(neighbour_resultant(points, ring, 8), [0.0, 1.0], atol=1e-4)
    # the direct mean of unit vectors to the 3 nearest, from a point beside one side of the ring
    q = np.array([[0.5, 0.1]])
    nearest = ring[np.argsort(np.linalg.norm(ring - q, axis=1))[:3]]
    units = (nearest - q) / np.linalg.norm(nearest - q, axis=1, keepdims=True)
    assert neighbour_resultant(q, ring, 3)[0] == pytest.approx(np.linalg.norm(units.mean(0)), rel=1e-6)
    # self_rows: row 0 of the ring is not its own neighbour; its two nearest are its two ring neighbours
    own = neighbour_resultant(None, ring, 2, self_rows=np.array([0]))[0]
    two = ring[[1, 7]] - ring[0]
    assert own == pytest.approx(np.linalg.norm((two / np.linalg.norm(two, axis=1, keepdims=True)).mean(0)), rel=1e-6)


def test_the_rim_and_the_hole_score_find_the_edge_of_a_void_the_void_distance_misses():
    rng = np.random.default_rng(3)
    # a uniform square without the half-plane x > 0.5 inside the disc of radius 0.5: a void with a straight edge
    square = rng.uniform(-1, 1, (12000, 2))
    inside = (np.linalg.norm(square, axis=1) < 0.5) & (square[:, 0] > 0.0)
    train = square[~inside][:6000]
    meter = HoleMeter(train, n_void_reference=6000, n_mmd=200)
    # test points just inside the void's straight edge (x in (0, 0.01)): near training codes, but all on one side
    edge = np.c_[rng.uniform(0.0, 0.01, 300), rng.uniform(-0.3, 0.3, 300)]
    interior = rng.uniform(-0.9, -0.6, (300, 2))   # deep in the training cloud
    e, i = meter.score(edge, "edge"), meter.score(interior, "interior")
    # (over seeds 3-5: edge void rate 0.07-0.19, rim rate 0.65-0.87, hole-score AUC 0.96-0.98 against 0.81-0.82)
    assert e.void_rate < 0.3                       # the nearest code is close: the void distance misses the edge
    assert e.rim_rate > 0.5 and i.rim_rate < 0.05  # the rim sees it
    assert auc(e.hole_score, i.hole_score) > 0.95 > auc(e.void_distance, i.void_distance) + 0.1
    assert e.hole_rate > 0.3 and i.hole_rate < 0.05
    # fresh points of the training law: about 1 % past the training codes' own 99th percentiles
    fresh = square[6000:][~inside[6000:]][:3000]
    f = meter.score(fresh, "fresh")
    assert f.rim_rate < 0.04 and f.hole_rate < 0.04 and 0 <= f.hole_score.min() and f.hole_score.max() <= 1


def test_cycle_ratio_is_the_cycle_error_over_the_training_percentile():
    codes = np.random.default_rng(2).standard_normal((500, 3))
    meter = HoleMeter(codes, cycle=lambda z: 1.1 * z, n_void_reference=500, n_cycle_reference=500, n_mmd=100)
    threshold = 0.1 * np.percentile(np.linalg.norm(codes, axis=1), 99)   # |1.1 z - z| = 0.1 |z|, every code used
    assert meter.cycle_threshold == pytest.approx(threshold, rel=1e-5)
    points = np.array([[0.0, 0.0, 0.0], [3.0, 4.0, 0.0]])
    np.testing.assert_allclose(meter.cycle_ratio(points), [0.0, 0.5 / threshold], rtol=1e-5)
    scores = meter.score(codes, "codes")
    assert scores.cycle_rate == pytest.approx(0.01, abs=0.002)   # 1 % of the codes lie past their own 99th percentile
    text = json.dumps(json_summary(scores))
    assert "void_distance" not in text and json.loads(text)["cycle_rate"] == scores.cycle_rate


def test_a_run_has_its_prior_mismatch_and_hole_rates(ae_run):
    result = run_holes(ae_run, {"far": np.full((20, 4), 50.0, np.float32)}, n=200, device="cpu", n_mmd=200,
                       n_cycle_reference=200)
    data = json.loads(json.dumps(result.to_json()))
    assert [s["name"] for s in data["sets"]] == ["normal", "far"]
    assert data["prior"]["kernel"] == "imq" and data["prior"]["kernel_scale"] == 8.0
    assert "AE codes" in data["prior"]["posterior"] and data["prior"]["mmd2"] > 0
    far = result.sets[1]
    assert far.void_rate == 1.0 and far.cycle_rate == 1.0   # 50 units out: no code near, the decoder saturates
    assert result.headline()["far: void rate"] == 1.0
    # the number zspace question stores is the same MMD, from the run's cached training store
    assert store_prior_mismatch(training_store(ae_run, device="cpu"), n=200).mmd2 == result.prior.mmd2
