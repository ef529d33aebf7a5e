"""Neighbour search and seeded subsamples against brute-force numpy on small clouds."""

from __future__ import annotations

import numpy as np
import pytest

from zspace.core.neighbours import BLOCK_ROWS, distance_blocks, knn, kth_neighbour_distances, nearest_distances
from zspace.core.rows import row_chunks, seeded_subsample, subsample_rows


def brute_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sqrt(((a[:, None, :].astype(np.float64) - b[None, :, :]) ** 2).sum(-1))


@pytest.fixture(name="cloud")
def cloud_fixture():
    return np.random.default_rng(0).standard_normal((300, 5)).astype(np.float32)


def test_nearest_distances_match_brute_force(cloud):
    query = np.random.default_rng(1).standard_normal((50, 5)).astype(np.float32)
    expected = brute_distances(query, cloud).min(axis=1)
    np.testing.assert_allclose(nearest_distances(query, cloud), expected, rtol=1e-4, atol=1e-5)
    own = brute_distances(cloud, cloud)
    np.fill_diagonal(own, np.inf)
    np.testing.assert_allclose(nearest_distances(cloud, cloud, exclude_self=True), own.min(axis=1),
                               rtol=1e-4, atol=1e-5)


def test_blocks_do_not_change_the_answer():
    rng = np.random.default_rng(2)
    big = rng.standard_normal((BLOCK_ROWS + 77, 3)).astype(np.float32)
    ref = rng.standard_normal((100, 3)).astype(np.float32)
    expected = brute_distances(big, ref).min(axis=1)
    np.testing.assert_allclose(nearest_distances(big, ref), expected, rtol=1e-4, atol=1e-5)


def test_kth_neighbour_distance_matches_brute_force(cloud):
    own = brute_distances(cloud, cloud)
    np.fill_diagonal(own, np.inf)
    np.testing.assert_allclose(kth_neighbour_distances(cloud, 3), np.sort(own, axis=1)[:, 2], rtol=1e-4, atol=1e-5)


def test_distances_to_other_rows_count_duplicates_as_other_rows(cloud):
    doubled = np.concatenate([cloud[:40], cloud[:40], cloud[40:]])  # rows 0..39 each appear twice
    own = brute_distances(doubled, doubled)
    np.fill_diagonal(own, np.inf)
    nearest = nearest_distances(doubled, doubled, exclude_self=True)
    assert (nearest[:80] == 0).all() and (nearest[80:] > 0).all()
    np.testing.assert_allclose(nearest, own.min(axis=1), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(kth_neighbour_distances(doubled, 2), np.sort(own, axis=1)[:, 1], rtol=1e-4, atol=1e-5)


def test_knn_leaves_the_query_out_and_matches_brute_force(cloud):
    queries = np.array([0, 7, 299])
    dist, idx = knn(cloud, 4, queries)
    own = brute_distances(cloud[queries], cloud)
    own[np.arange(3), queries] = np.inf
    np.testing.assert_array_equal(idx, np.argsort(own, axis=1)[:, :4])
    np.testing.assert_allclose(dist, np.sort(own, axis=1)[:, :4], rtol=1e-6)
    assert not (idx == queries[:, None]).any()


def test_knn_with_duplicates_never_returns_the_query_itself():
    points = np.zeros((6, 2))
    points[3:] = 1.0
    dist, idx = knn(points, 2)
    assert not (idx == np.arange(6)[:, None]).any()
    np.testing.assert_array_equal(dist, 0.0)  # each point's duplicates are at distance 0


def test_seeded_subsample_is_sorted_unique_and_reproducible():
    a = seeded_subsample(1000, 100, seed=5)
    assert len(np.unique(a)) == 100 and (np.diff(a) > 0).all()
    np.testing.assert_array_equal(a, seeded_subsample(1000, 100, seed=5))
    assert not np.array_equal(a, seeded_subsample(1000, 100, seed=6))
    np.testing.assert_array_equal(seeded_subsample(10, 100, seed=5), np.arange(10))
    x = np.arange(2000).reshape(1000, 2)
    np.testing.assert_array_equal(subsample_rows(x, 100, 5), x[a])
    assert subsample_rows(x, None, 5) is x


def test_row_chunks_cover_every_row_once():
    covered = np.concatenate([np.arange(1000)[s] for s in row_chunks(1000, 128)])
    np.testing.assert_array_equal(covered, np.arange(1000))


def test_distance_blocks_cover_every_query_row_and_squared_gives_the_squares():
    rng = np.random.default_rng(4)
    query, reference = rng.standard_normal((50, 6)), rng.standard_normal((30, 6))
    expected = brute_distances(query, reference)
    plain = np.concatenate([d.numpy() for _, d in distance_blocks(query, reference, 16)])
    squares = [(rows, d.numpy()) for rows, d in distance_blocks(query, reference, 16, squared=True)]
    assert [rows.start for rows, _ in squares] == [0, 16, 32, 48]
    np.testing.assert_allclose(plain, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.concatenate([d for _, d in squares]), expected ** 2, rtol=1e-5, atol=1e-5)
    same = next(distance_blocks(query, query, squared=True))[1].numpy()
    assert (same >= 0).all() and np.abs(np.diag(same)).max() < 1e-5  # clamped at 0, ~0 on the diagonal
