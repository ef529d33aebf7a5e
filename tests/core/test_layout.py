"""The run directory's layout (zspace.core.layout) and the one rule for what kind of input a path is
(zspace.core.inputkind), checked against real runs and stores written by zspace itself."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from zspace.core.errors import ZspaceError
from zspace.core.inputkind import InputKind, input_kind, is_z_file_name, kind_of
from zspace.core.layout import RunLayout
from zspace.pipeline import checkpoint
from zspace.pipeline.run import config_path, open_run
from zspace.pipeline.zstore import ZStore, is_zdir_path


def _store(n: int = 30, d: int = 3) -> ZStore:
    z = np.random.default_rng(0).normal(size=(n, d)).astype(np.float32)
    return ZStore(z=z, index=np.arange(n), labels=np.arange(n) % 2)


# -- the layout --------------------------------------------------------------------------------------


def test_a_trained_run_holds_exactly_the_training_files_of_its_layout(vae_run):
    run = open_run(vae_run)
    assert run.layout == RunLayout(vae_run) and config_path(vae_run) == run.layout.config
    training = {run.layout.config, run.layout.metrics, run.layout.checkpoints}
    assert set(Path(vae_run).iterdir()) == training  # no skipped.txt: the shapes set reads without a failure
    assert json.loads(run.layout.config.read_text())["model"]["kind"] == "vae"
    assert [r["epoch"] for r in run.metrics() if "event" not in r] == [1, 2]
    assert len(run.layout.metrics.read_text().splitlines()) == 2
    assert checkpoint.latest_epoch(run.layout.checkpoints) == 2 == run.latest_epoch()


def test_the_training_split_is_cached_where_the_layout_says(vae_run, tmp_path):
    from zspace.science.latents import training_store

    root = shutil.copytree(vae_run, tmp_path / "run")
    store = training_store(root, device="cpu")
    cached = RunLayout(root).latents_file(2)
    assert sorted(p.relative_to(root).as_posix() for p in RunLayout(root).latents.iterdir()) == ["latents/train-e2.npz"]
    assert np.array_equal(store.codes, np.load(cached)["mu"])


def test_every_path_of_the_layout_by_name():
    layout = RunLayout("runs/a")  # a str root becomes a Path
    assert layout.root == Path("runs/a")
    expected = {
        "config": "config.json", "metrics": "metrics.jsonl", "checkpoints": "checkpoints", "skipped": "skipped.txt",
        "tensorboard": "tensorboard", "samplers": "samplers", "latents": "latents", "scores": "scores",
        "question": "question.json", "factors": "factors", "factors_summary": "factors/factors.json",
        "z_test": "z_test.npz", "analysis": "analysis", "analysis_summary": "analysis/analysis.json",
        "analysis_scatter": "analysis/scatter.npz", "reconstruction": "reconstruction.png",
        "real_grid": "real_test.png", "assets_stamp": "assets.json",
    }
    assert {name: getattr(layout, name).relative_to("runs/a").as_posix() for name in expected} == expected
    assert layout.sampler("gmm-10") == Path("runs/a/samplers/gmm-10")
    assert layout.latents_file(12) == Path("runs/a/latents/train-e12.npz")
    assert layout.score_file("gmm-10") == Path("runs/a/scores/gmm-10.json")
    assert layout.generated_grid("normal") == Path("runs/a/generated_normal.png")
    assert layout.generated_grid("uniform:2") == Path("runs/a/generated_uniform_2-fa9ea589.png")


def test_generated_grids_lists_only_the_grids(tmp_path):
    layout = RunLayout(tmp_path)
    for name in ("generated_normal.png", "generated_gmm_10-0123abcd.png", "real_test.png", "reconstruction.png"):
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in layout.generated_grids()] == ["generated_gmm_10-0123abcd.png", "generated_normal.png"]


# -- what kind of input a path is -----------------------------------------------------------------


def test_a_trained_run_is_a_run_directory(vae_run):
    assert input_kind(vae_run) is InputKind.RUN and kind_of(str(vae_run)) is InputKind.RUN


def test_z_stores_written_by_zspace_are_z_files_and_z_directories(tmp_path):
    store = _store()
    assert input_kind(store.save(tmp_path / "z.npz")) is InputKind.Z_FILE
    assert input_kind(store.save(tmp_path / "Z.NPZ")) is InputKind.Z_FILE  # suffixes compare case-blind
    assert input_kind(store.save(tmp_path / "zdir")) is InputKind.Z_DIR
    assert (tmp_path / "zdir" / "meta.json").is_file()


def test_arrays_and_shard_directories(tmp_path):
    z = _store().z
    np.save(tmp_path / "z.npy", z)
    (tmp_path / "shards").mkdir()
    np.save(tmp_path / "shards" / "emb_0000.npy", z[:10])
    np.save(tmp_path / "shards" / "emb_0001.npy", z[10:])
    (tmp_path / "empty").mkdir()
    assert input_kind(tmp_path / "z.npy") is InputKind.ARRAY
    assert input_kind(tmp_path / "shards") is InputKind.SHARD_DIR
    assert input_kind(tmp_path / "empty") is InputKind.SHARD_DIR  # its reader says that it holds no shard
    assert [k for k in InputKind if k.is_directory] == [InputKind.RUN, InputKind.Z_DIR, InputKind.SHARD_DIR]


def test_a_run_directory_wins_over_a_z_directorys_meta_json(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "meta.json").write_text("{}")
    assert input_kind(tmp_path) is InputKind.RUN


def test_a_missing_path_and_an_unknown_file_are_one_line_errors(tmp_path):
    missing = tmp_path / "nope.npz"
    assert kind_of(missing) is None
    with pytest.raises(ZspaceError, match="does not exist") as caught:
        input_kind(missing)
    message = str(caught.value)
    assert message.startswith(str(missing)) and "\n" not in message
    assert all(word in message for word in ("run directory", "Z file", "Z directory", ".npy"))
    (tmp_path / "z.csv").write_text("1,2\n")
    assert kind_of(tmp_path / "z.csv") is None
    with pytest.raises(ZspaceError, match=r"unknown type '\.csv'"):
        input_kind(tmp_path / "z.csv")


def test_a_z_directory_a_killed_replacement_left_aside_is_brought_back(tmp_path):
    path = _store().save(tmp_path / "zdir")
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    assert ended.wait() == 0
    path.rename(tmp_path / f".zdir.old-{ended.pid}")
    assert input_kind(path) is InputKind.Z_DIR and (path / "z.npy").is_file()


@pytest.mark.parametrize("name", ["z.npz", "Z.NPZ", "zdir", "z.npy", "a.b/zdir"])
def test_writers_and_readers_share_the_suffix_rule(name):
    assert is_z_file_name(name) == (not is_zdir_path(name)) == name.lower().endswith(".npz")
