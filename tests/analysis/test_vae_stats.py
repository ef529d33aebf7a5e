"""VAE statistics on hand-made mu/logvar with answers worked out by hand."""

import numpy as np

from zspace.analysis import VaeStatsConfig, vae_statistics


def test_hand_made_statistics():
    mu = np.array([[3.0, 4.0, 0.0], [0.0, 0.0, 0.0], [6.0, 8.0, 0.0], [0.0, 3.0, 0.0]], dtype=np.float32)
    z = mu.copy()
    z[0, 1] += 0.1      # R_z = sqrt(9 + 16.81) = 5.0803...
    z[2, 2] = -0.03     # below the 0.05 threshold
    z[1, 0] = 0.5       # R_mu = 0 here: excluded from the relative difference
    logvar = np.array([[-25.0, -12.0, -0.5]] * 4, dtype=np.float32)
    logvar[3] = [-1.0, 0.0, 2.0]
    r = vae_statistics(z, mu, logvar, VaeStatsConfig(logvar_edges=(-20.0, -10.0, -1.0, 0.0)))
    assert (r.logvar.min, r.logvar.max) == (-25.0, 2.0)
    assert abs(r.logvar.mean - (3 * (-37.5) + 1.0) / 12) < 1e-9
    counts = {(iv.lo, iv.hi): iv.count for iv in r.logvar_intervals}
    assert counts == {(-np.inf, -20.0): 3, (-20.0, -10.0): 3, (-10.0, -1.0): 0, (-1.0, 0.0): 4, (0.0, np.inf): 2}
    assert abs(r.max_abs_z_minus_mu - 0.5) < 1e-7 and r.count_abs_z_minus_mu_above == 2
    rz = np.sqrt(9 + 4.1 ** 2)
    assert abs(r.radius_z.max - np.sqrt(100.0009)) < 1e-5 and abs(r.radius_z.min - 0.5) < 1e-5
    assert abs(r.radius_mu.min) < 1e-12 and abs(r.radius_mu.mean - 18 / 4) < 1e-5
    assert abs(r.radius_abs_diff_max - 0.5) < 1e-5
    assert abs(r.radius_abs_diff_mean - (rz - 5 + 0.5 + (np.sqrt(100.0009) - 10)) / 4) < 1e-5
    assert abs(r.radius_rel_diff_max - (rz - 5) / 5) < 1e-5
    # Var(mu_j) over the 4 rows: dim0 [3,0,6,0] -> 6.1875, dim1 [4,0,8,3] -> 8.1875, dim2 -> 0
    assert np.allclose(r.mu_variance, [6.1875, 8.1875, 0.0])
    assert r.active_units == 2 and r.active_unit_indices == [0, 1]


def test_tiny_kl_vae_has_tiny_relative_radius_difference():
    rng = np.random.default_rng(0)
    mu = rng.standard_normal((2000, 64)).astype(np.float32) * 3
    logvar = np.full_like(mu, -13.7)
    z = mu + np.exp(0.5 * logvar) * rng.standard_normal(mu.shape).astype(np.float32)
    r = vae_statistics(z, mu, logvar)
    assert abs(r.logvar.mean + 13.7) < 1e-5
    sigma = np.exp(-13.7 / 2)   # ~1.06e-3: relative radius change ~ sigma / 3 / sqrt(64) per row
    assert r.radius_rel_diff_mean < sigma and r.count_abs_z_minus_mu_above == 0
    assert r.active_units == 64
    assert VaeStatsConfig().deviation_threshold == 0.05 and VaeStatsConfig().active_unit_threshold == 0.01
