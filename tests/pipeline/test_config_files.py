"""``zspace train --config FILE``: TOML, YAML and JSON files, command-line overrides, a run's config.json
as a config (bit-identical retraining), ``--print-config``, and the example files in configs/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from safetensors.numpy import load_file

from celeba_layout import make_celeba
from zspace.cli import main
from zspace.core.configfile import read_config_file
from zspace.models import ModelConfig
from zspace.pipeline.config import TrainConfig

CONFIGS = Path(__file__).resolve().parents[2] / "configs"

#: the seeds' experiments (SPEC sections 2 and 3): file -> (model fields, train fields) it must set
SEED_EXPERIMENTS = {
    "celeba_ae.toml": ({"kind": "ae", "z_dim": 256, "filters": [32, 64, 128, 256]},
                       {"epochs": 24, "batch_size": 128, "lr": 5e-4, "image_size": 96}),
    "celeba_vae_fact5.yaml": ({"kind": "vae", "z_dim": 256, "extra_dense": 256},
                              {"fact": 5.0, "epochs": 24, "lr": 5e-4}),
    "celeba_vae_tiny_kl.yaml": ({"kind": "vae", "z_dim": 256, "extra_dense": None},
                                {"fact": 1e-5, "epochs": 24}),
    "mnist_vae_2d.json": ({"kind": "vae", "z_dim": 2, "extra_dense": 16}, {"data": "mnist", "epochs": 40}),
}


def printed_config(capsys, *argv) -> dict:
    assert main(["train", *map(str, argv), "--print-config"]) == 0
    return json.loads(capsys.readouterr().out)


def error_of(capsys, *argv) -> str:
    assert main(["train", *map(str, argv)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err, "a user error is one line"
    return err


def test_every_example_config_sets_its_experiment(capsys):
    assert sorted(p.name for p in CONFIGS.iterdir()) == sorted(SEED_EXPERIMENTS)
    for name, (model, train) in SEED_EXPERIMENTS.items():
        config = printed_config(capsys, "--config", CONFIGS / name)
        assert {k: config["model"][k] for k in model} == model, name
        assert {k: config["train"][k] for k in train} == train, name
        assert isinstance(config["train"]["fact"], float), "`fact: 5` and YAML's `1e-5` are numbers"


@pytest.mark.parametrize("name", sorted(n for n in SEED_EXPERIMENTS if n.startswith("celeba")))
def test_celeba_example_configs_train_on_a_celeba_folder(tmp_path, capsys, name):
    """The files train as written (96x96 faces, z_dim 256) on a small folder in CelebA's layout."""
    make_celeba(tmp_path / "celeba")
    out = tmp_path / "run"
    assert main(["train", "--config", str(CONFIGS / name), "--data", f"celeba:{tmp_path / 'celeba'}",
                 "--epochs", "1", "--batch-size", "8", "--device", "cpu", "--out", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    model, train = SEED_EXPERIMENTS[name]
    assert {k: config["model"][k] for k in model} == model
    assert config["model"]["input_shape"] == [96, 96, 3]
    assert config["train"]["epochs"] == 1 and config["train"]["batch_size"] == 8  # the options won over the file
    assert config["train"]["fact"] == read_config_file(CONFIGS / name)["train"].get("fact", 1.0)
    assert json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])["epoch"] == 1


def test_mnist_example_config_trains_a_2d_latent_space(tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--config", str(CONFIGS / "mnist_vae_2d.json"), "--data", "shapes", "--n-train", "64",
                 "--n-val", "16", "--epochs", "1", "--device", "cpu", "--out", str(out)]) == 0
    weights = load_file(out / "checkpoints" / "epoch_0001" / "model.safetensors")
    assert {tuple(v.shape) for k, v in weights.items() if "mu" in k and k.endswith("weight")} == {(2, 16)}


def test_defaults_then_file_then_command_line(tmp_path, capsys):
    path = tmp_path / "c.toml"
    path.write_text('[model]\nkind = "vae"\nz_dim = 7\nfilters = [8, 16]\n[train]\nepochs = 3\nlr = 1e-3\n')
    config = printed_config(capsys, "--config", path, "--z-dim", "5", "--lr", "0.002", "--no-batch-norm")
    assert config["model"]["kind"] == "vae" and config["model"]["filters"] == [8, 16]  # from the file
    assert config["model"]["z_dim"] == 5 and config["train"]["lr"] == 0.002             # the command line won
    assert config["train"]["epochs"] == 3
    assert config["train"]["batch_size"] == TrainConfig().batch_size                    # a default
    assert config["model"]["kernel_size"] == ModelConfig().kernel_size
    assert "input_shape" not in config["model"], "the data sets the input shape"
    # the printout is itself a valid --config that gives the same configuration
    again = tmp_path / "again.json"
    again.write_text(json.dumps(config))
    assert printed_config(capsys, "--config", again) == config


