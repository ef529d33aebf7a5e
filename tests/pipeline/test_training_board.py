"""zspace train --tensorboard: the event files hold metrics.jsonl's numbers and the grids, read back with
TensorBoard's own reader; the weights do not change; without the flag nothing is imported or written."""

from __future__ import annotations

import dataclasses
import io
import json
import shutil

import numpy as np
import pytest

# a submodule: tests/ is on sys.path, so a bare "tensorboard" would import this folder when the extra is missing
pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")

from PIL import Image  # noqa: E402
from safetensors.torch import load_file  # noqa: E402
from tensorboard.backend.event_processing.event_accumulator import IMAGES, EventAccumulator  # noqa: E402
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader  # noqa: E402

from tiny_runs import tiny_configs  # noqa: E402
from zspace.cli import main  # noqa: E402
from zspace.pipeline import checkpoint  # noqa: E402
from zspace.pipeline.generate import decode_points, reconstruct_images  # noqa: E402
from zspace.pipeline.run import open_run  # noqa: E402
from zspace.pipeline.tensorboard import GRID_COLUMNS, SAMPLE_ROWS, board_dir, sample_points  # noqa: E402
from zspace.pipeline.train import resume, train  # noqa: E402

VAE_TAGS = {"train/total", "train/reco", "train/kl", "val/total", "val/reco", "val/kl", "lr", "images_per_s"}


def read_board(run_dir) -> EventAccumulator:
    board = EventAccumulator(str(board_dir(run_dir)), size_guidance={IMAGES: 0})
    board.Reload()
    return board


def metric_values(record: dict) -> dict[str, float]:
    """The numbers of one metrics.jsonl record under the scalar tags they should be logged as."""
    values = {f"{part}/{term}": record[part][term] for part in ("train", "val") for term in record[part]}
    return {**values, "lr": record["lr"], "images_per_s": record["images_per_s"]}


def assert_scalars_match_metrics(run_dir, tags: set[str]) -> None:
    board = read_board(run_dir)
    records = [r for r in open_run(run_dir).metrics() if "event" not in r]
    assert set(board.Tags()["scalars"]) == tags
    for tag in tags:
        events = board.Scalars(tag)
        assert [e.step for e in events] == [r["epoch"] for r in records], tag
        for event, record in zip(events, records):
            assert event.value == np.float32(metric_values(record)[tag]), (tag, event.step)


def cell(grid: np.ndarray, row: int, col: int, h: int, w: int) -> np.ndarray:
    """Image (row, col) of a grid with 1-pixel gutters."""
    y, x = 1 + row * (h + 1), 1 + col * (w + 1)
    return grid[y:y + h, x:x + w]


def test_scalars_equal_metrics_jsonl_for_every_epoch(board_run):
    assert_scalars_match_metrics(board_run, VAE_TAGS)


def test_grids_show_validation_images_reconstructions_and_fixed_samples(board_run):
    run = open_run(board_run)
    config = run.train_config
    originals = run.data_split("test", n=config.n_val).images[:GRID_COLUMNS]
    h, w = originals.shape[1:3]
    board = read_board(board_run)
    assert set(board.Tags()["images"]) == {"reconstructions", "samples"}
    for tag, rows in (("reconstructions", 2), ("samples", SAMPLE_ROWS)):
        events = board.Images(tag)
        assert [e.step for e in events] == list(range(1, config.epochs + 1))
        assert {(e.width, e.height) for e in events} == {(GRID_COLUMNS * (w + 1) + 1, rows * (h + 1) + 1)}
    points = sample_points(config.seed, GRID_COLUMNS * SAMPLE_ROWS, run.model_config.z_dim).numpy()
    for epoch in range(1, config.epochs + 1):
        pairs, samples = (np.asarray(Image.open(io.BytesIO(board.Images(tag)[epoch - 1].encoded_image_string)))
                          for tag in ("reconstructions", "samples"))
        model = run.load_model(epoch)
        reconstructions = np.round(reconstruct_images(model, originals) * 255)
        decoded = np.round(decode_points(model, points) * 255)
        for col in range(GRID_COLUMNS):
            assert np.array_equal(cell(pairs, 0, col, h, w)[..., 0], originals[col, ..., 0])
            assert np.abs(cell(pairs, 1, col, h, w)[..., 0] - reconstructions[col, ..., 0]).max() <= 1
            for row in range(SAMPLE_ROWS):
                sample = decoded[row * GRID_COLUMNS + col, ..., 0]
                assert np.abs(cell(samples, row, col, h, w)[..., 0] - sample).max() <= 1


