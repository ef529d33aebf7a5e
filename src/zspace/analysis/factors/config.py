"""The settings of :func:`~zspace.analysis.factors.factor_analysis`."""

from __future__ import annotations

import dataclasses

from zspace.analysis.factors.importance import IMPORTANCE_MODELS
from zspace.core.config import Config
from zspace.core.errors import require


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


__all__ = ["FactorConfig"]
