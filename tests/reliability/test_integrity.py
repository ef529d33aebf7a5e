"""Content hashes and checks at load: a damaged checkpoint, sampler or cache is never used silently."""

from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from file_faults import flip_byte, snapshot
from zspace.cli import main
from zspace.core.checksums import file_sha256
from zspace.pipeline import checkpoint
from zspace.pipeline.run import open_run
from zspace.pipeline.train import resume, train


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    _, err = capsys.readouterr()
    return code, err


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("zspace: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture()
def run3(tmp_path, tiny_configs):
    """A tiny AE trained for 3 epochs with every checkpoint kept (a fresh copy per test)."""
    out = tmp_path / "run"
    train(*tiny_configs("ae", epochs=3, keep_every=1), out)
    return out


def _epoch_file(run, epoch, name):
    return run / "checkpoints" / checkpoint.epoch_dir_name(epoch) / name


@pytest.mark.parametrize("name", ["model.safetensors", "state.safetensors"])
def test_a_flipped_byte_in_a_checkpoint_is_refused_naming_the_file(run3, tmp_path, capsys, name):
    flip_byte(_epoch_file(run3, 3, name))
    code, err = cli(capsys, "generate", run3, "--n", "4", "--out", tmp_path / "g.npy")
    line = one_error_line(err)
    assert code == 2
    assert f"epoch_0003/{name} is corrupted" in line
    assert "--from-epoch N" in line and "1, 2" in line  # names the epochs that remain
    assert not (tmp_path / "g.npy").exists()
    # an earlier epoch still serves
    code, _ = cli(capsys, "generate", run3, "--n", "4", "--epoch", "2", "--out", tmp_path / "g.npy")
    assert code == 0 and np.load(tmp_path / "g.npy").shape[0] == 4


def test_resume_skips_a_corrupted_latest_checkpoint_and_says_why(run3, tmp_path, tiny_configs, caplog):
    reference = tmp_path / "reference"
    train(*tiny_configs("ae", epochs=4, keep_every=1), reference)
    flip_byte(_epoch_file(run3, 3, "model.safetensors"))
    with caplog.at_level(logging.WARNING, logger="zspace"):
        resume(run3, epochs=4)
    assert any("skipping checkpoint of epoch 3" in r.getMessage() and "corrupted" in r.getMessage()
               for r in caplog.records)
    # epochs 3 and 4 were trained again from epoch 2: the same weights as a clean run
    ours, theirs = (load_file(str(_epoch_file(r, 4, "model.safetensors"))) for r in (run3, reference))
    assert all(ours[k].equal(theirs[k]) for k in theirs)
    assert [r["epoch"] for r in open_run(run3).metrics()] == [1, 2, 3, 4]


def test_no_checkpoint_that_verifies_is_one_clear_error(run3, capsys):
    for epoch in (1, 2, 3):
        flip_byte(_epoch_file(run3, epoch, "state.safetensors"))
    before = snapshot(run3)
    code, err = cli(capsys, "train", "--resume", run3)
    assert code == 2 and "no checkpoint of run" in one_error_line(err)
    assert snapshot(run3) == before


def _rewrite_model_file(run, epoch, change):
    """Apply ``change`` to the tensors of a checkpoint and record the new hash (damage the hashes cannot see)."""
    path = _epoch_file(run, epoch, "model.safetensors")
    tensors = load_file(str(path))
    change(tensors)
    save_file(tensors, str(path), metadata={"format": "pt"})
    meta_path = _epoch_file(run, epoch, "state.json")
    meta = json.loads(meta_path.read_text())
    meta["files"]["model.safetensors"] = file_sha256(path)
    meta_path.write_text(json.dumps(meta))


def _first_weight(tensors):
    return next(k for k in tensors if k.endswith("weight"))


@pytest.mark.parametrize("damage, expected", [
    (lambda t: t.update({_first_weight(t): t[_first_weight(t)][:1]}), "but the model config says"),
    (lambda t: t.update({_first_weight(t): t[_first_weight(t)].double()}), "torch.float64"),
    (lambda t: t.pop(_first_weight(t)), "does not hold this model's tensors (missing: ['"),
    (lambda t: t.update({"intruder.weight": torch.zeros(2)}), "unexpected: ['intruder.weight']"),
])
def test_tensors_that_do_not_fit_the_config_are_refused_before_use(run3, tmp_path, capsys, damage, expected):
    _rewrite_model_file(run3, 3, damage)
    code, err = cli(capsys, "generate", run3, "--n", "4", "--out", tmp_path / "g.npy")
    assert code == 2 and expected in one_error_line(err)


def test_a_state_json_naming_missing_optimizer_tensors_is_refused(run3, capsys):
    path = _epoch_file(run3, 3, "state.safetensors")
    tensors = {k: v for k, v in load_file(str(path)).items() if k != "optim.0.exp_avg"}
    save_file(tensors, str(path), metadata={"format": "pt"})
    meta_path = _epoch_file(run3, 3, "state.json")
    meta = json.loads(meta_path.read_text())
    meta["files"]["state.safetensors"] = file_sha256(path)
    meta_path.write_text(json.dumps(meta))
    before = snapshot(run3)
    code, err = cli(capsys, "train", "--resume", run3, "--from-epoch", "3", "--epochs", "4")
    assert code == 2 and "optim.0.exp_avg named by state.json is missing" in one_error_line(err)
    assert snapshot(run3) == before


def test_checkpoints_and_runs_from_a_newer_zspace_name_the_version(run3, capsys, tmp_path):
    meta_path = _epoch_file(run3, 3, "state.json")
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "format": 99}))
    code, err = cli(capsys, "generate", run3, "--n", "4", "--out", tmp_path / "g.npy")
    assert code == 2 and "checkpoint format 99 is newer" in one_error_line(err)
    config = json.loads((run3 / "config.json").read_text())
    (run3 / "config.json").write_text(json.dumps({**config, "format": 7}))
    code, err = cli(capsys, "generate", run3, "--n", "4", "--out", tmp_path / "g.npy")
    assert code == 2 and "run format 7 was written by a newer zspace" in one_error_line(err)


