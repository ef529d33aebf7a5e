"""A command that fails changes no file: every check runs before the first write.

Each case runs a command that fails late (after its arguments parsed, usually
after the run was opened) on a copy of a trained run, and compares the bytes of
every file in the run and in the output folder before and after.
"""

from __future__ import annotations

import json
import shutil

import pytest

from file_faults import flip_byte, snapshot
from zspace.cli import main


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from tiny_runs import tiny_configs
    from zspace.pipeline.train import train

    out = tmp_path_factory.mktemp("failed") / "run"
    train(*tiny_configs("vae", epochs=3, keep_every=2, n_train=128), out)  # keeps epochs 2 and 3
    assert main(["fit-sampler", str(out), "diag-gauss"]) == 0
    return out


def _break_latest_checkpoint(run):
    flip_byte(run / "checkpoints" / "epoch_0003" / "model.safetensors")


def _break_latest_checkpoint_and_drop_latents(run):
    _break_latest_checkpoint(run)
    shutil.rmtree(run / "latents")  # else the codes cached while the checkpoint was sound serve


def _stale_report_assets_and_a_corrupted_checkpoint(run):
    # assets of an earlier report (another stamp): a report that cannot encode must not delete them
    (run / "z_test.npz").write_bytes(b"earlier encoding")
    (run / "assets.json").write_text(json.dumps({"layout": 0}))
    _break_latest_checkpoint(run)


def _unreadable_data(run):
    config = json.loads((run / "config.json").read_text())
    config["train"]["data"] = f"folder:{run / 'no-such-folder'}"
    (run / "config.json").write_text(json.dumps(config))


CASES = {
    # name: (damage done to the run first or None, argv after "zspace" with RUN and OUT placeholders, error fragment)
    "resume from a pruned epoch": (None, ["train", "--resume", "RUN", "--from-epoch", "1", "--epochs", "5"],
                                   "saved epochs: [2, 3]"),
    "resume with a bad epoch count": (None, ["train", "--resume", "RUN", "--epochs", "0"], "--epochs 0 must be >= 1"),
    "resume whose data is gone": (_unreadable_data, ["train", "--resume", "RUN", "--epochs", "5"], "no-such-folder"),
    "resume from a corrupted checkpoint": (_break_latest_checkpoint,
                                           ["train", "--resume", "RUN", "--from-epoch", "3", "--epochs", "5"],
                                           "is corrupted"),
    "fit-sampler at a missing epoch": (None, ["fit-sampler", "RUN", "gmm:2", "--epoch", "1"], "no checkpoint for epoch 1"),
    "fit-sampler over a corrupted checkpoint": (_break_latest_checkpoint_and_drop_latents,
                                                ["fit-sampler", "RUN", "diag-gauss"],
                                                "is corrupted"),
    "question with one bad sampler among good ones": (None, ["question", "RUN", "--sampler", "normal", "--sampler",
                                                             "gmm:2", "--sampler", "nonsense"],
                                                      "unknown sampler 'nonsense'"),
    "question over a corrupted checkpoint": (_break_latest_checkpoint, ["question", "RUN", "--sampler", "gmm:2"],
                                             "is corrupted"),
    "score a sampler that does not exist": (None, ["score", "RUN", "--sampler", "gmm:x"], "is not an integer"),
    "generate from an unfitted sampler": (None, ["generate", "RUN", "--sampler", "gmm:3", "--out", "OUT/g.npy"],
                                          "must be fitted to the run first"),
    "encode over an existing file": (None, ["encode", "RUN", "--out", "OUT/existing.npz"], "already exists"),
    "reconstruct from a corrupted checkpoint": (_break_latest_checkpoint, ["reconstruct", "RUN", "--out", "OUT/r.png"],
                                                "is corrupted"),
    "report over a corrupted checkpoint": (_stale_report_assets_and_a_corrupted_checkpoint, ["report", "RUN", "--out", "OUT/r.html"],
                                           "is corrupted"),
    "factors over a corrupted checkpoint": (_break_latest_checkpoint_and_drop_latents,
                                            ["factors", "RUN", "--out", "OUT/factors"], "is corrupted"),
    "analyze a file that is not an array": (None, ["analyze", "OUT/existing.npz", "--out", "OUT/analysis"],
                                            "existing.npz"),
    "projector over a corrupted checkpoint": (_break_latest_checkpoint, ["projector", "RUN", "--out", "OUT/proj"],
                                              "is corrupted"),
    "compare over a corrupted checkpoint": (_break_latest_checkpoint, ["compare", "RUN", "RUN", "--out", "OUT/cmp",
                                                                       "--device", "cpu"], "is corrupted"),
    "explore over a corrupted checkpoint": (_break_latest_checkpoint_and_drop_latents, ["explore", "RUN"],
                                            "is corrupted"),
    "holes with one bad sampler after a fitted one": (None, ["holes", "RUN", "--samplers", "gmm:2,nonsense",
                                                             "--device", "cpu"], "unknown sampler 'nonsense'"),
    "holes over a corrupted checkpoint": (_break_latest_checkpoint_and_drop_latents,
                                          ["holes", "RUN", "--device", "cpu"], "is corrupted"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_failed_command_changes_no_file(case, trained, tmp_path, capsys):
    damage, argv, fragment = CASES[case]
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    out = tmp_path / "out"
    out.mkdir()
    (out / "existing.npz").write_bytes(b"not an archive, but the user's file")
    if damage is not None:
        damage(run)
    before = snapshot(tmp_path)
    code = main([a.replace("RUN", str(run)).replace("OUT", str(out)) for a in argv])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("zspace: error:")]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert fragment in lines[0]
    assert snapshot(tmp_path) == before


def test_the_cases_cover_every_command_that_writes():
    from zspace.cli import COMMANDS

    covered = {argv[0] for _, argv, _ in CASES.values()}
    # summary writes nothing; demo's steps are the commands above
    assert set(COMMANDS) - covered == {"summary", "demo"}
