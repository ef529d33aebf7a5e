"""The linear read-out of every factor from all of z: held-out scores and the unit direction of each factor.

One ridge-regularised least-squares fit of all factors at once (the package
docstring's "linear probe"); its directions are what ``zspace factors``
traverses along.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from zspace.analysis.factors.measures import Factors, r_squared


def linear_probe(x: np.ndarray, fac: Factors, train: np.ndarray, test: np.ndarray,
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
            scores[k] = r_squared(fac.values[test, k], fitted_test[:, start] + y[:, start].mean())
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


__all__ = ["linear_probe"]
