"""``zspace holes``: the hole measures of a run written to holes.json, the planted hole found or not, against
independent computations; the report shows them."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from sklearn.metrics import roc_auc_score

from tiny_runs import train_tiny
from zspace.cli import main
from zspace.data import load_images, planted_hole
from zspace.data.shapes import in_hole
from zspace.pipeline.encode import encode
from zspace.pipeline.run import open_run
from zspace.report.holes import holes_block
from zspace.science.hole_study import BASELINE, FINDS_AUC, MEASURES, holes
from zspace.science.latents import training_store


@pytest.fixture(scope="module")
def holed_run(tmp_path_factory):
    """A tiny AE on shapes with the planted hole (1024 training images, none in it; 400 test images)."""
    return train_tiny(tmp_path_factory, "ae", data="shapes,hole=1,test=400", n_train=1024, epochs=2)


def test_planted_hole_marks_the_region_only_for_a_spec_that_plants_it():
    test = load_images("shapes,hole=1,test=300", "test")
    np.testing.assert_array_equal(planted_hole("shapes,hole=1,test=300", test), in_hole(test.factors))
    assert 20 < in_hole(test.factors).sum() < 100  # a sixth of factor space
    assert planted_hole("shapes,test=300", test) is None and planted_hole("shapes,hole=0", test) is None
    assert not in_hole(load_images("shapes,hole=1,train=500", "train").factors).any()


def test_the_command_writes_holes_json_with_the_planted_hole_measured_as_an_independent_computation(
        holed_run, capsys):
    assert main(["holes", str(holed_run), "--samplers", "full-gauss", "--n", "300", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "planted hole:" in out and "wrote" in out
    data = json.loads(open_run(holed_run).layout.holes.read_text())
    assert [s["name"] for s in data["holes"]["sets"]] == ["normal", "full-gauss"]
    planted = data["planted"]
    test = open_run(holed_run).data_split("test")
    inside = in_hole(test.factors)
    assert (planted["n_hole"], planted["n_rest"]) == (int(inside.sum()), int((~inside).sum()))
    assert [m["measure"] for m in planted["measures"]] == list(MEASURES)
    # the void distance's AUC from scratch: nearest training code by scipy's cdist, AUC by scikit-learn
    codes = encode(holed_run, split="test", device="cpu").codes
    train = training_store(open_run(holed_run), device="cpu").codes
    nearest = cdist(codes.astype(np.float64), train.astype(np.float64)).min(axis=1)
    by_name = {m["measure"]: m for m in planted["measures"]}
    assert by_name["void distance"]["auc"] == pytest.approx(roc_auc_score(inside, nearest), abs=1e-6)
    assert by_name["void distance"]["auc"] > 0.6   # even this tiny model puts the hole's codes apart
    assert planted["finds"] == [m for m in MEASURES if m != BASELINE and by_name[m]["auc"] >= FINDS_AUC]


def test_without_a_planted_hole_there_is_no_planted_block_and_n_draws_per_sampler(ae_run):
    result = holes(ae_run, samplers=["normal", "uniform:2"], n=150, device="cpu", save=False)  # no fit: nothing saved
    assert result.planted is None and result.samplers == ["uniform:2"]
    assert [s.name for s in result.holes.sets] == ["normal", "uniform:2"]
    assert all(s.n == 150 for s in result.holes.sets)
    assert not open_run(ae_run).layout.holes.exists()   # save=False writes nothing


def test_the_report_block_shows_the_hole_rates_and_the_planted_hole(holed_run):
    data = holes(holed_run, samplers=[], n=200, device="cpu", save=False).to_json()
    html = holes_block(data)
    best = max((m for m in data["planted"]["measures"] if m["measure"] != BASELINE), key=lambda m: m["auc"])
    assert f"<td>{best['measure']}</td><td>{best['auc']:.3f}</td>" in html
    assert "The planted hole of shapes,hole=1" in html and f"{data['holes']['prior']['mmd2']:.4g}" in html
