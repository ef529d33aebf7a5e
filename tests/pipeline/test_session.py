"""The inference session: a run's model loaded once, whose encode/decode/reconstruct are the primitives' numbers."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from zspace.core.errors import ZspaceError
from zspace.pipeline import checkpoint
from zspace.pipeline.encode import encode
from zspace.pipeline.forward import decode_points, encode_images, reconstruct_images
from zspace.pipeline.generate import reconstruct
from zspace.pipeline.precision import Precision
from zspace.pipeline.run import open_run
from zspace.pipeline.session import InferenceSession, open_session
from zspace.science.generation import generate


@pytest.fixture
def loads(monkeypatch):
    """A list that grows by one epoch each time a checkpoint is read from disk."""
    seen: list[int] = []
    real = checkpoint.load_checkpoint

    def spy(checkpoints_dir, epoch, config):
        seen.append(epoch)
        return real(checkpoints_dir, epoch, config)

    monkeypatch.setattr(checkpoint, "load_checkpoint", spy)
    return seen


def test_one_session_decodes_many_times_from_one_load(vae_run, loads):
    session = open_session(vae_run, device="cpu")
    points = np.random.default_rng(0).standard_normal((40, 4)).astype(np.float32)
    first = session.decode(points)
    for _ in range(5):
        np.testing.assert_array_equal(session.decode(points), first)
    session.encode(np.zeros((3, 28, 28, 1), np.uint8))
    session.reconstruct(np.zeros((3, 28, 28, 1), np.uint8))
    assert loads == [2]  # the latest checkpoint, read once for eight calls


def test_the_session_resolves_epoch_device_and_precision(vae_run):
    run = open_run(vae_run)
    session = open_session(vae_run, device="cpu")
    assert isinstance(session, InferenceSession) and session.run.root == run.root
    assert session.epoch == run.latest_epoch() == 2
    assert session.device == torch.device("cpu") and session.precision == Precision("fp32", "cpu")
    assert (session.z_dim, session.input_shape, session.kind) == (4, (28, 28, 1), "vae")
    assert not session.model.training
    assert open_session(run, epoch=1, device=torch.device("cpu")).epoch == 1
    with pytest.raises(ZspaceError, match="--precision fp16 needs a CUDA or MPS GPU"):
        open_session(run, device="cpu", precision="fp16")


def test_decode_is_the_models_decoder_on_the_points(vae_run):
    session = open_session(vae_run, device="cpu")
    points = np.random.default_rng(1).standard_normal((30, 4)).astype(np.float32)
    model = open_run(vae_run).load_model(2)  # an independent copy of the weights
    np.testing.assert_array_equal(session.decode(points, batch_size=7), decode_points(model, points, 7))
    with torch.no_grad():
        direct = model.decode(torch.from_numpy(points)).permute(0, 2, 3, 1).numpy()
    np.testing.assert_allclose(session.decode(points), direct, atol=1e-6)
    assert session.decode(points).dtype == np.float32 and session.decode(points).shape == (30, 28, 28, 1)


def test_encode_and_reconstruct_are_the_primitives_on_the_same_weights(vae_run):
    session = open_session(vae_run, device="cpu")
    images = open_run(vae_run).data_split("test", n=50).images
    model = open_run(vae_run).load_model(2)
    ours = session.encode(images, batch_size=16, seed=9, first_row=100)
    theirs = encode_images(model, images, 16, "cpu", 9, first_row=100)
    assert set(ours) == {"z", "mu", "logvar"}
    for name in ours:
        np.testing.assert_array_equal(ours[name], theirs[name])
    with torch.no_grad():
        mu = model.encode(torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255).mu.numpy()
    np.testing.assert_allclose(ours["mu"], mu, atol=1e-5)
    torch.manual_seed(4)
    expected_next = torch.rand(2)
    torch.manual_seed(4)
    reconstructed = session.reconstruct(images, batch_size=16)
    assert torch.equal(torch.rand(2), expected_next)  # the global RNG is left untouched
    np.testing.assert_array_equal(reconstructed, reconstruct_images(model, images, 16))


def test_encode_generate_and_reconstruct_each_load_the_model_once(vae_run, loads):
    run = open_run(vae_run)
    store = encode(run, split="test", n=20, device="cpu", seed=3)
    z, images = generate(run, "normal", n=6, seed=5, device="cpu")
    originals, recos = reconstruct(run, n=4, seed=1, device="cpu")
    assert loads == [2, 2, 2]
    session = open_session(run, device="cpu")
    np.testing.assert_array_equal(store.z, session.encode(run.data_split("test", n=20).images, seed=3)["z"])
    np.testing.assert_array_equal(images, session.decode(z))
    np.testing.assert_array_equal(recos, session.reconstruct((originals * 255).round().astype(np.uint8)))


def test_threads_sharing_a_session_get_the_results_of_one_thread(ae_run):
    session = open_session(ae_run, device="cpu")
    batches = [np.random.default_rng(i).standard_normal((25, 4)).astype(np.float32) for i in range(6)]
    expected = [session.decode(z) for z in batches]
    results: dict[int, np.ndarray] = {}
    threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, session.decode(batches[i])))
               for i in range(len(batches))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for i, image in enumerate(expected):
        np.testing.assert_array_equal(results[i], image)
