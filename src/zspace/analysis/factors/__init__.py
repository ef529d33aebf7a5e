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

The modules, one job each: :mod:`.measures` (discretisation, MI, MIG, SAP,
DCI's two scores), :mod:`.importance` (the importance models of DCI, by name:
:data:`IMPORTANCE_MODELS`), :mod:`.readouts` (the linear probe), :mod:`.config`
(:class:`FactorConfig`), :mod:`.results` (:class:`FactorResult`,
:class:`DirectionScores`) and :mod:`.analyse` (:func:`factor_analysis`, which
puts them together). Every public name is importable from this package.
"""

from __future__ import annotations

from zspace.analysis.factors.analyse import factor_analysis
from zspace.analysis.factors.config import FactorConfig
from zspace.analysis.factors.importance import IMPORTANCE_MODELS
from zspace.analysis.factors.measures import dci_scores, histogram_discretize, mutual_information, sap_scores
from zspace.analysis.factors.readouts import linear_probe
from zspace.analysis.factors.results import DirectionScores, FactorResult

__all__ = ["DirectionScores", "FactorConfig", "FactorResult", "IMPORTANCE_MODELS", "dci_scores", "factor_analysis",
           "histogram_discretize", "linear_probe", "mutual_information", "sap_scores"]