@pytest.mark.parametrize("edit, expected", [
    (lambda c: c.update(notes="mine"), "unknown key 'notes'"),
    (lambda c: c["train"].update(epochs="3"), "key 'epochs' must be an integer, not '3'"),
    (lambda c: c["model"].update(z_dim=2.5), "key 'z_dim' must be an integer, not 2.5"),
    (lambda c: c.update(model=[1, 2]), "key 'model' must be a JSON object"),
    (lambda c: c.update(format="2"), "'format' must be a positive integer"),
])
def test_a_hand_edited_config_is_one_error_naming_the_key(run3, capsys, tmp_path, edit, expected):
    config = json.loads((run3 / "config.json").read_text())
    edit(config)
    (run3 / "config.json").write_text(json.dumps(config))
    code, err = cli(capsys, "generate", run3, "--n", "4", "--out", tmp_path / "g.npy")
    assert code == 2 and expected in one_error_line(err)


def test_a_flipped_byte_in_a_saved_sampler_is_refused(run3, tmp_path, capsys):
    assert cli(capsys, "fit-sampler", run3, "diag-gauss")[0] == 0
    flip_byte(run3 / "samplers" / "diag-gauss" / "state.safetensors")
    code, err = cli(capsys, "generate", run3, "--sampler", "diag-gauss", "--n", "4", "--out", tmp_path / "g.npy")
    line = one_error_line(err)
    assert code == 2 and "diag-gauss/state.safetensors is corrupted" in line and "zspace fit-sampler" in line


def test_a_flipped_byte_in_the_image_cache_rebuilds_it(tmp_path, monkeypatch, caplog):
    from PIL import Image

    from zspace.data import cache as cache_module
    from zspace.data import load_images

    source = tmp_path / "images"
    source.mkdir()
    rng = np.random.default_rng(0)
    for i in range(12):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(source / f"{i:02d}.png")
    monkeypatch.setenv("ZSPACE_CACHE", str(tmp_path / "cache"))
    first = np.array(load_images(f"folder:{source}", "train", image_size=16).images)
    [images_file] = (tmp_path / "cache").rglob("images.npy")
    flip_byte(images_file, offset=images_file.stat().st_size - 5)
    cache_module._verified.clear()  # a new process: nothing verified yet
    with caplog.at_level(logging.WARNING, logger="zspace"):
        again = np.array(load_images(f"folder:{source}", "train", image_size=16).images)
    assert any("images.npy is corrupted" in r.getMessage() for r in caplog.records)
    assert np.array_equal(first, again)


def test_old_checkpoints_without_hashes_still_load(run3, tmp_path, capsys, caplog):
    meta_path = _epoch_file(run3, 3, "state.json")
    meta = json.loads(meta_path.read_text())
    del meta["files"], meta["format"]
    meta_path.write_text(json.dumps(meta))
    with caplog.at_level(logging.WARNING, logger="zspace"):
        code, _ = cli(capsys, "generate", run3, "--n", "4", "--out", tmp_path / "g.npy")
    assert code == 0 and np.load(tmp_path / "g.npy").shape[0] == 4
    # the promised warning: it names the unverified checkpoint, says why and what it means
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert [w for w in warnings if "predates content hashes" in w] == [
        f"checkpoint {meta_path.parent} predates content hashes (format 1); its bytes are not verified"], warnings


def test_a_failed_resume_changes_no_file(run3, capsys, tmp_path):
    shutil.rmtree(run3 / "checkpoints" / checkpoint.epoch_dir_name(1))
    before = snapshot(run3)
    code, err = cli(capsys, "train", "--resume", run3, "--from-epoch", "1", "--epochs", "5")
    assert code == 2 and "saved epochs: [2, 3]" in one_error_line(err)
    assert snapshot(run3) == before
