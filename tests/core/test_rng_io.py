"""Restorable RNG state and atomic writes."""

import random

import numpy as np
import pytest
import torch

from zspace.core import io, rng


def _draws():
    return random.random(), random.gauss(0, 1), np.random.rand(), np.random.randn(), torch.rand(3).tolist()


def test_rng_state_round_trip_reproduces_every_generator():
    rng.seed_everything(123)
    random.gauss(0, 1)  # leaves a cached gaussian in python's state
    np.random.randn()
    state = rng.get_state()
    first = _draws()
    _draws()
    rng.set_state(state)
    assert _draws() == first


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    target = tmp_path / "a.json"
    io.write_json(target, {"v": 1})
    with pytest.raises(RuntimeError):
        with io.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed mid-write")
    assert target.read_text().strip().startswith("{")
    assert '"v": 1' in target.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_atomic_files_get_ordinary_permissions(tmp_path):
    import os

    mask = os.umask(0o022)
    try:
        plain = tmp_path / "plain.txt"
        plain.write_text("x")
        atomic = io.write_text(tmp_path / "atomic.txt", "x")
        assert atomic.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777
    finally:
        os.umask(mask)


def test_atomic_dir_replaces_whole_directory(tmp_path):
    target = tmp_path / "ck"
    with io.atomic_dir(target) as d:
        (d / "x").write_text("1")
    with pytest.raises(RuntimeError):
        with io.atomic_dir(target) as d:
            (d / "x").write_text("2")
            raise RuntimeError
    assert (target / "x").read_text() == "1"
    with io.atomic_dir(target) as d:
        (d / "y").write_text("3")
    assert sorted(p.name for p in target.iterdir()) == ["y"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]


def test_jsonl_skips_truncated_last_line(tmp_path):
    path = tmp_path / "m.jsonl"
    io.append_jsonl(path, {"epoch": 1, "loss": np.float32(2.5)})
    with open(path, "a") as fh:
        fh.write('{"epoch": 2, "lo')
    assert io.read_jsonl(path) == [{"epoch": 1, "loss": 2.5}]
