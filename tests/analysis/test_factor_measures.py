"""Factor measures (MI, MIG, SAP, DCI, linear probe) against known answers and an independent reference.

The reference below is written straight from disentanglement_lib's formulas
(utils.py, mig.py, sap_score.py, dci.py): np.histogram edges + np.digitize,
loops of mutual_info_score, np.cov, scipy.stats.entropy, one sklearn model
per factor. It shares no code with zspace.analysis.factors.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.stats
from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor
from sklearn.metrics import mutual_info_score
from sklearn.svm import LinearSVC

from zspace.analysis import FactorConfig, factor_analysis
from zspace.core.errors import ZspaceError

# ------------------------------------------------------------------------------------------------------------------
# the reference, in disentanglement_lib's layout: variables are rows, (num_codes, num_points)


def ref_discretize(target, num_bins=20):
    out = np.zeros_like(target)
    for i in range(target.shape[0]):
        out[i, :] = np.digitize(target[i, :], np.histogram(target[i, :], num_bins)[1][:-1])
    return out


def ref_mig(mus, ys, discrete):
    mus_d = ref_discretize(mus)
    ys_d = np.stack([ys[j] if discrete[j] else ref_discretize(ys[j:j + 1])[0] for j in range(len(ys))])
    m = np.zeros([mus.shape[0], ys.shape[0]])
    for i in range(mus.shape[0]):
        for j in range(ys.shape[0]):
            m[i, j] = mutual_info_score(ys_d[j, :], mus_d[i, :])
    entropy = np.array([mutual_info_score(ys_d[j], ys_d[j]) for j in range(ys.shape[0])])
    sorted_m = np.sort(m, axis=0)[::-1]
    return np.mean(np.divide(sorted_m[0, :] - sorted_m[1, :], entropy[:])), m / entropy


def ref_sap(mus, ys, mus_train, ys_train, mus_test, ys_test, discrete, svc=False):
    """Continuous: squared correlation (np.cov); discrete: one-direction classifier, plain held-out accuracy.

    ``svc=True`` is disentanglement_lib's LinearSVC(C=0.01, class_weight="balanced");
    otherwise the nearest class mean along the direction (zspace's documented choice).
    """
    score = np.zeros([mus.shape[0], ys.shape[0]])
    for i in range(mus.shape[0]):
        for j in range(ys.shape[0]):
            if not discrete[j]:
                c = np.cov(mus[i, :], ys[j, :], ddof=1)
                score[i, j] = c[0, 1] ** 2 / (c[0, 0] * c[1, 1]) if c[0, 0] > 1e-12 else 0.0
            elif svc:
                clf = LinearSVC(C=0.01, class_weight="balanced").fit(mus_train[i, :, None], ys_train[j])
                score[i, j] = np.mean(clf.predict(mus_test[i, :, None]) == ys_test[j])
            else:
                classes = np.unique(ys_train[j])
                means = np.array([mus_train[i, ys_train[j] == c].mean() for c in classes])
                pred = classes[np.argmin(np.abs(mus_test[i, :, None] - means[None, :]), axis=1)]
                score[i, j] = np.mean(pred == ys_test[j])
    s = np.sort(score, axis=0)
    return np.mean(s[-1, :] - s[-2, :])


def ref_disentanglement(importance_matrix):
    per_code = 1. - scipy.stats.entropy(importance_matrix.T + 1e-11, base=importance_matrix.shape[1])
    if importance_matrix.sum() == 0.:
        importance_matrix = np.ones_like(importance_matrix)
    code_importance = importance_matrix.sum(axis=1) / importance_matrix.sum()
    return np.sum(per_code * code_importance)


def ref_completeness(importance_matrix):
    per_factor = 1. - scipy.stats.entropy(importance_matrix + 1e-11, base=importance_matrix.shape[0])
    if importance_matrix.sum() == 0.:
        importance_matrix = np.ones_like(importance_matrix)
    factor_importance = importance_matrix.sum(axis=0) / importance_matrix.sum()
    return np.sum(per_factor * factor_importance)


def ref_importance_gbt(x_train, y_train, x_test, y_test, discrete):
    importance_matrix = np.zeros([x_train.shape[0], y_train.shape[0]])
    scores = []
    for i in range(y_train.shape[0]):
        model = GradientBoostingClassifier() if discrete[i] else GradientBoostingRegressor()
        model.fit(x_train.T, y_train[i, :])
        importance_matrix[:, i] = np.abs(model.feature_importances_)
        scores.append(model.score(x_test.T, y_test[i, :]))
    return importance_matrix, np.mean(scores)


def split(n, seed, test_fraction=0.2):
    """zspace's documented split of the rows used: a seeded permutation, the first share held out."""
    order = np.random.default_rng(np.random.SeedSequence([seed, 1])).permutation(n)
    n_test = round(test_fraction * n)
    return np.sort(order[n_test:]), np.sort(order[:n_test])


# ------------------------------------------------------------------------------------------------------------------
# inputs


def mixed_factors(n, rng):
    """Two discrete factors (3 classes, binary) and three continuous ones of different shapes and scales."""
    return np.column_stack([rng.integers(0, 3, n), rng.integers(0, 2, n), rng.uniform(0, 5, n),
                            rng.standard_normal(n) * 3, rng.exponential(2.0, n)]).astype(np.float64)


NAMES = ["shape", "flip", "size", "tilt", "glow"]


def test_codes_that_are_the_factors_score_near_one():
    rng = np.random.default_rng(0)
    n = 3000
    f = mixed_factors(n, rng)
    perm = [3, 0, 4, 1, 2]
    scale = np.array([0.7, -2.0, 1.3, 5.0, -0.4])
    z = f[:, perm] * scale + 1e-4 * f[:, perm].std(axis=0) * rng.standard_normal((n, 5))
    z = np.column_stack([z, rng.standard_normal(n)]).astype(np.float32)     # one direction that is noise
    r = factor_analysis(z, f, NAMES, seed=0)
    assert r.discrete == [True, True, False, False, False]
    assert r.axes.mig >= 0.9 and r.axes.mig_per_factor.min() >= 0.85
    assert r.axes.dci_disentanglement >= 0.9 and r.axes.dci_completeness >= 0.9
    assert r.axes.dci_informativeness >= 0.95
    assert r.axes.sap >= 0.5       # squared correlations near 1 for continuous factors, accuracies near 1
    assert list(r.axes.best_direction) == [perm.index(k) for k in range(5)]
    assert np.all(r.axes.mi >= 0) and np.all(r.axes.mi <= 1)
    assert np.all(r.linear_r2[2:] > 0.99) and r.linear_r2[1] > 0.99
    # the linear direction of a factor that is one axis is that axis (sign: towards larger values / class 1)
    for k in (1, 2, 3, 4):
        axis = perm.index(k)
        assert abs(r.linear_direction[k, axis]) > 0.99
        assert np.sign(r.linear_direction[k, axis]) == np.sign(scale[axis])
    assert np.allclose(np.linalg.norm(r.linear_direction, axis=1), 1.0)
    lasso = factor_analysis(z, f, NAMES, FactorConfig(importance="lasso"), seed=0)
    assert lasso.axes.dci_disentanglement >= 0.9 and lasso.axes.dci_completeness >= 0.85
    assert lasso.axes.mig == r.axes.mig       # only DCI depends on the importance model


def test_rotated_factors_hide_from_the_axes_but_not_from_pca_or_the_linear_probe():
    rng = np.random.default_rng(1)
    n = 4000
    f = rng.uniform(-1, 1, (n, 4)) * np.array([1.0, 2.0, 3.0, 4.0])    # distinct variances: PCA can find them
    q, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    z = (f @ q.T).astype(np.float32)
    r = factor_analysis(z, f, ["a", "b", "c", "d"], seed=0)
    assert r.discrete == [False] * 4
    assert r.axes.mig <= 0.2
    assert r.axes.dci_informativeness >= 0.9
    assert r.axes.dci_disentanglement < 0.6
    assert r.pca.mig >= 0.75 and r.pca.dci_disentanglement >= 0.9 and r.pca.sap >= 0.9
    assert np.all(r.linear_r2 > 0.999)
    # each factor's linear direction is its column of the rotation (up to sign), and PCA found them in order
    assert np.allclose(np.abs(np.sum(r.linear_direction * q.T, axis=1)), 1.0, atol=1e-3)
    assert list(r.pca.best_direction) == [3, 2, 1, 0]


def test_codes_independent_of_the_factors_score_near_zero():
    rng = np.random.default_rng(2)
    n = 4000
    f = np.column_stack([rng.uniform(size=n), rng.standard_normal(n), rng.exponential(size=n),
                         rng.integers(0, 2, n), rng.integers(0, 4, n)]).astype(np.float64)
    z = rng.standard_normal((n, 8)).astype(np.float32)
    r = factor_analysis(z, f, ["u", "g", "e", "b", "c"], seed=0)
    for scores in (r.axes, r.pca):
        assert scores.mig <= 0.1 and scores.sap <= 0.1 and scores.dci_disentanglement <= 0.1
        assert scores.mi.max() <= 0.1
    assert np.all(np.abs(r.linear_r2[:3]) <= 0.05)                     # R^2 of continuous factors
    assert np.all(np.abs(r.linear_r2[3:] - r.linear_chance[3:]) <= 0.05)  # balanced accuracy of discrete ones
    assert list(r.linear_chance) == [0.0, 0.0, 0.0, 0.5, 0.25]


def test_matches_an_independent_reference():
    rng = np.random.default_rng(3)
    n, d = 1500, 6
    f = mixed_factors(n, rng)
    mixing = rng.standard_normal((5, d)) * (rng.uniform(size=(5, d)) < 0.4) + np.eye(5, d) * 2
    z = ((f - f.mean(axis=0)) / f.std(axis=0)) @ mixing + 0.5 * rng.standard_normal((n, d))
    z = z.astype(np.float32)
    r = factor_analysis(z, f, NAMES, seed=0)
    mus, ys = z.T.astype(np.float64), f.T
    train, test = split(n, 0)
    ys_labels = np.stack([np.unique(y, return_inverse=True)[1] for y in ys])

    mig, mi = ref_mig(z.T, ys_labels * np.array(r.discrete)[:, None] + ys * ~np.array(r.discrete)[:, None],
                      r.discrete)
    assert abs(r.axes.mig - mig) <= 0.01 and np.allclose(r.axes.mi, mi, atol=1e-9)
    sap = ref_sap(mus, ys, mus[:, train], ys[:, train], mus[:, test], ys[:, test], r.discrete)
    assert abs(r.axes.sap - sap) <= 0.01
    # the DCI formulas on zspace's importance matrix, and the importance model against disentanglement_lib's
    assert abs(r.axes.dci_disentanglement - ref_disentanglement(r.axes.importance)) <= 1e-9
    assert abs(r.axes.dci_completeness - ref_completeness(r.axes.importance)) <= 1e-9
    importance, informativeness = ref_importance_gbt(mus[:, train], ys[:, train], mus[:, test], ys[:, test],
                                                     r.discrete)
    # importance="gbc" is that model: DCI within 0.01
    exact = factor_analysis(z, f, NAMES, FactorConfig(importance="gbc"), seed=0)
    assert abs(exact.axes.dci_disentanglement - ref_disentanglement(importance)) <= 0.01
    assert abs(exact.axes.dci_completeness - ref_completeness(importance)) <= 0.01
    assert abs(exact.axes.dci_informativeness - informativeness) <= 0.01
    # the default histogram boosting with split gains is close to it (documented: D and C a few 0.01 lower)
    assert abs(r.axes.dci_disentanglement - ref_disentanglement(importance)) <= 0.05
    assert abs(r.axes.dci_completeness - ref_completeness(importance)) <= 0.05
    assert abs(r.axes.dci_informativeness - informativeness) <= 0.03
    assert np.corrcoef(r.axes.importance.ravel(), importance.ravel())[0, 1] >= 0.98


def test_binary_sap_is_close_to_disentanglement_libs_linear_svc():
    rng = np.random.default_rng(4)
    n, d = 2000, 5
    f = (rng.uniform(size=(n, 3)) < [0.5, 0.3, 0.1]).astype(np.float64)
    z = np.column_stack([f @ rng.standard_normal((3, d)) + rng.standard_normal((n, d))]).astype(np.float32)
    z[:, 0] += 3 * f[:, 0]
    r = factor_analysis(z, f, ["x", "y", "w"], seed=0)
    train, test = split(n, 0)
    mus, ys = z.T.astype(np.float64), f.T
    sap_svc = ref_sap(mus, ys, mus[:, train], ys[:, train], mus[:, test], ys[:, test], r.discrete, svc=True)
    assert abs(r.axes.sap - sap_svc) <= 0.02


def test_celeba_like_binary_attributes():
    rng = np.random.default_rng(5)
    n, d, k = 2500, 16, 40
    z = rng.standard_normal((n, d)).astype(np.float32)
    proj = rng.standard_normal((d, k)) * 0.3
    proj[np.arange(10), np.arange(10)] = 3.0         # attributes 0..9 follow axes 0..9
    logits = z @ proj + 0.5 * rng.standard_normal((n, k))
    attrs = np.where(logits > np.quantile(logits, 1 - rng.uniform(0.05, 0.5, k), axis=0).diagonal(), 1, -1)
    names = [f"attr{i}" for i in range(k)]
    # 30 boosting rounds instead of 100: the same importance ranking here, a third of the time
    r = factor_analysis(z, attrs.astype(np.float32), names, FactorConfig(gbt_iterations=30), seed=0)
    assert r.discrete == [True] * k and r.n_values == [2] * k
    assert r.axes.mi.shape == (d, k) and r.axes.importance.shape == (d, k) and r.linear_direction.shape == (k, d)
    assert list(r.axes.best_direction[:10]) == list(range(10))
    assert np.allclose(r.axes.importance.sum(axis=0), 1.0)
    assert r.axes.mig_per_factor[:10].mean() > r.axes.mig_per_factor[10:].mean()
    assert np.all(r.linear_r2 > 0.6) and np.all(r.factor_entropy > 0) and np.all(r.factor_entropy <= np.log(2))
    head = r.headline()
    assert set(head) >= {"mig_axes", "mig_pca", "dci_d_axes", "sap_axes", "linear_r2_mean"}
    assert all(np.isfinite(v) for v in head.values())
    json.dumps(r.to_json())                         # JSON-safe, nested scores included
    assert "pca_components" not in r.to_json()


def test_subsample_seed_and_constant_factors():
    rng = np.random.default_rng(6)
    n = 3000
    f = np.column_stack([rng.uniform(size=n), np.full(n, 7.0), rng.integers(0, 3, n)])
    z = np.column_stack([f[:, 0], f[:, 2], rng.standard_normal(n)]).astype(np.float32)
    cfg = FactorConfig(max_points=1000, dci_max_train=300)
    a = factor_analysis(z, f, ["u", "const", "c"], cfg, seed=3)
    b = factor_analysis(z, f, ["u", "const", "c"], cfg, seed=3)
    assert a.n_points == n and a.n_used == 1000 and a.n_test == 200 and a.n_dci_train == 300
    assert a.factor_names == ["u", "c"] and a.skipped_factors == ["const"] and a.axes.mi.shape == (3, 2)
    assert any("const" in note for note in a.notes) and any("1000 of 3000" in note for note in a.notes)
    assert a.headline() == b.headline()
    assert np.array_equal(a.axes.importance, b.axes.importance)
    # discrete given by hand overrides the rule of <= 20 values
    c = factor_analysis(z, f, ["u", "const", "c"], cfg, seed=3, discrete=[False, False, False])
    assert c.discrete == [False, False] and c.n_values == [20, 20]


@pytest.mark.parametrize("codes, factors, names, kwargs, words", [
    (np.zeros((50, 3)), np.zeros((40, 1)), ["a"], {}, "40 rows but codes have 50"),
    (np.zeros((50, 3)), np.zeros((50, 0)), [], {}, "K = 0"),
    (np.zeros((50, 3)), np.r_[np.full(49, 1.0), np.nan][:, None], ["a"], {}, "a hold NaN"),
    (np.r_[np.ones((49, 3)), np.full((1, 3), np.inf)], np.arange(50.0)[:, None], ["a"], {}, "codes hold NaN"),
    (np.zeros((50, 3)), np.arange(50.0)[:, None], ["a", "b"], {}, "2 factor name(s) for 1"),
    (np.zeros((50, 3)), np.arange(100.0).reshape(50, 2), ["a", "a"], {}, "names repeat"),
    (np.zeros((50, 1)), np.arange(50.0)[:, None], ["a"], {}, "give at least 2"),
    (np.zeros((10, 3)), np.arange(10.0)[:, None], ["a"], {}, "at least 20 points"),
    (np.zeros(50), np.arange(50.0)[:, None], ["a"], {}, "(N, d)"),
    (np.zeros((50, 3)), np.arange(50.0)[:, None], ["a"], {"discrete": [True, False]}, "discrete has 2"),
    (np.zeros((50, 3)), np.ones((50, 2)), ["a", "b"], {}, "every factor (a, b) is constant"),
])
def test_bad_inputs_are_refused_in_one_line(codes, factors, names, kwargs, words):
    with pytest.raises(ZspaceError) as info:
        factor_analysis(codes, factors, names, **kwargs)
    assert words in str(info.value) and "\n" not in str(info.value)


def test_bad_config_is_refused_in_one_line():
    for kwargs, words in (({"importance": "forest"}, "choose one of gbt, lasso, gbc"), ({"n_bins": 1}, "at least 2 bins"),
                          ({"test_fraction": 0.9}, "between 0.05 and 0.5")):
        with pytest.raises(ZspaceError) as info:
            FactorConfig(**kwargs)
        assert words in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(ZspaceError, match="unknown key"):
        FactorConfig.from_dict({"bins": 10})
