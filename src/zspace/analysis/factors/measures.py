"""The measures of :mod:`zspace.analysis.factors` on one set of directions: MI, MIG, SAP and DCI's two scores.

Arrays in, arrays out; the definitions are in the package docstring. The
factors arrive prepared (:func:`prepare_factors`: constant ones dropped, each
one labelled 0..L-1, its entropy known), the directions as an (n, m) array
over the rows used.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import scipy.sparse
import scipy.stats

from zspace.core.errors import require
from zspace.core.rows import row_chunks

@dataclasses.dataclass
class Factors:
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


def prepare_factors(factors: np.ndarray, names: list[str], discrete: list[bool], n_bins: int) -> tuple[
        Factors, list[str]]:
    """The non-constant columns of ``factors`` (n, K) as :class:`Factors`, and the names of the constant ones.

    A discrete factor keeps its values, relabelled 0..L-1; a continuous one is
    cut into ``n_bins`` equal-width bins (:func:`histogram_discretize`).
    """
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
    return Factors([names[k] for k in keep], [discrete[k] for k in keep], values, labels, n_values,
                   entropy), [names[k] for k in skipped]


def _entropy(labels: np.ndarray, n_values: int) -> float:
    """Plug-in entropy in nats (= ``mutual_info_score(y, y)``)."""
    p = np.bincount(labels, minlength=n_values) / len(labels)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


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


def gaps(scores: np.ndarray) -> np.ndarray:
    """Per column, the largest value minus the second largest (scores (m, K), m >= 2)."""
    top = np.sort(scores, axis=0)
    return top[-1] - top[-2]


def sap_scores(x: np.ndarray, fac: Factors, train: np.ndarray, test: np.ndarray) -> np.ndarray:
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


def r_squared(y: np.ndarray, pred: np.ndarray) -> float:
    """Coefficient of determination of predictions ``pred`` of ``y`` (both (n,)); 0 when ``y`` is constant."""
    ss = float(((y - y.mean()) ** 2).sum())
    return 1.0 - float(((y - pred) ** 2).sum()) / ss if ss > 0 else 0.0


__all__ = ["Factors", "prepare_factors", "histogram_discretize", "mutual_information", "gaps", "sap_scores",
           "dci_scores", "r_squared"]
