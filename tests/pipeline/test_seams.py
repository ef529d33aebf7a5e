"""The trainer's seams and one-home rules: precision policy, process strategy, trainer state, codes, data splits."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from zspace.core.errors import ZspaceError
from zspace.data import load_images
from zspace.models import ModelConfig, build_model
from zspace.pipeline import precision as precision_module
from zspace.pipeline.config import TrainConfig
from zspace.pipeline.encode import encode
from zspace.pipeline.precision import Precision, resolve_precision
from zspace.pipeline.processes import Distributed, SingleProcess, process_device, process_strategy, shard_rows
from zspace.pipeline.run import open_run
from zspace.pipeline.train import Trainer, TrainerState


def test_precision_names_resolve_per_device(monkeypatch):
    cpu = torch.device("cpu")
    assert resolve_precision(cpu) == Precision("fp32", "cpu")
    assert resolve_precision(cpu).autocast_dtype is None and not resolve_precision(cpu).grad_scaler().is_enabled()
    with pytest.raises(ZspaceError, match="--precision fp16 needs a CUDA or MPS GPU"):
        resolve_precision(cpu, "fp16")
    with pytest.raises(ZspaceError, match="unknown"):
        resolve_precision(cpu, "fp8")
    monkeypatch.setattr(precision_module, "cpu_has_native_bf16", lambda: False)
    with pytest.raises(ZspaceError, match="no native bf16"):
        resolve_precision(cpu, "bf16")
    assert resolve_precision(cpu, "auto").name == "fp32"
    monkeypatch.setattr(precision_module, "cpu_has_native_bf16", lambda: True)
    assert resolve_precision(cpu, "bf16") == Precision("bf16", "cpu")
    # auto: bf16 only for models large enough to gain from it (the seeds' 96x96x3 model, not a 28x28 one)
    big = ModelConfig(kind="ae", input_shape=(96, 96, 3), z_dim=256)
    small = ModelConfig(kind="ae", input_shape=(28, 28, 1), z_dim=16, filters=(32, 64, 128))
    assert resolve_precision(cpu, "auto", big).name == "bf16"
    assert resolve_precision(cpu, "auto", small).name == "fp32"
    assert resolve_precision(cpu, "auto").name == "fp32"


def test_auto_picks_bf16_only_on_gpus_with_native_bf16(monkeypatch):
    # torch says bf16 is "supported" on a V100 (7.0) or T4 (7.5), where it is only emulated
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    gpu = torch.device("cuda", 0)
    for capability, wanted in (((7, 0), "fp16"), ((7, 5), "fp16"), ((8, 0), "bf16"), ((9, 0), "bf16")):
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None, c=capability: c)
        assert precision_module.auto_precision(gpu) == wanted, capability
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (7, 0))
    with pytest.raises(ZspaceError, match="compute capability >= 8.0"):
        resolve_precision(gpu, "bf16")


def test_a_task_that_sees_one_gpu_uses_it_whatever_its_local_rank(monkeypatch):
    # srun --gpus-per-task=1: task 3 of a node sees only its own GPU, as device 0
    chosen = []
    monkeypatch.setattr(torch.cuda, "set_device", chosen.append)
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "3")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert process_device(torch.device("cuda")) == torch.device("cuda", 0) and chosen == [0]
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)  # more tasks than the GPUs they share
    with pytest.raises(ZspaceError, match="LOCAL_RANK=3 but only 2 GPUs are visible"):
        process_device(torch.device("cuda"))


def test_a_legacy_amp_flag_becomes_a_precision():
    assert TrainConfig.from_dict({"amp": True}).precision == "auto"
    assert TrainConfig.from_dict({"amp": False}).precision == "fp32"


def test_a_bf16_policy_computes_in_bf16_and_keeps_float32_weights():
    layer = torch.nn.Linear(8, 4)
    with Precision("bf16", "cpu").autocast():
        out = layer(torch.randn(2, 8))
    assert out.dtype == torch.bfloat16 and layer.weight.dtype == torch.float32
    assert Precision("fp16", "cpu").autocast_dtype == torch.float16


def test_single_process_strategy_is_the_identity_and_writes():
    strategy = SingleProcess()
    order = np.arange(10)[::-1]
    assert strategy.split(order) is order and strategy.is_writer
    t = torch.ones(3)
    assert strategy.reduce_sum(t) is t
    model = torch.nn.Linear(2, 2)
    assert strategy.wrap(model) is model
    assert process_strategy(torch.device("cpu")).world_size == 1


def _rank_view(rank: int, world_size: int) -> Distributed:
    view = object.__new__(Distributed)  # the split rule only, without joining a process group
    view.rank, view.world_size = rank, world_size
    return view


@pytest.mark.parametrize("world_size, batch_size", [(2, 64), (2, 7), (3, 64), (4, 3)])
def test_the_parts_of_a_global_batch_rebuild_it_and_their_weighted_means_give_its_mean(world_size, batch_size):
    batch = np.random.default_rng(0).permutation(1000)[:batch_size]
    parts = [_rank_view(r, world_size).split(batch) for r in range(world_size)]
    assert np.array_equal(np.concatenate(parts), batch)
    assert max(map(len, parts)) - min(map(len, parts)) <= 1
    losses = np.random.default_rng(1).random(1000)
    # what DDP does: each process backpropagates mean(part) * N * len(part) / B; gradients are averaged over N
    combined = sum((losses[p].mean() if len(p) else 0.0) * world_size * len(p) / len(batch) for p in parts)
    assert combined / world_size == pytest.approx(losses[batch].mean(), rel=1e-12)


def test_contiguous_shards_of_rows_cover_them_once():
    for world_size in (1, 2, 3, 7):
        shards = [shard_rows(10, _rank_view(r, world_size)) for r in range(world_size)]
        assert np.array_equal(np.concatenate([np.arange(10)[s] for s in shards]), np.arange(10))
        # the same rule as the split of a batch
        assert all(np.array_equal(np.arange(10)[s], _rank_view(r, world_size).split(np.arange(10)))
                   for r, s in enumerate(shards))


def test_trainer_state_is_what_the_checkpoint_stores(vae_run):
    run = open_run(vae_run)
    state_json = json.loads((run.checkpoints_dir / "epoch_0002" / "state.json").read_text())
    state = TrainerState.from_dict(state_json["trainer_state"])
    assert state.to_dict() == state_json["trainer_state"]
    assert state.lr == pytest.approx(5e-4) and state.recoveries == 0
    assert state.best_loss == pytest.approx(min(r["train"]["total"] for r in run.metrics()))


def test_two_trainers_of_one_config_start_identical():
    config = TrainConfig(seed=11, device="cpu")
    model_config = ModelConfig(kind="ae", input_shape=(28, 28, 1), z_dim=2, filters=(4,))
    a = Trainer(config, model_config, torch.device("cpu"))
    b = Trainer(config, model_config, torch.device("cpu"))
    for (name, x), (_, y) in zip(a.model.state_dict().items(), b.model.state_dict().items()):
        assert x.equal(y), name
    with pytest.raises(ZspaceError, match="no run directory"):
        a.save(1)


def test_the_code_of_an_image_is_mu_for_a_vae_and_z_for_an_ae(vae_run):
    store = encode(vae_run, split="test", n=40, device="cpu")
    np.testing.assert_array_equal(store.codes, store.mu)
    assert not np.array_equal(store.z, store.mu)  # the sampled z differs from its mean
    ae = build_model(ModelConfig(kind="ae", input_shape=(28, 28, 1), z_dim=2, filters=(4,)))
    enc = ae.encode(torch.rand(3, 1, 28, 28))
    assert enc.code is enc.z


def test_a_runs_data_split_is_read_with_its_image_size_and_seed(vae_run):
    run = open_run(vae_run)
    config = run.train_config
    expected = load_images(config.data, "test", image_size=config.image_size, seed=config.seed, n=30)
    split = run.data_split("test", n=30)
    np.testing.assert_array_equal(split.images, expected.images)
    np.testing.assert_array_equal(split.labels, expected.labels)
