"""The importance models of DCI, by name: one model per factor predicts it from all d directions.

Each model fits one factor and returns (importance of each direction (m,),
held-out accuracy (discrete) or R^2 (continuous)). :data:`IMPORTANCE_MODELS`
is the registry (``FactorConfig.importance`` and ``zspace factors --importance``
choose from it); :func:`dci_importance` fits every factor with the chosen
one and normalises the importance columns. The package docstring says what
each model is and how they compare.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import numpy as np

from zspace.analysis.factors.measures import Factors, r_squared
from zspace.core.device import available_cores, one_openmp_thread
from zspace.core.progress import progress
from zspace.core.registry import Registry


class ImportanceSettings(Protocol):
    """The settings an importance model reads (the fields of :class:`~zspace.analysis.factors.FactorConfig`)."""

    importance: str
    gbt_iterations: int
    gbt_depth: int
    gbt_learning_rate: float
    lasso_folds: int


#: (x_train (n, m), y_train (n,), x_test, y_test, discrete, classes, settings, seed) -> (importance (m,), score)
FitFunction = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool, int, ImportanceSettings, int],
                       tuple[np.ndarray, float]]


@dataclasses.dataclass(frozen=True)
class ImportanceModel:
    """One importance model of DCI.

    Attributes
    ----------
    fit : FitFunction
        Fits one factor (see :data:`FitFunction`).
    describe : callable
        Settings -> the one line stored as ``FactorResult.importance_model``.
    side_by_side : bool
        Whether the factors' fits run side by side, one per core (each on one
        OpenMP thread); else one after another.
    """

    fit: FitFunction
    describe: Callable[[ImportanceSettings], str]
    side_by_side: bool


def _boosted_trees(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                   discrete: bool, cfg: ImportanceSettings, seed: int, exact: bool = False) -> tuple[np.ndarray, float]:
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
        with one_openmp_thread():
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


def _lasso_fit(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, discrete: bool,
               n_classes: int, cfg: ImportanceSettings, seed: int) -> tuple[np.ndarray, float]:
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
        return importance, r_squared(y_test, preds[:, 0])
    predicted = (preds[:, 0] > 0.5).astype(np.int64) if n_classes == 2 else np.argmax(preds, axis=1)
    return importance, float(np.mean(predicted == y_test))


def _gbt(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, discrete: bool,
         n_classes: int, cfg: ImportanceSettings, seed: int) -> tuple[np.ndarray, float]:
    """``gbt``: histogram boosting, importance = total split gain (the default; ~30x faster than ``gbc``)."""
    return _boosted_trees(x_train, y_train, x_test, y_test, discrete, cfg, seed, exact=False)


def _gbc(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, discrete: bool,
         n_classes: int, cfg: ImportanceSettings, seed: int) -> tuple[np.ndarray, float]:
    """``gbc``: disentanglement_lib's exact ``GradientBoostingClassifier`` / ``Regressor`` and its importances."""
    return _boosted_trees(x_train, y_train, x_test, y_test, discrete, cfg, seed, exact=True)


#: name -> importance model, the default first (``FactorConfig.importance``, ``zspace factors --importance``)
IMPORTANCE_MODELS: Registry[ImportanceModel] = Registry("DCI importance model", {
    "gbt": ImportanceModel(
        fit=_gbt, side_by_side=True,
        describe=lambda cfg: f"gbt: HistGradientBoostingClassifier (discrete) / Regressor (continuous), "
                             f"{cfg.gbt_iterations} iterations, depth {cfg.gbt_depth}, learning rate "
                             f"{cfg.gbt_learning_rate:g}; importance = total split gain"),
    "lasso": ImportanceModel(
        fit=_lasso_fit, side_by_side=False,
        describe=lambda cfg: f"lasso: LassoCV ({cfg.lasso_folds} folds) on standardised directions; importance = "
                             "|coefficient|"),
    "gbc": ImportanceModel(
        fit=_gbc, side_by_side=True,
        describe=lambda cfg: f"gbc: GradientBoostingClassifier (discrete) / Regressor (continuous), "
                             f"{cfg.gbt_iterations} iterations, depth {cfg.gbt_depth}, learning rate "
                             f"{cfg.gbt_learning_rate:g}; importance = feature_importances_"),
})


def dci_importance(x: np.ndarray, fac: Factors, dci_train: np.ndarray, test: np.ndarray, cfg: ImportanceSettings,
                   seed: int, desc: str) -> tuple[np.ndarray, np.ndarray]:
    """Column-normalised importance (m, K) and held-out score per factor (K,), with the model ``cfg.importance``."""
    model = IMPORTANCE_MODELS[cfg.importance]
    kk = len(fac.names)
    x_train, x_test = np.ascontiguousarray(x[dci_train]), np.ascontiguousarray(x[test])

    def one(k: int) -> tuple[np.ndarray, float]:
        y = fac.labels[:, k] if fac.discrete[k] else fac.values[:, k]
        return model.fit(x_train, y[dci_train], x_test, y[test], fac.discrete[k], fac.n_values[k], cfg, seed)

    workers = max(1, min(available_cores(), kk)) if model.side_by_side else 1
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


__all__ = ["IMPORTANCE_MODELS", "ImportanceModel", "ImportanceSettings", "dci_importance"]
