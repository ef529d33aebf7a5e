"""Untrusted pickles: an array file that would run code when unpickled is refused by every reader.

The payload is an object array whose element unpickles as ``open(MARKER, "w")``:
loading it with ``allow_pickle=True`` creates the marker file (checked first,
so the test proves something). Every command and API that reads a user's
array must refuse it with a one-line error naming the file, and the marker
must not appear.
"""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
from fuzzkit import CASES, assert_cli_user_error, assert_user_error, outcome, run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

from zspace.analysis.inputs import load_latents
from zspace.data import load_images
from zspace.pipeline.run import open_run
from zspace.pipeline.zstore import load_zstore

pytestmark = pytest.mark.usefixtures("isolated_environment")


class Payload:
    """Unpickles as ``open(path, "w")``: the file appearing is the proof that code ran."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return open, (self.path, "w")


def evil_array(marker: Path) -> np.ndarray:
    array = np.empty(2, dtype=object)
    array[:] = [Payload(marker), 1.0]
    return array


def write_evil(path: Path, marker: Path, *, member: str = "z", others: dict | None = None) -> Path:
    """An .npy holding the payload, an .npz holding it as ``member``, or a bare pickle (any other suffix)."""
    if path.suffix == ".npy":
        np.save(path, evil_array(marker), allow_pickle=True)
    elif path.suffix == ".npz":
        np.savez(path, **{member: evil_array(marker)}, **(others or {}))
    else:
        path.write_bytes(pickle.dumps(evil_array(marker)))
    return path


@pytest.fixture()
def marker(tmp_path) -> Path:
    return tmp_path / "PWNED"


def test_the_payload_really_runs_code_when_unpickled(tmp_path, marker):
    """The control: plain numpy with allow_pickle=True creates the marker, so its absence below means something."""
    for path in (write_evil(tmp_path / "a.npy", marker), write_evil(tmp_path / "b.npz", marker)):
        loaded = np.load(path, allow_pickle=True)
        if path.suffix == ".npz":
            loaded["z"]
        assert marker.exists()
        marker.unlink()


@pytest.mark.parametrize("name", ["evil.npy", "evil.npz", "evil-mu.npz", "bare-pickle.npy"])
def test_analyze_refuses_pickles(tmp_path, marker, name):
    if name == "evil-mu.npz":  # z is fine, mu carries the payload
        path = write_evil(tmp_path / name, marker, member="mu",
                          others={"z": np.zeros((4, 2)), "logvar": np.zeros((4, 2))})
    elif name == "bare-pickle.npy":
        path = tmp_path / name
        path.write_bytes(pickle.dumps(evil_array(marker)))
    else:
        path = write_evil(tmp_path / name, marker)
    code, _, err = run_cli(["analyze", path, "--out", tmp_path / "out", "--no-figures"])
    assert_cli_user_error(code, err, str(path))
    error = outcome(load_latents, path)[1]
    assert_user_error(error, str(path))
    assert not marker.exists()


def test_a_pickled_array_the_analysis_does_not_read_is_never_opened(tmp_path, marker):
    """An .npz with a good ``z`` and an unrelated pickled member: analysed, the member left alone."""
    path = write_evil(tmp_path / "z.npz", marker, member="notes",
                      others={"z": np.random.default_rng(0).normal(size=(20, 2))})
    latents = load_latents(path)
    assert latents.z.shape == (20, 2) and not marker.exists()


@pytest.mark.parametrize("name", ["evil.npz", "evil-index.npz", "evil.npy"])
def test_load_zstore_refuses_pickles(tmp_path, marker, name):
    if name == "evil-index.npz":
        path = write_evil(tmp_path / name, marker, member="index", others={"z": np.zeros((2, 2), np.float32)})
    else:
        path = write_evil(tmp_path / name, marker)
    assert_user_error(outcome(load_zstore, path)[1], str(path))
    assert not marker.exists()


@pytest.mark.parametrize("where", ["images", "labels"])
def test_train_on_a_pickled_array_is_refused(tmp_path, marker, where):
    good = tmp_path / "good.npy"
    np.save(good, np.zeros((10, 8, 8), np.uint8))
    evil = write_evil(tmp_path / "evil.npy", marker)
    spec = f"array:{evil}" if where == "images" else f"array:{good},labels={evil}"
    code, _, err = run_cli(["train", "--data", spec, "--out", tmp_path / "run", "--epochs", "1"])
    assert_cli_user_error(code, err, str(evil), "Python objects")
    assert_user_error(outcome(load_images, spec, "all", cache_dir=tmp_path / "cache")[1], str(evil))
    assert not marker.exists() and not (tmp_path / "run" / "config.json").exists()


def _run_copy(fuzz_run: Path, tmp_path: Path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(fuzz_run, run)
    return run


@pytest.mark.parametrize("argv", [["question", "{run}", "--sampler", "normal", "--n", "8", "--n-reference", "8"],
                                  ["fit-sampler", "{run}", "gmm:2"]])
def test_run_commands_refuse_pickled_training_latents(fuzz_run, tmp_path, marker, argv):
    """``question`` and ``fit-sampler`` read the cached training codes RUN_DIR/latents/train-eN.npz."""
    run = _run_copy(fuzz_run, tmp_path)
    latents = run / "latents" / f"train-e{open_run(run).latest_epoch()}.npz"
    latents.parent.mkdir(exist_ok=True)
    write_evil(latents, marker)
    code, _, err = run_cli([str(a).format(run=run) for a in argv])
    assert_cli_user_error(code, err, str(latents))
    assert not marker.exists()


def test_report_refuses_a_pickled_z_file(fuzz_run, tmp_path, marker, monkeypatch):
    """``report`` reads RUN_DIR/z_test.npz; here the encoding step leaves a pickle-bearing file in its place."""
    from zspace.report import assets

    run = _run_copy(fuzz_run, tmp_path)

    class EvilStore:
        def save(self, path):
            write_evil(Path(path), marker)

    monkeypatch.setattr(assets, "encode", lambda *args, **kwargs: EvilStore())
    code, _, err = run_cli(["report", run, "--out", tmp_path / "report.html"])
    assert_cli_user_error(code, err, str(run / "z_test.npz"))
    assert not marker.exists() and not (tmp_path / "report.html").exists()


@settings(max_examples=40)
@given(container=st.sampled_from(["npy", "npz", "npz-compressed", "bare"]),
       member=st.sampled_from(["z", "mu", "logvar", "labels", "index", "factors", "meta", "other"]),
       reader=st.sampled_from(["load_latents", "load_zstore", "array source"]))
def test_no_reader_ever_unpickles(tmp_path_factory, container, member, reader):
    """Wherever the payload sits, a reader refuses it (or, when it does not need that array, ignores it)."""
    CASES.tick()
    tmp = tmp_path_factory.mktemp("pickle")
    marker = tmp / "PWNED"
    z = np.random.default_rng(0).normal(size=(6, 2)).astype(np.float32)
    if container in ("npz", "npz-compressed"):
        path = tmp / "input.npz"
        arrays = {"z": z, "mu": z, "logvar": z, "index": np.arange(6), member: evil_array(marker)}
        (np.savez if container == "npz" else np.savez_compressed)(path, **arrays)
    else:
        path = write_evil(tmp / ("input.npy" if container == "npy" else "input.pkl"), marker)
    read = {"load_latents": lambda: load_latents(path), "load_zstore": lambda: load_zstore(path),
            "array source": lambda: load_images(f"array:{path}", "all", cache_dir=tmp / "cache")}[reader]
    result, error = outcome(read)
    assert not marker.exists()
    if error is not None:
        assert_user_error(error, str(path))
    else:  # only an .npz whose pickled member this reader never reads
        assert container.startswith("npz")
        assert member == "other" or (reader == "load_latents" and member in ("index", "factors", "meta"))
