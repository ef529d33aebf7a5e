"""Traversals, directions and paths of ``zspace factors``: geometry with known answers, and the command end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from zspace.cli import main
from zspace.core.errors import ZspaceError
from zspace.factors import (
    attribute_vectors,
    axis_traversals,
    direction_traversals,
    factor_input,
    interpolation_paths,
    path_void_profiles,
)
from zspace.pipeline.zstore import ZStore


def test_an_axis_traversal_sweeps_that_axis_over_its_percentiles_and_keeps_the_rest():
    codes = np.random.default_rng(0).normal(size=(2000, 5)).astype(np.float32)
    points = codes[:3]
    grid, ranges = axis_traversals(codes, [2, 4], points, 7)
    assert grid.shape == (2, 3, 7, 5)
    low, high = np.percentile(codes[:, 2], [1, 99])
    assert ranges[0] == pytest.approx([low, high])
    assert np.allclose(grid[0, :, :, 2], np.linspace(low, high, 7)[None, :], atol=1e-6)
    others = [0, 1, 3, 4]
    assert np.array_equal(grid[0][:, :, others], np.repeat(points[:, None, others], 7, axis=1))


def test_a_direction_traversal_moves_by_two_standard_deviations_each_way():
    rng = np.random.default_rng(1)
    codes = rng.normal(size=(5000, 3)).astype(np.float32) * np.array([3.0, 1.0, 1.0], dtype=np.float32)
    points = codes[:2]
    grid = direction_traversals(codes, np.array([[2.0, 0.0, 0.0]]), points, 5)
    assert np.allclose(grid[0, :, 2], points, atol=1e-5)  # the middle step is the point itself
    step = grid[0, :, 4] - grid[0, :, 2]
    assert np.allclose(step[:, 1:], 0, atol=1e-6)
    assert np.allclose(step[:, 0], 2 * codes[:, 0].std(), rtol=1e-4)


def test_attribute_vectors_recover_a_known_shift():
    rng = np.random.default_rng(2)
    codes = rng.normal(size=(20000, 4))
    has = rng.random(20000) < 0.3
    codes[has, 1] += 2.0
    factors = np.column_stack([has.astype(float), rng.normal(size=20000)])
    names, vectors = attribute_vectors(codes, factors, ["smiling", "continuous"])
    assert names == ["smiling"]  # only binary factors get an attribute vector
    assert vectors[0] == pytest.approx([0, 2, 0, 0], abs=0.05)


def test_data_paths_follow_a_ring_where_straight_lines_cut_through_its_empty_middle():
    rng = np.random.default_rng(3)
    angle = rng.uniform(0, 2 * np.pi, 6000)
    codes = np.column_stack([np.cos(angle), np.sin(angle)]) * 5 + rng.normal(scale=0.05, size=(6000, 2))
    codes = codes.astype(np.float32)
    paths = interpolation_paths(codes, n_pairs=6, n_steps=25, graph_points=3000, neighbours=8, seed=0)
    for kind in ("straight", "data"):
        assert paths[kind].shape == (6, 25, 2)
    assert np.allclose(paths["data"][:, 0], paths["straight"][:, 0])  # the same pairs
    assert np.allclose(paths["data"][:, -1], paths["straight"][:, -1], atol=1e-5)
    radius = np.linalg.norm(paths["data"], axis=-1)
    assert np.abs(radius - 5).max() < 0.5  # stays on the ring
    profiles = {p.kind: p for p in path_void_profiles(paths, codes, seed=0)}
    assert profiles["data"].mean_distance < 3
    assert profiles["straight"].max_distance > 5 * profiles["data"].max_distance


def test_factor_input_of_a_z_file_takes_factors_and_labels_and_refuses_a_file_without(tmp_path):
    rng = np.random.default_rng(4)
    store = ZStore(z=rng.normal(size=(50, 3)).astype(np.float32), index=np.arange(50),
                   labels=rng.integers(0, 3, 50), factors=rng.normal(size=(50, 2)).astype(np.float32),
                   factor_names=["x", "y"])
    store.save(tmp_path / "z.npz")
    data = factor_input(tmp_path / "z.npz")
    assert data.factor_names == ["x", "y", "class"] and data.factors.shape == (50, 3)
    assert np.array_equal(data.factors[:, 2], store.labels)
    ZStore(z=store.z, index=store.index).save(tmp_path / "bare.npz")
    with pytest.raises(ZspaceError, match="knows no factors"):
        factor_input(tmp_path / "bare.npz")


def test_zspace_factors_on_a_run_writes_the_measures_and_decoded_grids(tmp_path_factory, tmp_path, capsys):
    from tiny_runs import train_tiny

    run = train_tiny(tmp_path_factory, "vae")
    out = tmp_path / "factors"
    assert main(["factors", str(run), "--out", str(out), "--max-points", "2000"]) == 0
    assert "wrote" in capsys.readouterr().out
    summary = json.loads((out / "factors.json").read_text())
    names = summary["factor_names"]
    assert {"kind", "x", "y", "size"} <= set(names)
    measures = summary["measures"]
    assert 0.0 <= measures["axes"]["mig"] <= 1.0 and 0.0 <= measures["pca"]["mig"] <= 1.0
    traversals = summary["traversals"]
    assert {p["kind"] for p in traversals["profiles"]} == {"straight", "data"}
    figures = summary["figures"]
    assert "mi-axes.png" in figures and "paths-data.png" in figures
    assert sum(f.startswith("direction-") for f in figures) == len(names)
    # a traversal grid is n_points rows of n_steps images (28x28 enlarged 3x, 1-pixel gutters)
    first = next(f for f in figures if f.startswith("traverse-"))
    width, height = Image.open(out / first).size
    assert (width, height) == ((9 * 29 + 1) * 3, (6 * 29 + 1) * 3)


def test_zspace_factors_decodes_in_the_precision_asked_for(tmp_path_factory, tmp_path, monkeypatch):
    from tiny_runs import train_tiny
    from zspace.factors import outcome as factors_outcome

    run = train_tiny(tmp_path_factory, "vae")
    asked = []

    def recording(run, epoch, device, precision):
        asked.append(precision)  # what the command asks the session for (bf16 may not run on this CPU)
        return open_session(run, epoch, device)

    open_session = factors_outcome.open_session
    monkeypatch.setattr(factors_outcome, "open_session", recording)
    for precision in ("bf16", None):
        extra = ["--precision", precision] if precision else []
        assert main(["factors", str(run), "--out", str(tmp_path / str(precision)), "--max-points", "300",
                     "--importance", "lasso", "--device", "cpu", *extra]) == 0
    assert asked == ["bf16", None]  # None: the session's default, the run's training precision


def test_the_output_directory_is_out_or_the_run_s_factors_folder(tmp_path):
    from zspace.core.layout import CONFIG_FILE
    from zspace.factors import factors_out
    from zspace.pipeline.run import Run

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / CONFIG_FILE).write_text("{}")
    assert factors_out(run_dir) == run_dir / "factors" == factors_out(Run(root=run_dir, config={}))
    assert factors_out(run_dir, tmp_path / "elsewhere") == tmp_path / "elsewhere"
    assert factors_out(tmp_path / "z.npz", tmp_path / "d") == tmp_path / "d"
    with pytest.raises(ZspaceError, match="needs --out DIR"):
        factors_out(tmp_path / "z.npz")


def test_a_z_file_without_out_is_refused_before_any_work(tmp_path, capsys):
    # the file does not exist: reading it would fail with "does not exist", so this message proves the order
    assert main(["factors", str(tmp_path / "missing.npz")]) == 2
    assert "needs --out DIR" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_constant_factor_is_left_out_of_the_measures_and_the_traversals(tmp_path):
    from zspace.factors import FactorsConfig, factors

    rng = np.random.default_rng(5)
    z = rng.normal(size=(600, 3)).astype(np.float32)
    known = np.column_stack([z[:, 0] + 0.1 * rng.normal(size=600), np.ones(600)]).astype(np.float32)
    ZStore(z=z, index=np.arange(600), factors=known, factor_names=["x", "constant"]).save(tmp_path / "z.npz")
    outcome = factors(tmp_path / "z.npz", FactorsConfig(graph_points=300), decode=False)
    assert outcome.result.skipped_factors == ["constant"]
    assert outcome.plan.direction_factors == ["x"] and outcome.to_json()["factor_names"] == ["x"]
    assert outcome.result.axes.best_direction[0] == 0  # x is read off axis 0
    assert outcome.images == {}  # a Z file has no decoder
