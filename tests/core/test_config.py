"""One config convention: checked on construction, unknown keys refused by name, nested configs from dicts."""

from __future__ import annotations

import json

import pytest

from zspace.analysis import BatteryConfig
from zspace.core.errors import ZspaceError
from zspace.models import ModelConfig
from zspace.pipeline.config import TrainConfig
from zspace.pipeline.run import open_run
from zspace.report import ReportConfig


@pytest.mark.parametrize("cls, data, named", [
    (TrainConfig, {"epochs": 2, "epochz": 3}, "'epochz'"),
    (ModelConfig, {"kind": "vae", "zdim": 8}, "'zdim'"),
    (ReportConfig, {"tsne_n": 100}, "'tsne_n'"),
])
def test_unknown_keys_are_refused_by_name_with_the_accepted_ones(cls, data, named):
    with pytest.raises(ZspaceError) as err:
        cls.from_dict(data)
    message = str(err.value)
    assert named in message and "accepted:" in message
    assert all(name in message for name in cls.field_names())


def test_configs_are_checked_on_construction():
    with pytest.raises(ZspaceError, match="--epochs 0 must be >= 1"):
        TrainConfig(epochs=0)
    with pytest.raises(ZspaceError, match="--tsne-n"):
        BatteryConfig().with_tsne_points(1)
    with pytest.raises(ZspaceError, match="model kind 'gan' is unknown; use one of ae, vae"):
        ModelConfig(kind="gan")


def test_round_trip_through_json_keeps_every_field():
    config = TrainConfig(data="shapes:96", epochs=7, fact=5.0, n_train=100, image_size=48)
    assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    model = ModelConfig(kind="vae", input_shape=(28, 28, 1), z_dim=2, filters=(8, 16), extra_dense=32)
    assert ModelConfig.from_dict(json.loads(json.dumps(model.to_dict()))) == model


def test_nested_configs_are_read_from_dicts():
    config = BatteryConfig.from_dict({"tsne": {"sample_size": 321}, "figures": False})
    assert config.tsne.sample_size == 321 and config.figures is False
    assert config.inertia == BatteryConfig().inertia
    with pytest.raises(ZspaceError, match=r"BatteryConfig\.tsne: unknown key\(s\) 'perplexity'"):
        BatteryConfig.from_dict({"tsne": {"perplexity": 5}})


def test_a_hand_edited_run_config_is_refused_at_the_door(tmp_path, vae_run):
    run_dir = tmp_path / "edited"
    run_dir.mkdir()
    config = json.loads((vae_run / "config.json").read_text())
    config["train"]["learning_rate"] = 0.1
    (run_dir / "config.json").write_text(json.dumps(config))
    with pytest.raises(ZspaceError, match=r"config.json \[train\]: unknown key\(s\) 'learning_rate'"):
        open_run(run_dir)


@pytest.mark.parametrize("key, value, expected", [
    ("epochs", "three", "an integer"), ("epochs", 2.5, "an integer"), ("epochs", True, "an integer"),
    ("lr", "0.001", "a number"), ("data", 7, "a string"), ("n_train", "all", "an integer or null"),
])
def test_a_value_of_the_wrong_type_is_one_error_naming_the_key(key, value, expected):
    with pytest.raises(ZspaceError, match=f"TrainConfig: key '{key}' must be {expected}, not"):
        TrainConfig.from_dict({key: value})


def test_values_of_the_right_type_pass_the_type_check():
    config = TrainConfig.from_dict({"epochs": 3, "lr": 1, "n_train": None, "data": "shapes"})
    assert (config.epochs, config.lr, config.n_train, config.data) == (3, 1, None, "shapes")
