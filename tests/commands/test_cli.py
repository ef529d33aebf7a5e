"""The command line: happy paths print what they wrote; user errors are one line, exit 2, nothing lost."""

import shutil
import subprocess
import sys

import numpy as np
import pytest

from zspace.cli import build_parser, main
from zspace.models import MODELS, VariationalAutoencoder
from zspace.pipeline.losses import RECONSTRUCTION_LOSSES


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_user_error(capsys, argv, *fragments):
    code, _, err = run_cli(capsys, *argv)
    assert code == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("zspace: error:")]
    assert len(lines) == 1, err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_summary_prints_seed_counts_through_the_installed_entry_point():
    out = subprocess.run([sys.executable, "-m", "zspace", "summary", "--model", "vae", "--input", "96x96x3",
                          "--z-dim", "256", "--extra-dense", "256"], capture_output=True, text=True, check=True).stdout
    assert "encoder params: 2,879,552" in out
    assert "decoder params: 2,756,675" in out


def test_train_encode_generate_reconstruct_from_the_command_line(tmp_path, capsys):
    run_dir = tmp_path / "run"
    code, out, _ = run_cli(capsys, "train", "--data", "shapes", "--model", "ae", "--z-dim", "2", "--filters", "8,16",
                           "--epochs", "1", "--n-train", "128", "--n-val", "32", "--device", "cpu", "--out", run_dir)
    assert code == 0 and "epoch 1" in out
    code, out, _ = run_cli(capsys, "encode", run_dir, "--split", "test", "--n", "40", "--out", tmp_path / "z.npz")
    assert code == 0
    with np.load(tmp_path / "z.npz", allow_pickle=False) as f:
        assert f["z"].shape == (40, 2) and f["labels"].shape == (40,)
    code, _, _ = run_cli(capsys, "generate", run_dir, "--sampler", "uniform:2", "--n", "6", "--out",
                         tmp_path / "g.npy", "--grid", tmp_path / "g.png")
    images = np.load(tmp_path / "g.npy")
    assert code == 0 and images.shape == (6, 28, 28, 1) and (tmp_path / "g.png").stat().st_size > 0
    code, _, _ = run_cli(capsys, "reconstruct", run_dir, "--n", "4", "--out", tmp_path / "r.png")
    assert code == 0 and (tmp_path / "r.png").exists()
    # resume extends the run
    code, out, _ = run_cli(capsys, "train", "--resume", run_dir, "--epochs", "2")
    assert code == 0 and "epoch 2" in out


def test_missing_run_dir(capsys, tmp_path):
    assert_user_error(capsys, ["encode", tmp_path / "nope", "--out", tmp_path / "z.npz"], "does not exist",
                      str(tmp_path / "nope"))


def test_directory_that_is_not_a_run(capsys, tmp_path):
    assert_user_error(capsys, ["generate", tmp_path, "--out", tmp_path / "g.npy"], "is not a zspace run")


def test_bad_z_dim_creates_nothing(capsys, tmp_path):
    assert_user_error(capsys, ["train", "--z-dim", "0", "--out", tmp_path / "r"], "z_dim 0")
    assert not (tmp_path / "r").exists()


def test_filter_stack_too_deep(capsys, tmp_path):
    assert_user_error(capsys, ["summary", "--input", "8x8x1", "--filters", "8,8,8,8,8"], "--input", "fewer filters")


def test_unknown_sampler(capsys, ae_run, tmp_path):
    assert_user_error(capsys, ["generate", ae_run, "--sampler", "banana", "--out", tmp_path / "g.npy"],
                      "unknown sampler", "normal")


def test_existing_output_is_not_overwritten(capsys, ae_run, tmp_path):
    target = tmp_path / "z.npz"
    target.write_bytes(b"precious")
    assert_user_error(capsys, ["encode", ae_run, "--out", target], "already exists", "--force")
    assert target.read_bytes() == b"precious"


def test_checkpoint_of_another_config(capsys, ae_run, vae_run, tmp_path):
    hybrid = tmp_path / "hybrid"
    shutil.copytree(vae_run, hybrid)
    shutil.rmtree(hybrid / "checkpoints")
    shutil.copytree(ae_run / "checkpoints", hybrid / "checkpoints")
    assert_user_error(capsys, ["generate", hybrid, "--out", tmp_path / "g.npy"], "was written for model config")


def test_missing_data_path(capsys, tmp_path):
    assert_user_error(capsys, ["train", "--data", f"folder:{tmp_path / 'nope'}", "--out", tmp_path / "r"],
                      str(tmp_path / "nope"))
    assert not (tmp_path / "r" / "config.json").exists()


def test_resume_needs_a_checkpoint(capsys, tmp_path):
    assert_user_error(capsys, ["train", "--resume", tmp_path], "not a zspace run")


def test_choices_and_names_come_from_the_registries(monkeypatch, capsys):
    monkeypatch.setitem(MODELS, "vae2", VariationalAutoencoder)
    monkeypatch.setitem(RECONSTRUCTION_LOSSES, "l1", RECONSTRUCTION_LOSSES["mse"])
    parser = build_parser()
    assert parser.parse_args(["summary", "--model", "vae2"]).model == "vae2"
    assert parser.parse_args(["train", "--out", "x", "--model", "vae2", "--loss", "l1"]).loss == "l1"
    for command in ("generate", "score", "fit-sampler"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert "flow" in capsys.readouterr().out.replace("\n", " "), command
