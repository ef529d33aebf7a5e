"""The entry point of the factor measures: :func:`factor_analysis` (checks, rows, both bases, the result)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from zspace.analysis.factors.config import FactorConfig
from zspace.analysis.factors.importance import IMPORTANCE_MODELS, dci_importance
from zspace.analysis.factors.measures import (
    Factors,
    dci_scores,
    gaps,
    histogram_discretize,
    mutual_information,
    prepare_factors,
    sap_scores,
)
from zspace.analysis.factors.readouts import linear_probe
from zspace.analysis.factors.results import DirectionScores, FactorResult
from zspace.analysis.pca import fit_pca, project
from zspace.core.errors import require
from zspace.core.rng import stream_rng
from zspace.core.rows import row_chunks, seeded_subsample


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
    fac, skipped = prepare_factors(factors[used], list(factor_names), discrete, cfg.n_bins)
    notes = [f"factor {name!r} is constant over the rows used; skipped" for name in skipped]
    if len(used) < n:
        notes.append(f"MI, MIG, SAP, DCI and the linear probe use a seeded subsample of {len(used)} of {n} rows")
    rng = stream_rng(seed, 1)
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
    model = IMPORTANCE_MODELS[cfg.importance].describe(cfg)
    return FactorResult(
        n_points=n, n_used=len(used), dim=d, factor_names=fac.names, discrete=fac.discrete,
        factor_entropy=fac.entropy, axes=axes, pca=pca_scores, linear_r2=r2, linear_direction=directions,
        seconds=seconds, n_test=len(test), n_dci_train=len(dci_train), n_values=fac.n_values,
        linear_chance=chance, importance_model=model, skipped_factors=skipped, notes=notes,
        pca_mean=pca.mean, pca_components=pca.components)


def _direction_scores(basis: str, x: np.ndarray, fac: Factors, train: np.ndarray, test: np.ndarray,
                      dci_train: np.ndarray, cfg: FactorConfig, seed: int, seconds: dict[str, float],
                      prefix: str) -> DirectionScores:
    """MI, MIG, SAP and DCI on the directions ``x`` (n, m) of one basis; wall times go to ``seconds[prefix + part]``."""
    start = time.perf_counter()
    binned = histogram_discretize(x, cfg.n_bins)
    mi = mutual_information(binned, cfg.n_bins, fac.labels, fac.n_values) / fac.entropy[None, :]
    mi = np.clip(mi, 0.0, 1.0)
    seconds[prefix + "mi"] = time.perf_counter() - start
    start = time.perf_counter()
    mig_per_factor = gaps(mi)
    sap = sap_scores(x, fac, train, test)
    sap_per_factor = gaps(sap)
    seconds[prefix + "mig_sap"] = time.perf_counter() - start
    start = time.perf_counter()
    importance, informativeness = dci_importance(x, fac, dci_train, test, cfg, seed,
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


__all__ = ["factor_analysis"]