def test_the_three_formats_read_the_same(tmp_path, capsys):
    (tmp_path / "c.toml").write_text('[model]\nz_dim = 3\n[train]\nfact = 1e-5\nn_train = 100\n')
    (tmp_path / "c.yaml").write_text("model:\n  z_dim: 3\ntrain:\n  fact: 1e-5\n  n_train: 100\n")
    (tmp_path / "c.yml").write_text("model: {z_dim: 3}\ntrain: {fact: 1.0e-5, n_train: 100}\n")
    (tmp_path / "c.json").write_text('{"model": {"z_dim": 3}, "train": {"fact": 1e-5, "n_train": 100}}')
    configs = [printed_config(capsys, "--config", tmp_path / n) for n in ("c.toml", "c.yaml", "c.yml", "c.json")]
    assert all(c == configs[0] for c in configs)
    assert configs[0]["train"]["fact"] == 1e-5 and configs[0]["model"]["z_dim"] == 3


def test_a_runs_config_json_retrains_it_bit_identically(tmp_path, capsys):
    first, second = tmp_path / "ae", tmp_path / "ae2"
    assert main(["train", "--data", "shapes", "--model", "vae", "--z-dim", "3", "--filters", "8,16", "--epochs", "2",
                 "--n-train", "128", "--n-val", "32", "--batch-size", "32", "--seed", "11", "--fact", "0.5", "--keep-every", "1",
                 "--device", "cpu", "--out", str(first)]) == 0
    assert main(["train", "--config", str(first / "config.json"), "--out", str(second)]) == 0
    assert json.loads((first / "config.json").read_text()) == json.loads((second / "config.json").read_text())
    for epoch in ("epoch_0001", "epoch_0002"):
        a = load_file(first / "checkpoints" / epoch / "model.safetensors")
        b = load_file(second / "checkpoints" / epoch / "model.safetensors")
        assert a.keys() == b.keys()
        assert all((a[k] == b[k]).all() for k in a), f"{epoch}: weights differ"
    losses = [[json.loads(line)["train"] for line in (run / "metrics.jsonl").read_text().splitlines()]
              for run in (first, second)]
    assert [{k: v for k, v in r.items() if k != "images_per_s"} for r in losses[0]] == \
           [{k: v for k, v in r.items() if k != "images_per_s"} for r in losses[1]]


def test_a_legacy_run_config_with_amp_is_accepted(tmp_path, capsys):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"format": 1, "model": {"kind": "ae"}, "train": {"amp": False, "epochs": 2},
                                "data": {"spec": "shapes", "image_shape": [28, 28, 1], "n_train": 10}}))
    config = printed_config(capsys, "--config", path)
    assert config["train"]["precision"] == "fp32" and config["train"]["data"] == "shapes"


@pytest.mark.parametrize("name, text, fragments", [
    ("unknown.toml", '[model]\nzdim = 3\n', ["unknown.toml [model]", "'zdim'", "accepted: kind, input_shape, z_dim"]),
    ("section.yaml", "training:\n  epochs: 3\n", ["section.yaml", "'training'", "accepted: format, model, train, data"]),
    ("type.json", '{"train": {"epochs": "5"}}', ["type.json [train]", "'epochs' must be an integer", "'5'"]),
    ("range.toml", "[train]\nepochs = 0\n", ["range.toml [train]", "--epochs 0 must be >= 1"]),
    ("bool.yaml", "model:\n  batch_norm: 1\n", ["bool.yaml [model]", "'batch_norm' must be true or false"]),
    ("syntax.toml", "[train\n", ["syntax.toml is not valid TOML", "fix the file"]),
    ("syntax.yaml", "model: [1\n", ["syntax.yaml is not valid YAML at line 2"]),
    ("syntax.json", "{", ["syntax.json is not valid JSON"]),
    ("list.yaml", "- 1\n- 2\n", ["list.yaml: the top level is a list"]),
    ("config.ini", "[train]\n", ["config.ini: unknown suffix '.ini'", ".json, .toml, .yaml, .yml"]),
    ("data.json", '{"data": {"spec": "shapes", "size": 3}}', ["data.json [data]", "'size'", "accepted: spec"]),
    ("clash.json", '{"data": {"spec": "shapes"}, "train": {"data": "mnist"}}', ["clash.json", "differ"]),
    ("future.json", '{"format": 99}', ["future.json", "'format' 99", "upgrade zspace"]),
])
def test_bad_config_files_are_one_line_errors(tmp_path, capsys, name, text, fragments):
    path = tmp_path / name
    path.write_text(text)
    err = error_of(capsys, "--config", path, "--out", tmp_path / "run")
    assert all(f in err for f in fragments), err
    assert not (tmp_path / "run").exists()


def test_config_errors_name_a_missing_file_and_refuse_resume(tmp_path, capsys):
    assert "does not exist" in error_of(capsys, "--config", tmp_path / "nope.toml", "--out", tmp_path / "r")
    err = error_of(capsys, "--resume", tmp_path, "--config", CONFIGS / "celeba_ae.toml")
    assert "drop --config" in err and "--config RUN_DIR/config.json --out NEW_DIR" in err
