"""Per-axis densities: exactly the shifted or widened axes are flagged."""

import numpy as np

from zspace.analysis import AxisDensityConfig, axis_density


def test_defaults_follow_spec():
    assert AxisDensityConfig().bin_width == 0.25


def test_exactly_the_shifted_and_widened_axes_are_flagged():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((20000, 64)).astype(np.float32)
    z[:, 5] += 5.0            # off-centre
    z[:, 17] *= 4.0           # broad
    z[:, 40] = 3.0 * z[:, 40] - 3.0   # both
    result = axis_density(z)
    flagged = {f.axis: f for f in result.flagged}
    assert set(flagged) == {5, 17, 40}
    assert flagged[5].off_centre and not flagged[5].broad
    assert flagged[17].broad and not flagged[17].off_centre
    assert flagged[40].broad and flagged[40].off_centre
    assert abs(flagged[5].centre - 5.0) < 0.05 and abs(flagged[5].width - 1.0) < 0.05
    assert abs(flagged[17].width - 4.0) < 0.15 and abs(flagged[40].centre + 3.0) < 0.15
    assert abs(result.typical_width - 1.0) < 0.03
    assert "1 x typical width" in result.rule and "2 x typical width" in result.rule


def test_histograms_are_unit_gaussian_densities():
    rng = np.random.default_rng(1)
    z = rng.standard_normal((40000, 3)).astype(np.float32)
    result = axis_density(z)
    assert np.allclose(np.diff(result.bin_edges), 0.25)
    assert (result.counts.sum(axis=1) + result.underflow + result.overflow == 40000).all()
    assert result.underflow.sum() == 0 and result.overflow.sum() == 0
    centres = result.bin_edges[:-1] + 0.125
    density = result.counts / (40000 * 0.25)
    expected = np.exp(-centres ** 2 / 2) / np.sqrt(2 * np.pi)
    assert np.abs(density - expected).max() < 0.02  # bin-averaging + sampling noise


def test_counts_on_a_hand_made_axis():
    z = np.array([[0.0, 0.0], [0.1, 0.0], [0.3, 0.0], [-0.2, 1.0]], dtype=np.float32)
    result = axis_density(z)
    edges = result.bin_edges
    assert edges[0] == -0.25
    row = dict(zip(np.round(edges[:-1], 2), result.counts[0]))
    assert row[-0.25] == 1 and row[0.0] == 2 and row[0.25] == 1
