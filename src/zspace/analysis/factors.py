"""Which directions of z encode which known factors: MI, MIG, SAP, DCI and a linear probe.

Inputs are plain arrays: ``codes`` (N, d), a VAE's mu or an AE's z, and
``factors`` (N, K), known per-point quantities (attributes, generative
factors; class labels as one discrete column). Every measure is computed
twice: on the axes of z, and on the d principal directions of z (the same
PCA as :func:`zspace.analysis.pca.fit_pca`, fitted on all N rows), so a code
that encodes factors along rotated directions is told apart from one that
encodes nothing.

Definitions follow disentanglement_lib (Locatello et al. 2019, ``mig.py``,
``sap_score.py``, ``dci.py``, ``utils.py``):

* **Discretisation**: a continuous factor, and every direction of z, is cut
  into ``n_bins`` equal-width bins over its own range,
  ``np.digitize(x, np.histogram(x, n_bins)[1][:-1])`` (``histogram_discretizer``).
  A discrete factor keeps its values (relabelled 0..L-1).
* **MI** (nats): ``sklearn.metrics.mutual_info_score`` of a discretised
  direction with a (discretised) factor, computed here for all pairs at once
  from one sparse contingency product (the same plug-in estimate, equal to
  machine precision). **Factor entropy** H_k is the MI of the factor with
  itself. ``mi`` is reported normalised, MI / H_k, in [0, 1].
* **MIG** (Chen et al. 2018): per factor, the gap between the two largest
  normalised MIs over directions; MIG is the mean over factors.
* **SAP** (Kumar et al. 2018): per factor, score each direction alone, take
  the gap between the two best scores; SAP is the mean over factors. A
  continuous factor's score is the squared correlation of direction and factor
  over the rows used (disentanglement_lib's continuous branch, exactly). A
  discrete factor's score is the held-out accuracy of a class-balanced linear
  classifier of the factor from that one direction. disentanglement_lib fits
  ``LinearSVC(C=0.01, class_weight="balanced")`` per pair (d x K fits; 10,240
  at 256 x 40, minutes); here each direction predicts the class whose
  training mean along it is nearest (for two classes: a threshold at the
  midpoint of the two class means, which is the equal-prior linear
  discriminant in one dimension), fitted on the training split, scored by
  plain accuracy on the held-out split as disentanglement_lib does. For
  binary factors the two agree closely (SAP within 0.005 on CelebA-like
  codes); for more classes the nearest mean can also predict a middle class,
  which a one-direction one-vs-rest LinearSVC hardly can.
* **DCI** (Eastwood & Williams 2018): an importance matrix R (d, K) from one
  model per factor predicting it from all d directions, each column
  normalised to sum 1. Disentanglement = sum_i rho_i (1 - H_K(R_i.)), the
  entropy (base K) of each row normalised, weighted by the row's share
  rho_i of all importance; completeness = sum_k rho_k (1 - H_d(R_.k)), the
  same over columns (base d); informativeness = the mean over factors of the
  model's held-out accuracy (discrete) or R^2 (continuous). Entropies use
  ``scipy.stats.entropy(R + 1e-11)`` as disentanglement_lib does.
  ``importance="gbt"`` (default): gradient-boosted trees with the settings of
  disentanglement_lib's ``GradientBoostingClassifier()`` (100 iterations,
  learning rate 0.1, depth 3, leaves of 1 row), fitted with scikit-learn's
  histogram implementation (``HistGradientBoosting*``, ~30x faster);
  importance = the total split gain of each direction (the analogue of
  ``feature_importances_``, which that implementation lacks). Its gains are
  hessian-weighted, so on the same rows it spreads a little more importance
  onto uninformative directions than the exact model: measured on 256-d
  CelebA-like codes, D and C 0.03-0.05 lower, the same informativeness and
  importance matrices correlated at 0.997. Compare runs with each other;
  for numbers comparable with published disentanglement_lib DCI use
  ``importance="gbc"``: ``GradientBoostingClassifier`` / ``Regressor`` and
  their ``feature_importances_`` exactly (about a minute per factor at
  10k x 256 on one core).
  ``importance="lasso"``: ``LassoCV`` (3 folds) on directions standardised on
  the training rows, importance = |coefficient| (summed over classes for a
  discrete factor regressed on its class indicators), classes predicted by
  the largest indicator; it sees only linear (monotone) dependence.
  The per-factor fits run side by side, one per core, each on one thread.
* **Linear probe**: one ridge-regularised least-squares fit of every factor on
  all of z (continuous: the factor; discrete: its class indicators). Score:
  held-out R^2 (continuous) or balanced accuracy of the nearest class mean of
  the fitted scores (discrete; for two classes the equal-prior linear
  discriminant). Direction: the coefficient vector in z units, normalised to
  length 1 (for more than two classes the leading left singular vector of the
  coefficients, largest entry positive): the unit step in z that moves the
  fitted factor fastest, for traversals.

Rows: when N > ``max_points``, a seeded subsample of ``max_points`` rows
(:func:`zspace.core.rows.seeded_subsample`) is used for every measure but the
PCA fit; the rows used are split once, seeded, into a training and a held-out
part (``test_fraction``). The DCI models train on at most ``dci_max_train``
training rows and are scored on the whole held-out part.

A factor whose values are all equal over the rows used carries no
information and cannot be normalised by its entropy: it is skipped, named in
``skipped_factors`` and ``notes``; only when every factor is constant is it an
error.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import scipy.linalg
import scipy.sparse
import scipy.stats

from zspace.analysis.pca import fit_pca, project
from zspace.core.config import Config
from zspace.core.device import available_cores
from zspace.core.errors import require
from zspace.core.progress import progress
from zspace.core.results import Result, array_field
from zspace.core.rows import row_chunks, seeded_subsample

IMPORTANCE_MODELS = ("gbt", "lasso", "gbc")


@dataclasses.dataclass
class FactorConfig(Config):
    """Settings of :func:`factor_analysis`.

    Parameters
    ----------
    n_bins : int, default 20
        Equal-width bins for discretising continuous factors and every
        direction of z before MI (disentanglement_lib's ``histogram_discretizer``
        with its default 20 bins).
    max_points : int, default 50000
        Rows used for MI, MIG, SAP, DCI and the linear probe: a seeded
        subsample when N is larger (``n_used`` in the result). At 50k the MI
        plug-in bias is about (bins - 1)^2 / 2n = 0.004 nats, ~0.1% of a
        20-bin factor's entropy.
    importance : {"gbt", "lasso", "gbc"}, default "gbt"
        DCI importance model (see the module docstring). "gbt" is the default:
        it is disentanglement_lib's model (fitted the fast way), it sees
        non-monotone codes, and it is the more stable of the fast two.
        Measured at 170k x 256 with 40 binary attributes on 2 cores
        (benchmarks/bench_factors.py, 3 seeds): "gbt" 62 s in all (DCI 29 s
        per basis), std over seeds 0.003 (D) / 0.002 (C); "lasso" 22 s (DCI
        9 s per basis), std 0.008 / 0.008. "gbc" is the exact
        GradientBoostingClassifier, ~30x slower than "gbt".
    test_fraction : float, default 0.2
        Share of the rows used that is held out for SAP (discrete factors),
        DCI informativeness and the linear probe.
    discrete_max_values : int, default 20
        With ``discrete=None``, a factor with at most this many distinct
        values (over all N rows) is discrete; more is continuous.
    dci_max_train : int, default 10000
        Training rows of each DCI importance model: a seeded subsample of the
        training split (disentanglement_lib's DCI uses 10,000).
    gbt_iterations : int, default 100
        Boosting iterations (GradientBoostingClassifier's n_estimators default).
    gbt_depth : int, default 3
        Depth of each tree (GradientBoostingClassifier's max_depth default).
    gbt_learning_rate : float, default 0.1
    lasso_folds : int, default 3
        Cross-validation folds of ``LassoCV`` with ``importance="lasso"``.
    ridge : float, default 1e-6
        Ridge of the linear probe, relative to the mean variance of z (keeps
        the solve defined when directions are collinear).
    """

    n_bins: int = 20
    max_points: int = 50_000
    importance: str = "gbt"
    test_fraction: float = 0.2
    discrete_max_values: int = 20
    dci_max_train: int = 10_000
    gbt_iterations: int = 100
    gbt_depth: int = 3
    gbt_learning_rate: float = 0.1
    lasso_folds: int = 3
    ridge: float = 1e-6

    def validate(self) -> None:
        require(self.n_bins >= 2, f"factors n_bins {self.n_bins}: give at least 2 bins (default {FactorConfig.n_bins})")
        require(self.max_points >= 100, f"factors max_points {self.max_points}: give at least 100 rows "
                                        f"(default {FactorConfig.max_points})")
        require(self.importance in IMPORTANCE_MODELS, f"factors importance {self.importance!r}: choose one of "
                                                      f"{', '.join(IMPORTANCE_MODELS)}")
        require(0.05 <= self.test_fraction <= 0.5, f"factors test_fraction {self.test_fraction}: give a share "
                                                   f"between 0.05 and 0.5 (default {FactorConfig.test_fraction})")
        require(self.discrete_max_values >= 2, f"factors discrete_max_values {self.discrete_max_values}: give at "
                                               f"least 2 (default {FactorConfig.discrete_max_values})")
        require(self.dci_max_train >= 50, f"factors dci_max_train {self.dci_max_train}: give at least 50 rows "
                                          f"(default {FactorConfig.dci_max_train})")
        require(self.gbt_iterations >= 1 and self.gbt_depth >= 1 and self.gbt_learning_rate > 0,
                "factors gbt_iterations, gbt_depth and gbt_learning_rate must be positive")
        require(self.lasso_folds >= 2, f"factors lasso_folds {self.lasso_folds}: give at least 2")
        require(self.ridge >= 0, f"factors ridge {self.ridge}: give a value >= 0")


@dataclasses.dataclass
class DirectionScores(Result):
    """The measures on one set of d directions (the axes of z, or its principal directions).

    Attributes
    ----------
    basis : str
        "axes" or "pca" (direction i = principal component i + 1, by decreasing variance).
    mi : float array, shape (d, K)
        Mutual information of each direction with each factor / the factor's entropy, in [0, 1].
    mig, mig_per_factor : float, float array (K,)
        Mutual information gap (normalised), its mean over factors.
    sap, sap_per_factor : float, float array (K,)
        Gap of the two best single-direction scores (R^2 or held-out accuracy), its mean over factors.
    sap_scores : float array, shape (d, K)
        The single-direction scores themselves.
    dci_disentanglement, dci_completeness, dci_informativeness : float
    informativeness_per_factor : float array, shape (K,)
        Held-out accuracy (discrete) or R^2 (continuous) of each factor's importance model.
    importance : float array, shape (d, K)
        Importance matrix of DCI, each column summing to 1 (0 where the model used no direction).
    best_direction : int array, shape (K,)
        Direction with the highest MI per factor.
    best_direction_mi : float array, shape (K,)
        Its normalised MI.
    """

    basis: str
    mi: np.ndarray
    mig: float
    mig_per_factor: np.ndarray
    sap: float
    sap_per_factor: np.ndarray
    dci_disentanglement: float
    dci_completeness: float
    dci_informativeness: float
    importance: np.ndarray
    best_direction: np.ndarray
    best_direction_mi: np.ndarray
    sap_scores: np.ndarray = None
    informativeness_per_factor: np.ndarray = None

    def headline(self) -> dict[str, float]:
        return {"mig": self.mig, "sap": self.sap, "dci_d": self.dci_disentanglement,
                "dci_c": self.dci_completeness, "dci_i": self.dci_informativeness}


@dataclasses.dataclass
class FactorResult(Result):
    """Which directions of z encode which factors (see the module docstring for every definition).

    Attributes
    ----------
    n_points : int
        Rows given (N).
    n_used : int
        Rows used for MI, MIG, SAP, DCI and the linear probe.
    n_test : int
        Of those, rows held out.
    n_dci_train : int
        Training rows of each DCI importance model.
    dim : int
        d.
    factor_names, discrete : list
        The factors analysed (constant ones removed), and which are discrete.
    n_values : list of int
        Distinct values of each discrete factor (bins for a continuous one) over the rows used.
    factor_entropy : float array, shape (K,)
        Entropy of each (discretised) factor over the rows used, nats.
    axes, pca : DirectionScores
        The measures on the axes of z and on its d principal directions.
    linear_r2 : float array, shape (K,)
        Held-out R^2 (continuous) or balanced accuracy (discrete) of the linear probe on all of z.
    linear_chance : float array, shape (K,)
        What ``linear_r2`` is for codes unrelated to the factor: 0 (R^2) or 1 / classes (balanced accuracy).
    linear_direction : float array, shape (K, d)
        Unit vector in z of each factor's linear direction.
    importance_model : str
        The DCI model as fitted.
    skipped_factors : list of str
        Factors left out because they are constant over the rows used.
    notes : list of str
    seconds : dict str -> float
        Wall time per part: prepare, mi, mig_sap, dci, linear, pca_fit, pca_mi, pca_mig_sap, pca_dci, total.
    pca_mean, pca_components : arrays (d,), (d, d) (not in JSON)
        The principal directions (row i = direction i of ``pca``), for traversals along them.
    """

    n_points: int
    n_used: int
    dim: int
    factor_names: list[str]
    discrete: list[bool]
    factor_entropy: np.ndarray
    axes: DirectionScores
    pca: DirectionScores
    linear_r2: np.ndarray
    linear_direction: np.ndarray
    seconds: dict[str, float]
    n_test: int = 0
    n_dci_train: int = 0
    n_values: list[int] = dataclasses.field(default_factory=list)
    linear_chance: np.ndarray = None
    importance_model: str = ""
    skipped_factors: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    pca_mean: np.ndarray = array_field()
    pca_components: np.ndarray = array_field()

    def headline(self) -> dict[str, float]:
        """MIG, SAP and DCI on the axes and on the PCA directions, and the mean linear-probe score."""
        return {"mig_axes": self.axes.mig, "mig_pca": self.pca.mig,
                "sap_axes": self.axes.sap, "sap_pca": self.pca.sap,
                "dci_d_axes": self.axes.dci_disentanglement, "dci_d_pca": self.pca.dci_disentanglement,
                "dci_c_axes": self.axes.dci_completeness, "dci_c_pca": self.pca.dci_completeness,
                "dci_i_axes": self.axes.dci_informativeness, "dci_i_pca": self.pca.dci_informativeness,
                "linear_r2_mean": float(np.mean(self.linear_r2))}


# ----------------------------------------------------------------------------------------------------------------
# the factors as the measures need them


@dataclasses.dataclass
class _Factors:
    """The kept factors over the rows used: raw values, labels 0..L-1 and what kind each is."""

    names: list[str]
    discrete: list[bool]
    values: np.ndarray          # (n, K) float64, the given values
    labels: np.ndarray          # (n, K) int64: class index (discrete) or bin index (continuous)
    n_values: list[int]         # L per factor
    entropy: np.ndarray         # (K,) nats


def histogram_discretize(x: np.ndarray, n_bins: int) -> np.ndarray:
    """disentanglement_lib's ``histogram_discretizer``, column by column, as 0-based bin indices.

    Parameters
    ----------
    x : numpy.ndarray, shape (n, m)
    n_bins : int

    Returns
    -------
    numpy.ndarray of int64, shape (n, m), values in 0..n_bins-1
        ``np.digitize(col, np.histogram(col, n_bins)[1][:-1]) - 1`` of each column.
    """
    out = np.empty(x.shape, dtype=np.int64)
    for j in range(x.shape[1]):
        col = x[:, j]
        out[:, j] = np.digitize(col, np.histogram(col, n_bins)[1][:-1]) - 1
    return out


def _prepare_factors(factors: np.ndarray, names: list[str], discrete: list[bool], n_bins: int) -> tuple[
        _Factors, list[str]]:
    keep, skipped = [], []
    for k in range(factors.shape[1]):
        (skipped if np.all(factors[:, k] == factors[0, k]) else keep).append(k)
    require(keep, f"factors: every factor ({', '.join(names)}) is constant over the rows used; "
                  "give factors that vary across points")
    values = factors[:, keep].astype(np.float64)
    labels = np.empty(values.shape, dtype=np.int64)
    n_values = []
    for j, k in enumerate(keep):
        if discrete[k]:
            uniques, labels[:, j] = np.unique(values[:, j], return_inverse=True)
            n_values.append(len(uniques))
        else:
            labels[:, j] = histogram_discretize(values[:, j:j + 1], n_bins)[:, 0]
            n_values.append(n_bins)
    entropy = np.array([_entropy(labels[:, j], n_values[j]) for j in range(len(keep))])
    return _Factors([names[k] for k in keep], [discrete[k] for k in keep], values, labels, n_values,
                    entropy), [names[k] for k in skipped]


def _entropy(labels: np.ndarray, n_values: int) -> float:
    """Plug-in entropy in nats (= ``mutual_info_score(y, y)``)."""
    p = np.bincount(labels, minlength=n_values) / len(labels)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


# ----------------------------------------------------------------------------------------------------------------
# MI and MIG


def mutual_information(binned: np.ndarray, n_bins: int, labels: np.ndarray, n_values: Sequence[int],
                       chunk_rows: int = 8192) -> np.ndarray:
    """Plug-in MI (nats) of every discretised direction with every labelled factor.

    Equal to ``sklearn.metrics.mutual_info_score(labels[:, k], binned[:, i])``
    for every pair, from one contingency table per pair, all of them built by
    a sparse one-hot product over row chunks.

    Parameters
    ----------
    binned : int array, shape (n, m), values in 0..n_bins-1
    labels : int array, shape (n, K), factor k in 0..n_values[k]-1

    Returns
    -------
    numpy.ndarray, shape (m, K)
    """
    n, m = binned.shape
    offsets = np.concatenate([[0], np.cumsum(n_values)]).astype(np.int64)
    counts = np.zeros((m * n_bins, offsets[-1]))
    column_shift = (np.arange(m, dtype=np.int64) * n_bins)[None, :]
    for rows in row_chunks(n, chunk_rows):
        r = rows.stop - rows.start
        onehot_z = scipy.sparse.csr_matrix(
            (np.ones(r * m, dtype=np.float32), (binned[rows] + column_shift).ravel(),
             np.arange(0, r * m + 1, m)), shape=(r, m * n_bins))
        onehot_f = np.zeros((r, offsets[-1]), dtype=np.float32)
        onehot_f[np.arange(r)[:, None], labels[rows] + offsets[None, :-1]] = 1.0
        counts += onehot_z.T @ onehot_f       # exact: integer counts below 2**24 per chunk
    mi = np.zeros((m, len(n_values)))
    for k in range(len(n_values)):
        table = counts[:, offsets[k]:offsets[k + 1]].reshape(m, n_bins, n_values[k]) / n
        pz = table.sum(axis=2, keepdims=True)
        pf = table.sum(axis=1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(table > 0, table * (np.log(table) - np.log(pz) - np.log(pf)), 0.0)
        mi[:, k] = np.clip(terms.sum(axis=(1, 2)), 0.0, None)
    return mi


def _gaps(scores: np.ndarray) -> np.ndarray:
    """Per column, the largest value minus the second largest (scores (m, K), m >= 2)."""
    top = np.sort(scores, axis=0)
    return top[-1] - top[-2]


# ----------------------------------------------------------------------------------------------------------------
# SAP


def sap_scores(x: np.ndarray, fac: _Factors, train: np.ndarray, test: np.ndarray) -> np.ndarray:
    """Single-direction scores (m, K): squared correlation (continuous) or held-out accuracy (discrete).

    Parameters
    ----------
    x : float array, shape (n, m)
        The directions over the rows used.
    train, test : int arrays
        Row indices into ``x`` of the two splits.
    """
    m, kk = x.shape[1], len(fac.names)
    scores = np.zeros((m, kk))
    if not all(fac.discrete):
        xc = x - x.mean(axis=0, dtype=np.float64)
        var_x = (xc * xc).sum(axis=0) / (len(x) - 1)
    if any(fac.discrete):
        x_train, x_test = x[train].astype(np.float64), x[test].astype(np.float64)
    for k in range(kk):
        if fac.discrete[k]:
            scores[:, k] = _nearest_mean_accuracy(x_train, fac.labels[train, k], x_test, fac.labels[test, k],
                                                  fac.n_values[k])
        else:
            yc = fac.values[:, k] - fac.values[:, k].mean()
            cov = (xc.T @ yc) / (len(x) - 1)
            var_y = float(yc @ yc) / (len(x) - 1)
            with np.errstate(divide="ignore", invalid="ignore"):
                scores[:, k] = np.where(var_x > 1e-12, cov ** 2 / (var_x * var_y), 0.0)
    return scores


def _nearest_mean_accuracy(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                           n_classes: int) -> np.ndarray:
    """Per column of x (float64), held-out accuracy of predicting the class whose training mean is nearest (m,)."""
    onehot = np.zeros((len(y_train), n_classes))
    onehot[np.arange(len(y_train)), y_train] = 1.0
    counts = onehot.sum(axis=0)
    sums = onehot.T @ x_train
    with np.errstate(divide="ignore", invalid="ignore"):
        means = np.where(counts[:, None] > 0, sums / counts[:, None], np.inf)  # a class absent from training: never
    correct = np.zeros(x_train.shape[1])
    if n_classes == 2 and np.isfinite(means).all():   # nearest of two means: the side of their midpoint
        midpoint, up, down = (means[0] + means[1]) / 2, means[1] > means[0], means[1] < means[0]
        for rows in row_chunks(len(x_test), 8192):
            xt = x_test[rows]
            predicted = ((xt > midpoint) & up) | ((xt < midpoint) & down)   # ties -> class 0, as argmin
            correct += (predicted == y_test[rows, None].astype(bool)).sum(axis=0)
        return correct / len(x_test)
    for rows in row_chunks(len(x_test), max(1, 2**22 // (n_classes * x_train.shape[1]))):
        predicted = np.argmin(np.abs(x_test[rows][None] - means[:, None, :]), axis=0)
        correct += (predicted == y_test[rows, None]).sum(axis=0)
    return correct / len(x_test)


# ----------------------------------------------------------------------------------------------------------------
# DCI


def dci_scores(importance: np.ndarray) -> tuple[float, float]:
    """(disentanglement, completeness) of an importance matrix (d, K), as disentanglement_lib's dci.py."""
    d, kk = importance.shape
    total = importance.sum()
    weights = importance if total > 0 else np.ones_like(importance)
    per_code = 1.0 - scipy.stats.entropy(importance.T + 1e-11, base=kk) if kk > 1 else np.ones(d)
    per_factor = 1.0 - scipy.stats.entropy(importance + 1e-11, base=d)
    disentanglement = float(np.sum(per_code * weights.sum(axis=1) / weights.sum()))
    completeness = float(np.sum(per_factor * weights.sum(axis=0) / weights.sum()))
    return disentanglement, completeness


def _gbt_fit(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, discrete: bool,
             cfg: FactorConfig, seed: int, exact: bool = False) -> tuple[np.ndarray, float]:
    """Boosted trees of one factor: (importance per direction (m,), held-out accuracy or R^2).

    ``exact=False``: scikit-learn's histogram boosting, importance = total split
    gain per direction. ``exact=True`` (or when the fitted trees cannot be
    read): ``GradientBoostingClassifier`` / ``Regressor`` and its
    ``feature_importances_``, disentanglement_lib's model.
    """
    from sklearn.ensemble import (
        GradientBoostingClassifier,
        GradientBoostingRegressor,
        HistGradientBoostingClassifier,
        HistGradientBoostingRegressor,
    )

    m = x_train.shape[1]
    if discrete and len(np.unique(y_train)) < 2:      # one class in training: nothing to learn
        return np.zeros(m), float(np.mean(y_test == y_train[0]))
    if not exact:
        params = dict(max_iter=cfg.gbt_iterations, learning_rate=cfg.gbt_learning_rate, max_depth=cfg.gbt_depth,
                      max_leaf_nodes=None, min_samples_leaf=1, l2_regularization=0.0, early_stopping=False,
                      random_state=seed)
        with _one_openmp_thread():
            model = (HistGradientBoostingClassifier if discrete else HistGradientBoostingRegressor)(**params)
            model.fit(x_train, y_train)
            score = float(model.score(x_test, y_test))
        importance = _split_gains(model, m)
        if importance is not None:
            return importance, score
    model = (GradientBoostingClassifier if discrete else GradientBoostingRegressor)(
        n_estimators=cfg.gbt_iterations, learning_rate=cfg.gbt_learning_rate, max_depth=cfg.gbt_depth,
        random_state=seed)
    model.fit(x_train, y_train)
    return np.abs(model.feature_importances_), float(model.score(x_test, y_test))


def _split_gains(model: Any, m: int) -> np.ndarray | None:
    """Total split gain per feature of a fitted histogram boosting model; None if its trees cannot be read.

    The trees are scikit-learn's private ``_predictors`` (lists of TreePredictor
    with a structured ``nodes`` array, stable since scikit-learn 0.21); a
    version without them falls back to the exact model.
    """
    try:
        importance = np.zeros(m)
        for trees in model._predictors:
            for tree in trees:
                nodes = tree.nodes[~tree.nodes["is_leaf"].astype(bool)]
                np.add.at(importance, nodes["feature_idx"].astype(np.int64), np.maximum(nodes["gain"], 0.0))
        return importance
    except (AttributeError, KeyError, ValueError, TypeError, IndexError):  # pragma: no cover
        return None


class _one_openmp_thread:
    """Limit OpenMP to one thread in the calling thread (the DCI fits run one per core side by side).

    OpenMP thread counts are per calling thread, so worker threads do not race.
    Without threadpoolctl (a scikit-learn dependency) it does nothing.
    """

    def __enter__(self):
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # pragma: no cover
            self.limits = None
        else:
            self.limits = threadpool_limits(limits=1, user_api="openmp")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.limits is not None:
            self.limits.restore_original_limits()


def _lasso_fit(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, discrete: bool,
               n_classes: int, cfg: FactorConfig, seed: int) -> tuple[np.ndarray, float]:
    """LassoCV of one factor on standardised directions: (|coef| per direction, held-out accuracy or R^2)."""
    from sklearn.linear_model import LassoCV

    m = x_train.shape[1]
    mean = x_train.mean(axis=0, dtype=np.float64)
    std = x_train.std(axis=0, dtype=np.float64)
    std[std == 0] = 1.0
    xs_train, xs_test = (x_train - mean) / std, (x_test - mean) / std
    if discrete:
        targets = np.eye(n_classes)[y_train][:, 1:] if n_classes == 2 else np.eye(n_classes)[y_train]
    else:
        targets = y_train[:, None]
    importance = np.zeros(m)
    preds = np.zeros((len(x_test), targets.shape[1]))
    for t in range(targets.shape[1]):
        if np.all(targets[:, t] == targets[0, t]):
            preds[:, t] = targets[0, t]
            continue
        model = LassoCV(cv=cfg.lasso_folds, precompute=True, random_state=seed, max_iter=2000)
        model.fit(xs_train, targets[:, t])
        importance += np.abs(model.coef_)
        preds[:, t] = model.predict(xs_test)
    if not discrete:
        return importance, _r2(y_test, preds[:, 0])
    predicted = (preds[:, 0] > 0.5).astype(np.int64) if n_classes == 2 else np.argmax(preds, axis=1)
    return importance, float(np.mean(predicted == y_test))


def _dci(x: np.ndarray, fac: _Factors, dci_train: np.ndarray, test: np.ndarray, cfg: FactorConfig, seed: int,
         desc: str) -> tuple[np.ndarray, np.ndarray]:
    """Column-normalised importance (m, K) and held-out score per factor (K,)."""
    kk = len(fac.names)
    x_train, x_test = np.ascontiguousarray(x[dci_train]), np.ascontiguousarray(x[test])

    def one(k: int) -> tuple[np.ndarray, float]:
        y = fac.labels[:, k] if fac.discrete[k] else fac.values[:, k]
        if cfg.importance in ("gbt", "gbc"):
            return _gbt_fit(x_train, y[dci_train], x_test, y[test], fac.discrete[k], cfg, seed,
                            exact=cfg.importance == "gbc")
        return _lasso_fit(x_train, y[dci_train], x_test, y[test], fac.discrete[k], fac.n_values[k], cfg, seed)

    workers = max(1, min(available_cores(), kk)) if cfg.importance != "lasso" else 1
    bar = progress(total=kk, desc=desc, unit="factor", leave=False)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        fits = []
        for fit in pool.map(one, range(kk)):
            fits.append(fit)
            bar.update(1)
    bar.close()
    importance = np.stack([f[0] for f in fits], axis=1)
    sums = importance.sum(axis=0, keepdims=True)
    importance = np.divide(importance, sums, out=np.zeros_like(importance), where=sums > 0)
    return importance, np.array([f[1] for f in fits])


def _r2(y: np.ndarray, pred: np.ndarray) -> float:
    ss = float(((y - y.mean()) ** 2).sum())
    return 1.0 - float(((y - pred) ** 2).sum()) / ss if ss > 0 else 0.0


# ----------------------------------------------------------------------------------------------------------------
# the linear probe


def linear_probe(x: np.ndarray, fac: _Factors, train: np.ndarray, test: np.ndarray,
                 ridge: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores (K,), chance levels (K,) and unit directions (K, d) of one least-squares fit of all factors on z."""
    xtr = x[train].astype(np.float64)
    mean = xtr.mean(axis=0)
    xtr -= mean
    xte = x[test].astype(np.float64) - mean
    d = x.shape[1]
    targets = []
    for k in range(len(fac.names)):
        if fac.discrete[k]:
            onehot = np.eye(fac.n_values[k])[fac.labels[train, k]]
            cols = onehot[:, 1:] if fac.n_values[k] == 2 else onehot
        else:
            cols = fac.values[train, k][:, None]
        targets.append(cols)
    y = np.concatenate(targets, axis=1)
    gram = xtr.T @ xtr
    lam = ridge * max(float(np.trace(gram)) / d, 1e-12)
    rhs = xtr.T @ (y - y.mean(axis=0))
    try:
        coef = scipy.linalg.solve(gram + lam * np.eye(d), rhs, assume_a="pos")
    except np.linalg.LinAlgError:       # ridge 0 and collinear directions: the minimum-norm solution
        coef = np.linalg.lstsq(gram, rhs, rcond=None)[0]
    fitted_train, fitted_test = xtr @ coef, xte @ coef
    scores, chance, directions = np.zeros(len(fac.names)), np.zeros(len(fac.names)), np.zeros((len(fac.names), d))
    start = 0
    for k in range(len(fac.names)):
        width = targets[k].shape[1]
        w = coef[:, start:start + width]
        if fac.discrete[k]:
            scores[k] = _balanced_nearest_centroid(fitted_train[:, start:start + width], fac.labels[train, k],
                                                   fitted_test[:, start:start + width], fac.labels[test, k],
                                                   fac.n_values[k])
            chance[k] = 1.0 / fac.n_values[k]
        else:
            scores[k] = _r2(fac.values[test, k], fitted_test[:, start] + y[:, start].mean())
        if width == 1:
            direction = w[:, 0]
        else:
            u = np.linalg.svd(w, full_matrices=False)[0][:, 0]
            direction = u * np.sign(u[np.argmax(np.abs(u))])
        norm = np.linalg.norm(direction)
        directions[k] = direction / norm if norm > 0 else 0.0
        start += width
    return scores, chance, directions


def _balanced_nearest_centroid(s_train: np.ndarray, y_train: np.ndarray, s_test: np.ndarray, y_test: np.ndarray,
                               n_classes: int) -> float:
    """Balanced held-out accuracy of the nearest class mean in the space of the fitted scores."""
    present = np.flatnonzero(np.bincount(y_train, minlength=n_classes) > 0)
    centroids = np.stack([s_train[y_train == c].mean(axis=0) for c in present])
    dist = ((s_test[:, None, :] - centroids[None]) ** 2).sum(axis=2)
    predicted = present[np.argmin(dist, axis=1)]
    recalls = [np.mean(predicted[y_test == c] == c) for c in np.unique(y_test)]
    return float(np.mean(recalls))


# ----------------------------------------------------------------------------------------------------------------
# the entry point


def factor_analysis(codes: np.ndarray, factors: np.ndarray, factor_names: list[str],
                    config: FactorConfig | None = None, seed: int = 0,
                    discrete: list[bool] | None = None) -> FactorResult:
    """Which directions of z (axes and principal directions) encode which factors.

    Parameters
    ----------
    codes : numpy.ndarray, float, shape (N, d), d >= 2
        A VAE's mu or an AE's z, row-aligned with ``factors``.
    factors : numpy.ndarray, float, shape (N, K) (or (N,) for one factor)
        Known values per point; class labels can be passed as one discrete column.
    factor_names : list of str, length K
    config : FactorConfig, optional
    seed : int, default 0
        Seeds the subsample, the train / held-out split and the DCI models.
    discrete : list of bool, length K, optional
        Which factors are discrete. None: a factor with at most
        ``config.discrete_max_values`` (20) distinct values over all N rows is
        discrete, one with more is continuous (binned into ``n_bins``); pass
        it for class labels with more than 20 classes.

    Returns
    -------
    FactorResult
        Constant factors are skipped (``skipped_factors``).

    Raises
    ------
    ZspaceError
        Shapes that do not match, no factors, non-finite values, fewer than 2
        directions or 20 rows, names or ``discrete`` of the wrong length.
    """
    cfg = config or FactorConfig()
    t0 = time.perf_counter()
    seconds: dict[str, float] = {}
    codes, factors, discrete = _check_inputs(codes, factors, factor_names, discrete, cfg)
    n, d = codes.shape
    used = seeded_subsample(n, cfg.max_points, seed)
    z = codes[used] if len(used) < n else codes
    fac, skipped = _prepare_factors(factors[used], list(factor_names), discrete, cfg.n_bins)
    notes = [f"factor {name!r} is constant over the rows used; skipped" for name in skipped]
    if len(used) < n:
        notes.append(f"MI, MIG, SAP, DCI and the linear probe use a seeded subsample of {len(used)} of {n} rows")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
    order = rng.permutation(len(used))
    n_test = max(1, round(cfg.test_fraction * len(used)))
    test, train = np.sort(order[:n_test]), np.sort(order[n_test:])
    dci_train = train if len(train) <= cfg.dci_max_train else np.sort(
        rng.choice(train, size=cfg.dci_max_train, replace=False))
    seconds["prepare"] = time.perf_counter() - t0

    axes = _direction_scores("axes", z, fac, train, test, dci_train, cfg, seed, seconds, prefix="")
    start = time.perf_counter()
    r2, chance, directions = linear_probe(z, fac, train, test, cfg.ridge)
    seconds["linear"] = time.perf_counter() - start
    start = time.perf_counter()
    pca = fit_pca(codes, ())
    z_pca = project(z, pca, np.arange(d))
    seconds["pca_fit"] = time.perf_counter() - start
    pca_scores = _direction_scores("pca", z_pca, fac, train, test, dci_train, cfg, seed, seconds, prefix="pca_")
    seconds["total"] = time.perf_counter() - t0
    model = {"gbt": f"gbt: HistGradientBoostingClassifier (discrete) / Regressor (continuous), "
                    f"{cfg.gbt_iterations} iterations, depth {cfg.gbt_depth}, learning rate "
                    f"{cfg.gbt_learning_rate:g}; importance = total split gain",
             "gbc": f"gbc: GradientBoostingClassifier (discrete) / Regressor (continuous), {cfg.gbt_iterations} "
                    f"iterations, depth {cfg.gbt_depth}, learning rate {cfg.gbt_learning_rate:g}; importance = "
                    "feature_importances_",
             "lasso": f"lasso: LassoCV ({cfg.lasso_folds} folds) on standardised directions; importance = "
                      "|coefficient|"}[cfg.importance]
    return FactorResult(
        n_points=n, n_used=len(used), dim=d, factor_names=fac.names, discrete=fac.discrete,
        factor_entropy=fac.entropy, axes=axes, pca=pca_scores, linear_r2=r2, linear_direction=directions,
        seconds=seconds, n_test=len(test), n_dci_train=len(dci_train), n_values=fac.n_values,
        linear_chance=chance, importance_model=model, skipped_factors=skipped, notes=notes,
        pca_mean=pca.mean, pca_components=pca.components)


def _direction_scores(basis: str, x: np.ndarray, fac: _Factors, train: np.ndarray, test: np.ndarray,
                      dci_train: np.ndarray, cfg: FactorConfig, seed: int, seconds: dict[str, float],
                      prefix: str) -> DirectionScores:
    start = time.perf_counter()
    binned = histogram_discretize(x, cfg.n_bins)
    mi = mutual_information(binned, cfg.n_bins, fac.labels, fac.n_values) / fac.entropy[None, :]
    mi = np.clip(mi, 0.0, 1.0)
    seconds[prefix + "mi"] = time.perf_counter() - start
    start = time.perf_counter()
    mig_per_factor = _gaps(mi)
    sap = sap_scores(x, fac, train, test)
    sap_per_factor = _gaps(sap)
    seconds[prefix + "mig_sap"] = time.perf_counter() - start
    start = time.perf_counter()
    importance, informativeness = _dci(x, fac, dci_train, test, cfg, seed,
                                       desc=f"DCI ({cfg.importance}, {basis})")
    disentanglement, completeness = dci_scores(importance)
    seconds[prefix + "dci"] = time.perf_counter() - start
    best = np.argmax(mi, axis=0)
    return DirectionScores(
        basis=basis, mi=mi, mig=float(mig_per_factor.mean()), mig_per_factor=mig_per_factor,
        sap=float(sap_per_factor.mean()), sap_per_factor=sap_per_factor,
        dci_disentanglement=disentanglement, dci_completeness=completeness,
        dci_informativeness=float(informativeness.mean()), importance=importance,
        best_direction=best.astype(np.int64), best_direction_mi=mi[best, np.arange(mi.shape[1])],
        sap_scores=sap, informativeness_per_factor=informativeness)


def _check_inputs(codes: Any, factors: Any, names: Any, discrete: Any,
                  cfg: FactorConfig) -> tuple[np.ndarray, np.ndarray, list[bool]]:
    codes = np.asarray(codes)
    factors = np.asarray(factors)
    require(codes.ndim == 2, f"codes have shape {codes.shape}; give an (N, d) array of latent codes")
    n, d = codes.shape
    require(np.issubdtype(codes.dtype, np.number) and not np.iscomplexobj(codes),
            f"codes have dtype {codes.dtype}; give a real-valued (float32) array")
    require(d >= 2, f"codes have {d} dimension(s); MIG, SAP and DCI compare directions, give at least 2")
    require(n >= 20, f"codes have {n} rows; give at least 20 points (a share is held out)")
    if factors.ndim == 1:
        factors = factors[:, None]
    require(factors.ndim == 2, f"factors have shape {factors.shape}; give an (N, K) array, one column per factor")
    require(factors.shape[1] > 0, "factors have 0 columns (K = 0); give at least one factor column")
    require(factors.shape[0] == n, f"factors have {factors.shape[0]} rows but codes have {n}; "
                                   "give one row of factors per code, in the same order")
    require(np.issubdtype(factors.dtype, np.number) or factors.dtype == bool,
            f"factors have dtype {factors.dtype}; give numbers (encode labels as integers)")
    k = factors.shape[1]
    names = list(names) if names is not None else []
    require(len(names) == k, f"{len(names)} factor name(s) for {k} factor column(s); give one name per column")
    require(len(set(map(str, names))) == k, "factor names repeat; give each factor column its own name")
    factors = factors.astype(np.float64)
    bad = [str(names[j]) for j in range(k) if not np.isfinite(factors[:, j]).all()]
    require(not bad, f"factor(s) {', '.join(bad)} hold NaN or infinite values; drop those rows or fill them")
    bad_rows = 0
    for rows in row_chunks(n):
        bad_rows += int((~np.isfinite(codes[rows])).any(axis=1).sum())
    require(bad_rows == 0, f"codes hold NaN or infinite values in {bad_rows} row(s); re-encode or drop those rows")
    if discrete is None:
        discrete = [len(np.unique(factors[:, j])) <= cfg.discrete_max_values for j in range(k)]
    else:
        discrete = [bool(v) for v in discrete]
        require(len(discrete) == k, f"discrete has {len(discrete)} entries for {k} factor(s); give one per factor")
    return codes, factors, discrete


__all__ = ["DirectionScores", "FactorConfig", "FactorResult", "dci_scores", "factor_analysis",
           "histogram_discretize", "linear_probe", "mutual_information", "sap_scores"]
