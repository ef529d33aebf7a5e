"""Radius density against the chi distribution: known answers for Gaussian clouds."""

import numpy as np
from scipy import stats

from zspace.analysis import RadiusConfig, radius_density


def unit_gaussian(n, d, seed=0):
    return np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)


def test_defaults_follow_spec():
    cfg = RadiusConfig()
    assert cfg.bin_widths == (0.5, 0.05) and cfg.r_max == 35.0
    assert cfg.shells == ((12.0, 24.0), (14.0, 19.0))


def test_unit_gaussian_256d_peaks_at_sqrt_255_and_matches_chi():
    result = radius_density(unit_gaussian(20000, 256))
    coarse = result.histograms[0]
    assert coarse.bin_width == 0.5
    assert abs(coarse.peak_radius - np.sqrt(255)) <= 0.5
    assert abs(result.chi_mode - np.sqrt(255)) < 1e-12
    assert result.histograms[0].bin_edges[-1] >= 35.0
    # sampling noise only: W1 ~ 0.7 / sqrt(N) scale, KS ~ 1 / sqrt(N)
    assert result.wasserstein1_to_chi < 0.03
    assert result.ks_to_chi < 0.015
    assert abs(result.mean - stats.chi(256).mean()) < 0.02
    for shell in result.shells:
        assert abs(shell.share - shell.chi_share) < 0.01
    # the chi curve is the expectation of the histogram
    fine = result.histograms[1]
    assert abs(fine.counts.sum() - fine.chi_expected_counts.sum()) < 5
    assert fine.counts.sum() == 20000


def test_scaled_gaussian_is_far_from_chi_by_the_known_amount():
    # for R' = 2 R with R ~ chi_d, W1(R', chi_d) = E[R] exactly, and KS is near 1
    result = radius_density(2.0 * unit_gaussian(5000, 64, seed=1))
    chi_mean = stats.chi(64).mean()
    assert abs(result.wasserstein1_to_chi - chi_mean) / chi_mean < 0.01
    assert result.ks_to_chi > 0.99
    assert abs(result.histograms[0].peak_radius - 2 * np.sqrt(63)) <= 0.75


def test_radii_beyond_r_max_extend_the_range():
    z = np.zeros((3, 2), dtype=np.float32)
    z[:, 0] = [1.0, 3.0, 50.0]
    result = radius_density(z, RadiusConfig(bin_widths=(1.0,), shells=((0.0, 2.0),)))
    h = result.histograms[0]
    assert h.bin_edges[-1] > 50.0 and h.overflow == 0 and h.counts.sum() == 3
    assert h.counts[1] == 1 and h.counts[3] == 1 and h.counts[50] == 1
    assert result.shells[0].count == 1 and abs(result.shells[0].share - 1 / 3) < 1e-12


def test_the_density_the_report_draws_is_read_from_the_result_and_from_its_json():
    """RadiusResult.density / density_of_json: counts / N / bin width at the bin centres, the same from both."""
    import json

    result = radius_density(unit_gaussian(3000, 8))
    centres, density, chi_density = result.density()
    hist = result.histograms[0]
    width = hist.bin_width
    assert np.allclose(centres, hist.bin_edges[:-1] + width / 2)
    assert np.allclose(density, hist.counts / 3000 / width) and abs(density.sum() * width - 1) < 1e-9
    assert np.allclose(chi_density, stats.chi(8).pdf(centres), atol=0.02)  # the chi_8 density itself
    saved = json.loads(json.dumps(result.to_json()))
    for mine, theirs in zip(result.density(), type(result).density_of_json(saved)):
        assert np.array_equal(mine, theirs)
