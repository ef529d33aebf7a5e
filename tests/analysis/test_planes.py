"""Plane views: point counts inside the zoom squares match the known share of a uniform cloud."""

import numpy as np

from zspace.analysis import PlanesConfig, fit_pca, plane_views


def test_defaults_follow_spec():
    cfg = PlanesConfig()
    assert cfg.pca_pairs == ((1, 2), (1, 18), (8, 35)) and cfg.axis_pairs == ((52, 221),)
    assert cfg.zoom_half_widths[-1] == 0.25 and list(cfg.zoom_half_widths) == sorted(cfg.zoom_half_widths)[::-1]


def test_counts_in_squares_of_a_uniform_square():
    rng = np.random.default_rng(0)
    n = 40000
    z = rng.uniform(-1, 1, size=(n, 3)).astype(np.float32)
    cfg = PlanesConfig(pca_pairs=(), axis_pairs=((0, 2),), zoom_half_widths=(2.0, 0.5, 0.25))
    view = plane_views(z, cfg).views[0]
    assert view.name == "axes_0_2" and view.points.shape == (n, 2)
    assert view.counts_inside[0] == n
    for h, count in zip(view.half_widths[1:], view.counts_inside[1:]):
        p = h * h  # area share of [-h, h]^2 in [-1, 1]^2
        assert abs(count - n * p) < 4 * np.sqrt(n * p * (1 - p))


def test_pca_planes_use_one_based_components_and_skip_what_does_not_fit():
    rng = np.random.default_rng(1)
    z = (rng.standard_normal((5000, 4)) * [5.0, 0.1, 2.0, 0.5]).astype(np.float32)
    result = plane_views(z, PlanesConfig(pca_pairs=((1, 2), (1, 18)), axis_pairs=((52, 221),)), fit_pca(z))
    names = [v.name for v in result.views]
    assert names == ["pca_1_2", "axes_0_1"]
    assert result.skipped == ["pca 1-18: d = 4", "axes 52-221: d = 4"]
    pc = result.views[0].points  # PC1 is original axis 0 (sd 5), PC2 is axis 2 (sd 2)
    assert abs(pc[:, 0].std() - 5.0) < 0.15 and abs(pc[:, 1].std() - 2.0) < 0.06