def test_weights_and_metrics_are_bit_identical_with_and_without_tensorboard(board_run, plain_run):
    epochs = open_run(board_run).train_config.epochs
    for epoch in range(1, epochs + 1):
        with_board, without = (load_file(str(run / "checkpoints" / checkpoint.epoch_dir_name(epoch) /
                                             "model.safetensors")) for run in (board_run, plain_run))
        assert with_board.keys() == without.keys()
        assert all(np.array_equal(with_board[k].numpy(), without[k].numpy()) for k in with_board), epoch
    losses = [[(r["train"], r["val"]) for r in open_run(run).metrics()] for run in (board_run, plain_run)]
    assert losses[0] == losses[1] and len(losses[0]) == epochs


def test_without_the_flag_nothing_is_written(plain_run):
    # plain_run was trained while every import of tensorboard failed (conftest.tensorboard_blocked)
    assert not board_dir(plain_run).exists()
    assert json.loads((plain_run / "config.json").read_text())["train"]["tensorboard"] is False


def test_an_autoencoder_logs_no_kl(tmp_path):
    train(*tiny_configs("ae", tensorboard=True, epochs=1, n_train=128), tmp_path / "ae")
    assert_scalars_match_metrics(tmp_path / "ae", VAE_TAGS - {"train/kl", "val/kl"})


def test_resume_writes_into_the_same_directory_and_purges_the_epochs_trained_again(board_run, tmp_path):
    run_dir = tmp_path / "vae"
    shutil.copytree(board_run, run_dir)
    before = sorted(p.name for p in board_dir(run_dir).iterdir())
    resume(run_dir, from_epoch=1)
    files = sorted(board_dir(run_dir).iterdir())
    assert len(files) == 2 and [p.name for p in files if p.name in before] == before
    # epoch 2 is in both files; the records of the new one count (its images/s differs from the first run's)
    assert_scalars_match_metrics(run_dir, VAE_TAGS)
    assert [e.step for e in read_board(run_dir).Images("samples")] == [1, 2]
    new = next(p for p in files if p.name not in before)
    starts = [e.step for e in EventFileLoader(str(new)).Load() if e.HasField("session_log")]
    assert starts == [2]  # purge_step: the first epoch trained again


def test_resume_with_the_flag_turns_tensorboard_on_for_the_epochs_it_trains(plain_run, tmp_path):
    run_dir = tmp_path / "vae"
    shutil.copytree(plain_run, run_dir)
    assert main(["train", "--resume", str(run_dir), "--epochs", "3", "--tensorboard"]) == 0
    assert json.loads((run_dir / "config.json").read_text())["train"]["tensorboard"] is True
    board = read_board(run_dir)
    assert [e.step for e in board.Scalars("train/total")] == [3]
    assert board.Scalars("train/total")[0].value == np.float32(open_run(run_dir).metrics()[-1]["train"]["total"])


def test_missing_tensorboard_is_a_one_line_error_before_any_file(tmp_path, capsys, tensorboard_blocked):
    out = tmp_path / "run"
    with tensorboard_blocked():
        code = main(["train", "--data", "shapes", "--out", str(out), "--tensorboard", "--epochs", "1",
                     "--n-train", "64", "--n-val", "16", "--device", "cpu"])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("zspace: error:")]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert "--tensorboard" in lines[0] and "pip install 'zspace[tensorboard]'" in lines[0]
    assert not out.exists()


def test_drawing_the_grids_leaves_the_rng_and_the_training_mode_alone(tmp_path):
    import torch

    from zspace.models import build_model
    from zspace.pipeline.tensorboard import TrainingBoard

    _, model_config = tiny_configs("vae")
    model = build_model(dataclasses.replace(model_config, input_shape=(28, 28, 1), batch_norm=True)).train()
    images = np.random.default_rng(0).integers(0, 256, (10, 28, 28, 1), dtype=np.uint8)
    board = TrainingBoard(tmp_path, model, images, seed=1, start_epoch=0)
    state, weights = torch.get_rng_state(), {k: v.clone() for k, v in model.state_dict().items()}
    pairs, samples = board.grids(model)
    board.close()
    assert model.training and torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in weights.items())  # batch-norm statistics too
    assert pairs.shape == (2 * 29 + 1, GRID_COLUMNS * 29 + 1, 1)
    assert samples.shape == (SAMPLE_ROWS * 29 + 1, GRID_COLUMNS * 29 + 1, 1)
