"""What :func:`~zspace.analysis.factors.factor_analysis` returns: the measures per basis, and all of them."""

from __future__ import annotations

import dataclasses

import numpy as np

from zspace.core.results import Result, array_field


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


__all__ = ["DirectionScores", "FactorResult"]
