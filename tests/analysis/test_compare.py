"""compare_spaces: known answers (a similarity transform, independent noise), an independent implementation
(Gram matrices and the centring matrix H, scipy's Procrustes on the full matrices, brute-force neighbours),
the exact permutation mean it reports as chance, row blocks, subsamples and the one-line refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.linalg import orthogonal_procrustes
from scipy.spatial.distance import cdist, pdist
from scipy.stats import ortho_group

from zspace.analysis import compare as compare_module
from zspace.analysis.compare import SCHEMA, CompareConfig, compare_spaces, knn_overlap, median_distance
from zspace.core.arrays import RowStore
from zspace.core.errors import ZspaceError
from zspace.core.rows import chunked_by, seeded_subsample

# ----------------------------------------------------------------------------- an independent implementation


def hsic(K: np.ndarray, L: np.ndarray) -> float:
    """tr(K H L H), H = I - 11^T / n (the biased HSIC up to 1 / (n-1)^2)."""
    H = np.eye(len(K)) - np.ones((len(K), len(K))) / len(K)
    return float(np.trace(K @ H @ L @ H))


def cka(K: np.ndarray, L: np.ndarray) -> float:
    return hsic(K, L) / np.sqrt(hsic(K, K) * hsic(L, L))


def rbf_gram(x: np.ndarray, multiple: float = 1.0) -> np.ndarray:
    """exp(-|xi - xj|^2 / (2 sigma^2)), sigma = multiple x the median distance of distinct pairs (scipy's pdist)."""
    sigma = multiple * np.median(pdist(x))
    return np.exp(-cdist(x, x, "sqeuclidean") / (2 * sigma ** 2))


def procrustes_reference(x: np.ndarray, y: np.ndarray) -> float:
    """||X R - Y||_F^2 on the full matrices: centred, unit Frobenius norm, the narrower padded with zero columns."""
    d = max(x.shape[1], y.shape[1])
    xs, ys = (np.pad(a - a.mean(axis=0), ((0, 0), (0, d - a.shape[1]))) for a in (x, y))
    xs, ys = xs / np.linalg.norm(xs), ys / np.linalg.norm(ys)
    rotation, _ = orthogonal_procrustes(xs, ys)
    return float(np.linalg.norm(xs @ rotation - ys) ** 2)


def knn_reference(x: np.ndarray, y: np.ndarray, k: int) -> float:
    """Brute force: argsort of the full distance matrices, the row itself excluded."""
    def neighbours(a):
        d = cdist(a, a)
        np.fill_diagonal(d, np.inf)
        return np.argsort(d, axis=1)[:, :k]
    return float(np.mean([len(set(p) & set(q)) / k for p, q in zip(neighbours(x), neighbours(y))]))


@pytest.fixture(scope="module")
def related():
    """x (150, 5) and y (150, 3) = a noisy linear map of x: every measure strictly between its ends."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((150, 5)) * np.array([3.0, 2.0, 1.0, 0.5, 0.3])
    y = x @ rng.standard_normal((5, 3)) + 0.8 * rng.standard_normal((150, 3)) + 4.0
    # values a float32 holds exactly: compare_spaces reads codes as float32, the reference computes in float64
    return x.astype(np.float32).astype(np.float64), y.astype(np.float32).astype(np.float64)


def test_a_similarity_transform_gives_perfect_scores():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 6)) * np.linspace(0.5, 2.0, 6)
    y = 3.5 * x @ ortho_group.rvs(6, random_state=1) - 7.0  # rotation, scale, shift
    result = compare_spaces(x, y)
    assert result.linear_cka == pytest.approx(1.0, abs=1e-9)
    assert result.rbf_cka == pytest.approx(1.0, abs=1e-5)
    assert result.procrustes_error == pytest.approx(0.0, abs=1e-9)
    assert result.knn_overlap == 1.0
    assert result.rbf_sigma["b"] == pytest.approx(3.5 * result.rbf_sigma["a"], rel=1e-5)  # median scales with y


def test_a_space_embedded_in_a_wider_one_is_the_same_space_and_the_narrow_one_is_padded():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((200, 4))
    y = 0.2 * np.hstack([x, np.zeros((200, 3))]) @ ortho_group.rvs(7, random_state=2) + 1.0
    result = compare_spaces(x, y, names=("A", "B"))
    assert (result.linear_cka, result.procrustes_error, result.knn_overlap) == \
        (pytest.approx(1.0, abs=1e-9), pytest.approx(0.0, abs=1e-9), 1.0)
    assert result.rbf_cka == pytest.approx(1.0, abs=1e-5)
    assert result.procrustes_padding == "A (d = 4) padded with 3 zero columns to d = 7"
    assert result.inputs == {"a": {"dim": 4}, "b": {"dim": 7}}


def test_independent_noise_scores_near_chance_as_theory_says():
    rng = np.random.default_rng(3)
    n, d = 400, 6
    x, y = rng.standard_normal((n, d)), rng.standard_normal((n, d))
    result = compare_spaces(x, y)
    # linear CKA of independent Gaussians: E||Y^T X||^2 = n d^2, ||X^T X||_F ~ n sqrt(d), so about d / n
    assert result.chance["linear_cka"] == pytest.approx(d / n, rel=0.15)
    assert result.linear_cka < 3 * d / n
    # Procrustes: E nuclear(X^T Y) <= sqrt(d) E||X^T Y||_F <= sqrt(d / n) for unit-norm X, Y, so the error is
    # at least 2 - 2 sqrt(d / n) = 1.76 on average; allow half as much again for one draw
    assert 2 - 3 * np.sqrt(d / n) < result.procrustes_error <= 2.0
    # k-NN: each neighbour of B is one of A's k with probability k / (n - 1); sd of the mean ~ sqrt(p(1-p) / (k n))
    p = 10 / (n - 1)
    assert result.chance["knn_overlap"] == pytest.approx(p)
    assert abs(result.knn_overlap - p) < 4 * np.sqrt(p * (1 - p) / (10 * n))
    assert result.rbf_cka < 3 * result.chance["rbf_cka"]


def test_every_measure_equals_the_independent_implementation(related):
    x, y = related
    result = compare_spaces(x, y, CompareConfig(k=7, bandwidth=0.7))
    assert 0.2 < result.linear_cka < 0.95  # the reference is tested off its ends
    assert result.linear_cka == pytest.approx(cka(x @ x.T, y @ y.T), rel=1e-9)
    assert result.rbf_cka == pytest.approx(cka(rbf_gram(x, 0.7), rbf_gram(y, 0.7)), rel=1e-5)
    assert result.procrustes_error == pytest.approx(procrustes_reference(x, y), rel=1e-9)
    assert result.knn_overlap == pytest.approx(knn_reference(x, y, 7), abs=1e-12)
    assert result.rbf_sigma["a"] == pytest.approx(0.7 * np.median(pdist(x)), rel=1e-5)
    assert median_distance(x.astype(np.float32)) == pytest.approx(np.median(pdist(x)), rel=1e-5)


def test_chance_is_the_mean_over_random_pairings_of_the_rows(related):
    x, y = related
    result = compare_spaces(x, y)
    rng = np.random.default_rng(11)
    H = np.eye(len(x)) - 1 / len(x)
    K_lin, K_rbf, L_lin, L_rbf = (H @ K @ H for K in (x @ x.T, rbf_gram(x), y @ y.T, rbf_gram(y)))

    shuffled = [rng.permutation(len(x)) for _ in range(200)]
    for name, Kc, Lc in (("linear_cka", K_lin, L_lin), ("rbf_cka", K_rbf, L_rbf)):
        # permuting the rows and columns of L commutes with the centring and keeps its norm
        norms = np.linalg.norm(Kc) * np.linalg.norm(Lc)
        draws = np.array([np.sum(Kc * Lc[np.ix_(p, p)]) / norms for p in shuffled])
        # the Monte Carlo mean lies within 4 standard errors of the exact mean
        assert abs(draws.mean() - result.chance[name]) < 4 * draws.std() / np.sqrt(len(draws)), name
    assert result.linear_cka > 10 * result.chance["linear_cka"]  # these spaces are related, far above chance


def test_row_blocks_and_a_row_store_give_the_same_numbers(related, monkeypatch):
    x, y = related
    whole = compare_spaces(x, y)  # one kernel block of all 150 rows
    monkeypatch.setattr(compare_module, "KERNEL_BLOCK_ROWS", 16)  # 10 blocks: the upper triangle, weighted
    with chunked_by(7):
        blocks = compare_spaces(RowStore([x.astype(np.float32)]), RowStore([y[:60], y[60:]]))
    assert blocks.linear_cka == pytest.approx(whole.linear_cka, rel=1e-9)
    assert blocks.procrustes_error == pytest.approx(whole.procrustes_error, rel=1e-9)
    assert blocks.rbf_cka == pytest.approx(whole.rbf_cka, rel=1e-6)
    assert blocks.rbf_cka == pytest.approx(cka(rbf_gram(x), rbf_gram(y)), rel=1e-5)
    assert blocks.chance["rbf_cka"] == pytest.approx(whole.chance["rbf_cka"], rel=1e-6)
    assert blocks.knn_overlap == whole.knn_overlap


def test_beyond_max_rows_rbf_and_knn_use_a_seeded_subsample_and_say_so(related):
    x, y = related
    result = compare_spaces(x, y, CompareConfig(max_rows=60, knn_search_rows=100, median_rows=40), seed=5)
    assert result.rows_used == {"linear_cka": 150, "rbf_cka": 60, "procrustes_error": 150, "knn_overlap": 60}
    assert result.knn_searched_rows == 100
    assert [note.split(" ")[0] for note in result.notes] == ["rbf_cka", "knn_overlap", "knn_overlap", "procrustes:"]
    rows = seeded_subsample(150, 60, 5)
    # the RBF CKA is that of the subsample's rows (sigma from a subsample of 40 of them: compared loosely)
    assert result.rbf_cka == pytest.approx(cka(rbf_gram(x[rows]), rbf_gram(y[rows])), abs=0.05)
    assert result.linear_cka == pytest.approx(cka(x @ x.T, y @ y.T), rel=1e-9)  # exact at any size
    again = compare_spaces(x, y, CompareConfig(max_rows=60, knn_search_rows=100, median_rows=40), seed=5)
    assert again.to_json() | {"seconds": None} == result.to_json() | {"seconds": None}


def test_the_result_is_json_with_the_schema_and_every_promised_key(related):
    x, y = related
    saved = json.loads(json.dumps(compare_spaces(x, y).to_json()))
    assert saved["schema"] == SCHEMA == "zspace.compare/1"
    for key in ("linear_cka", "rbf_cka", "procrustes_error", "knn_overlap", "k", "rbf_bandwidth_rule", "rows",
                "rows_used", "inputs", "chance", "definitions"):
        assert key in saved, key
    assert "median" in saved["rbf_bandwidth_rule"] and saved["rows"] == 150


@pytest.mark.parametrize("change, fragment", [
    (lambda x, y: (x, y[:-1]), "A has 150 rows but B has 149"),
    (lambda x, y: (x, np.where(np.arange(150)[:, None] == 9, np.nan, y)), "B: 1 row(s)"),
    (lambda x, y: (np.ones_like(x), y), "A: every row is the same point"),
    (lambda x, y: (x[:5], y[:5]), "at least 11"),
])
def test_refusals_are_one_line_errors_naming_the_input(related, change, fragment):
    with pytest.raises(ZspaceError) as caught:
        compare_spaces(*change(*related), names=("A", "B"))
    assert fragment in str(caught.value) and "\n" not in str(caught.value)


def test_knn_overlap_counts_shared_neighbours_of_each_query():
    a = np.array([[0, 0], [1, 0], [3, 0], [7, 0], [15, 0]], dtype=np.float32)
    b = a[::-1].copy()  # the values 15, 7, 3, 1, 0 in rows 0..4
    assert knn_overlap(a, a, 2) == 1.0
    # nearest other row, by row: a 0->1, 1->0, 2->1, 3->2, 4->3; b 0->1, 1->2, 2->3, 3->4, 4->3: rows 0 and 4 agree
    assert knn_overlap(a, b, 1) == pytest.approx(2 / 5)
    assert knn_overlap(a, b, 1, np.array([1, 2])) == 0.0
