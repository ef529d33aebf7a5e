"""The battery end to end: files written, JSON complete, inapplicable analyses skipped with a reason."""

import json

import numpy as np

from zspace.analysis import (
    ANALYSES,
    BatteryConfig,
    InertiaConfig,
    PcaConfig,
    TsneConfig,
    TsneVariant,
    from_arrays,
    run_battery,
)
from zspace.plots.analysis_figures import draw


def small_config():
    return BatteryConfig(inertia=InertiaConfig(k_values=(2, 4, 6, 8)),
                         pca=PcaConfig(tsne_components=(2,), tsne_sample_size=150),
                         tsne=TsneConfig(sample_size=300, variants=(TsneVariant(12, 30, 150, 50),), knn_queries=200),
                         figure_dpi=40)


def test_two_dimensional_labelled_run(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 100)
    z = (rng.standard_normal((400, 2)) + 8 * np.stack([labels % 2, labels // 2], axis=1)).astype(np.float32)
    z[5] = np.nan
    out = run_battery(from_arrays(z, labels=labels), tmp_path, small_config(), draw=draw)
    report = json.loads((tmp_path / "analysis.json").read_text())
    assert report["complete"] and report["schema"] == "zspace.analysis/1"
    assert report["input"]["n_rows_dropped_nonfinite"] == 1 and report["input"]["n_points"] == 399
    assert set(report["analyses"]) == set(ANALYSES) - {"vae"}
    assert "mu/logvar" in report["skipped"]["vae"]
    assert report["analyses"]["scatter2d"]["label_counts"] == {"0": 99, "1": 100, "2": 100, "3": 100}
    assert report["analyses"]["inertia"]["elbow_k"] == 4  # four well-separated groups
    for files in report["figures"].values():
        for name in files:
            assert (tmp_path / name).stat().st_size > 0
    assert "scatter2d.png" in report["figures"]["scatter2d"]
    assert out["results"]["radius"].n_points == 399 == sum(int(h.counts.sum()) + h.overflow
                                                           for h in out["results"]["radius"].histograms[:1])
    # what the report needs, said by each result: headline numbers and named scatters
    assert report["headlines"]["inertia"] == {"elbow_k": 4}
    assert report["headlines"]["radius"]["peak_radius"] == report["analyses"]["radius"]["histograms"][0]["peak_radius"]
    assert set(report["scatters"]["scatter2d"]) == {"latent_2d"}
    assert report["scatters"]["tsne"]["tsne_ee12_perp30"] == {"n_points": 300, "replaces_figure": True}
    assert all(not s["replaces_figure"] for s in report["scatters"]["planes"].values())


def test_battery_draws_nothing_without_a_draw_function(tmp_path):
    z = np.random.default_rng(2).standard_normal((200, 4)).astype(np.float32)
    run_battery(from_arrays(z), tmp_path, small_config(), only=["radius", "axes"])
    report = json.loads((tmp_path / "analysis.json").read_text())
    assert report["figures"] == {} and not list(tmp_path.glob("*.png"))
    assert report["complete"] and set(report["analyses"]) == {"radius", "axes"}


def test_vae_run_without_figures(tmp_path):
    rng = np.random.default_rng(1)
    mu = rng.standard_normal((300, 6)).astype(np.float32)
    logvar = np.full_like(mu, -4.0)
    cfg = small_config()
    cfg.figures = False
    run_battery(from_arrays(mu, mu, logvar), tmp_path, cfg, only=["vae", "radius"], draw=draw)
    report = json.loads((tmp_path / "analysis.json").read_text())
    assert list(report["analyses"]) == ["radius", "vae"]
    assert report["analyses"]["vae"]["logvar"] == {"min": -4.0, "max": -4.0, "mean": -4.0}
    assert report["analyses"]["vae"]["active_units"] == 6
    assert not list(tmp_path.glob("*.png"))
