"""Training: learning happens, resume is bit-identical, divergence is caught and logged.

That the divergence guard restores the exact state of the last good checkpoint: test_divergence_guard.py."""

import dataclasses
import json
import math

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from zspace.core.errors import ZspaceError
from zspace.pipeline import checkpoint
from zspace.pipeline.precision import cpu_has_native_bf16
from zspace.pipeline.run import open_run
from zspace.pipeline.train import EpochMetrics, Trainer, diverged, resume, train


def _weights(run_dir, epoch):
    return load_file(str(run_dir / "checkpoints" / checkpoint.epoch_dir_name(epoch) / "model.safetensors"))


def test_training_lowers_reconstruction_loss_and_writes_metrics(vae_run):
    records = open_run(vae_run).metrics()
    assert [r["epoch"] for r in records] == [1, 2]
    assert records[1]["train"]["reco"] < records[0]["train"]["reco"]
    for r in records:
        assert math.isclose(r["train"]["total"], r["train"]["reco"] + 1.0 * r["train"]["kl"], rel_tol=1e-6)
        assert set(r["val"]) == {"total", "reco", "kl"}
    config = json.loads((vae_run / "config.json").read_text())
    assert config["model"]["input_shape"] == [28, 28, 1]
    assert config["data"]["factor_names"][:1] == ["kind"]


NATIVE_BF16 = pytest.mark.skipif(not cpu_has_native_bf16(), reason="this CPU has no native bf16 (AVX512-BF16/AMX)")


@pytest.mark.parametrize("kind, precision", [("vae", "fp32"), ("ae", "fp32"),
                                             pytest.param("vae", "bf16", marks=NATIVE_BF16)])
def test_resume_is_bit_identical_to_uninterrupted_run(tmp_path, kind, precision, tiny_configs):
    full = tmp_path / "full"
    train(*tiny_configs(kind, epochs=3, precision=precision), full)
    stopped = tmp_path / "stopped"
    train(*tiny_configs(kind, epochs=2, precision=precision), stopped)  # "killed" after epoch 2
    resume(stopped, epochs=3)
    assert {r["precision"] for r in open_run(stopped).metrics()} == {precision}
    a, b = _weights(full, 3), _weights(stopped, 3)
    assert a.keys() == b.keys()
    for key in a:
        assert a[key].equal(b[key]), key
    assert open_run(stopped).metrics()[-1]["train"] == open_run(full).metrics()[-1]["train"]


def test_resume_from_earlier_epoch_drops_later_metrics_and_retrains_them(tmp_path, monkeypatch, tiny_configs):
    run_dir = tmp_path / "r"
    train(*tiny_configs("ae", epochs=3), run_dir)  # trained straight through: the uninterrupted run
    straight = {epoch: _weights(run_dir, epoch) for epoch in (2, 3)}
    straight_metrics = [(r["epoch"], r["train"], r["val"]) for r in open_run(run_dir).metrics()]
    steps = []
    for step in ("train_epoch", "save"):
        def counted(self, *args, real=getattr(Trainer, step), step=step):
            steps.append((step, args[-1]))  # the epoch, the last argument of both
            return real(self, *args)

        monkeypatch.setattr(Trainer, step, counted)
    resume(run_dir, from_epoch=1)
    # epochs 2 and 3 were trained and checkpointed again, not left in place
    assert steps == [("train_epoch", 2), ("save", 2), ("train_epoch", 3), ("save", 3)]
    assert [(r["epoch"], r["train"], r["val"]) for r in open_run(run_dir).metrics()] == straight_metrics
    for epoch, weights in straight.items():
        again = _weights(run_dir, epoch)
        assert again.keys() == weights.keys()
        assert all(again[k].equal(v) for k, v in weights.items()), epoch


def test_loss_jump_counts_as_divergence():
    assert diverged(EpochMetrics(10.0, 10.0, 0.0), best=5.0, factor=1.5) is not None
    assert diverged(EpochMetrics(7.0, 7.0, 0.0), best=5.0, factor=1.5) is None
    assert diverged(EpochMetrics(float("inf"), 1.0, 0.0), best=None, factor=1.5) is not None


def test_repeated_divergence_stops_with_clear_error(tmp_path, monkeypatch, tiny_configs):
    monkeypatch.setattr(Trainer, "train_epoch", lambda *a, **k: EpochMetrics(float("nan"), float("nan"), 0.0))
    with pytest.raises(ZspaceError, match="diverged .* recoveries"):
        train(*tiny_configs("ae", epochs=2, max_recoveries=2), tmp_path / "r")


def test_keep_every_prunes_history(tmp_path, tiny_configs):
    run_dir = tmp_path / "r"
    train(*tiny_configs("ae", epochs=3, keep_every=2), run_dir)
    assert checkpoint.list_epochs(run_dir / "checkpoints") == [2, 3]


def test_existing_run_with_another_configuration_is_refused_naming_the_options(vae_run, tiny_configs):
    before = {p: p.read_bytes() for p in sorted(vae_run.rglob("*")) if p.is_file()}
    train_config, model_config = tiny_configs("vae")
    train_config.lr *= 2
    with pytest.raises(ZspaceError, match=r"another configuration \(train\.lr: .* here, .* in the run\)"):
        train(train_config, model_config, vae_run)
    assert {p: p.read_bytes() for p in sorted(vae_run.rglob("*")) if p.is_file()} == before


def test_checkpoint_from_another_config_is_refused(tmp_path, vae_run, ae_run):
    with pytest.raises(ZspaceError, match="was written for model config"):
        checkpoint.load_checkpoint(ae_run / "checkpoints", 2, open_run(vae_run).model_config)


def test_unreadable_images_are_skipped_and_listed_in_the_run(tmp_path, tiny_configs):
    folder = tmp_path / "pics"
    for label in ("cats", "dogs"):
        (folder / label).mkdir(parents=True)
        for i in range(12):
            Image.fromarray(np.full((20, 20, 3), 20 * i, np.uint8)).save(folder / label / f"{i}.png")
    (folder / "dogs" / "broken.png").write_bytes(b"\x89PNG not really")
    train_config, model_config = tiny_configs("ae", data=f"folder:{folder},size=16", epochs=1, n_train=None,
                                              n_val=None, batch_size=8)
    model_config = dataclasses.replace(model_config, filters=(4,))
    run_dir = tmp_path / "r"
    train(train_config, model_config, run_dir)
    skipped = (run_dir / "skipped.txt").read_text()
    assert "broken.png" in skipped and len(skipped.strip().splitlines()) == 1
    assert open_run(run_dir).metrics()[-1]["epoch"] == 1


@NATIVE_BF16
def test_bf16_training_keeps_float32_weights_and_tracks_float32_losses(tmp_path, tiny_configs):
    runs = {}
    for precision in ("fp32", "bf16"):
        train(*tiny_configs("ae", epochs=2, precision=precision), tmp_path / precision)
        runs[precision] = open_run(tmp_path / precision).metrics()[-1]
    weights = _weights(tmp_path / "bf16", 2)
    assert all(w.dtype == torch.float32 for w in weights.values())
    assert not all(weights[k].equal(v) for k, v in _weights(tmp_path / "fp32", 2).items())  # bf16 really ran
    assert runs["bf16"]["val"]["total"] == pytest.approx(runs["fp32"]["val"]["total"], rel=0.02)
