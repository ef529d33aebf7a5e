"""zspace projector: the Embedding Projector layout, read back with TensorBoard's own config format.

The config is parsed with ``ProjectorConfig`` + ``text_format``; the tensors,
metadata and sprite are compared with the encoded z of the same seeded rows.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

# a submodule: tests/ is on sys.path, so a bare "tensorboard" would import this folder when the extra is missing
pytest.importorskip("tensorboard.plugins.projector.projector_config_pb2")

from google.protobuf import text_format  # noqa: E402
from PIL import Image  # noqa: E402
from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig  # noqa: E402

from file_faults import snapshot  # noqa: E402
from zspace.cli import main  # noqa: E402
from zspace.core.rows import seeded_subsample  # noqa: E402
from zspace.exports.projector_layout import metadata_tsv, sprite_image  # noqa: E402
from zspace.pipeline.encode import encode  # noqa: E402
from zspace.pipeline.run import open_run  # noqa: E402

N, SEED = 50, 7


def read_config(out) -> ProjectorConfig:
    config = ProjectorConfig()
    text_format.Parse((out / "projector_config.pbtxt").read_text(), config)
    return config


def read_metadata(out) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of metadata.tsv written with a header line."""
    lines = (out / "metadata.tsv").read_text().splitlines()
    return lines[0].split("\t"), [line.split("\t") for line in lines[1:]]


def run_cli(*argv) -> int:
    return main(["projector", *map(str, argv)])


@pytest.fixture(scope="module")
def encoded_test_split(board_run):
    """The whole test split of the run, encoded by the API (a ZStore)."""
    return encode(board_run, split="test", device="cpu")


def test_a_run_gives_tensors_metadata_and_sprite_of_the_seeded_rows(board_run, encoded_test_split, tmp_path):
    out = tmp_path / "proj"
    assert run_cli(board_run, "--out", out, "--max-points", N, "--seed", SEED, "--device", "cpu") == 0
    rows = seeded_subsample(len(encoded_test_split.z), N, SEED)
    config = read_config(out)
    assert len(config.embeddings) == 1
    emb = config.embeddings[0]
    assert (emb.tensor_name, emb.tensor_path, emb.metadata_path) == ("mu", "tensors.tsv", "metadata.tsv")
    assert list(emb.tensor_shape) == [N, encoded_test_split.z.shape[1]]

    tensors = np.loadtxt(out / "tensors.tsv", delimiter="\t", dtype=np.float64).astype(np.float32)
    np.testing.assert_allclose(tensors, encoded_test_split.codes[rows], rtol=0, atol=1e-5)

    header, meta = read_metadata(out)
    run = open_run(board_run)
    class_names = run.config["data"]["class_names"]
    assert header == ["index", "label", *encoded_test_split.factor_names]
    assert [int(r[0]) for r in meta] == rows.tolist()
    assert [r[1] for r in meta] == [class_names[int(v)] for v in encoded_test_split.labels[rows]]
    np.testing.assert_allclose(np.array([r[2:] for r in meta], dtype=float), encoded_test_split.factors[rows], rtol=1e-5)

    images = run.data_split("test").images[rows]
    h, w = images.shape[1:3]
    side = math.ceil(math.sqrt(N))
    assert (emb.sprite.image_path, list(emb.sprite.single_image_dim)) == ("sprite.png", [w, h])
    sprite = np.asarray(Image.open(out / "sprite.png"))
    assert sprite.shape == (side * h, side * w)  # grey images give a grey sprite
    for i in range(side * side):
        r, c = divmod(i, side)
        thumb = sprite[r * h:(r + 1) * h, c * w:(c + 1) * w]
        assert np.array_equal(thumb, images[i, ..., 0] if i < N else np.zeros((h, w), np.uint8)), i


def test_a_z_file_gives_the_same_rows_without_a_sprite(encoded_test_split, tmp_path):
    z_file = tmp_path / "z.npz"
    encoded_test_split.save(z_file)
    out = tmp_path / "proj"
    assert run_cli(z_file, "--out", out, "--max-points", N, "--seed", SEED) == 0
    rows = seeded_subsample(len(encoded_test_split.z), N, SEED)
    emb = read_config(out).embeddings[0]
    assert not emb.sprite.image_path and not (out / "sprite.png").exists()
    tensors = np.loadtxt(out / "tensors.tsv", delimiter="\t", dtype=np.float64).astype(np.float32)
    assert np.array_equal(tensors, encoded_test_split.codes[rows])  # 9 significant digits read back exactly
    header, meta = read_metadata(out)
    assert header[:2] == ["index", "label"] and [int(r[0]) for r in meta] == rows.tolist()
    assert [r[1] for r in meta] == [encoded_test_split.meta["class_names"][int(v)] for v in encoded_test_split.labels[rows]]


def test_a_z_directory_gives_the_points_of_its_z_file_and_a_store_without_mu_gives_z(encoded_test_split, tmp_path):
    from zspace.exports.projector import projector_points
    from zspace.pipeline.zstore import ZStore

    encoded_test_split.save(tmp_path / "z.npz")
    encoded_test_split.save(tmp_path / "zdir")
    from_file, from_dir = (projector_points(tmp_path / name, max_points=N, seed=SEED) for name in ("z.npz", "zdir"))
    rows = seeded_subsample(len(encoded_test_split.z), N, SEED)
    for points in (from_file, from_dir):
        assert points.name == "mu" and np.array_equal(points.vectors, encoded_test_split.mu[rows])
        assert points.columns == from_file.columns and points.columns["index"] == rows.tolist()
    ae = ZStore(z=np.asarray(encoded_test_split.z), index=np.asarray(encoded_test_split.index))  # an AE's store
    ae.save(tmp_path / "ae")
    points = projector_points(tmp_path / "ae", max_points=N, seed=SEED)
    assert points.name == "z" and np.array_equal(points.vectors, encoded_test_split.z[rows])
    assert points.vectors.dtype == np.float32 and list(points.columns) == ["index"]


def test_a_plain_npy_array_and_no_sprite_option(board_run, encoded_test_split, tmp_path):
    array = tmp_path / "z.npy"
    np.save(array, np.asarray(encoded_test_split.z))
    assert run_cli(array, "--out", tmp_path / "a", "--max-points", 20, "--seed", 1) == 0
    emb = read_config(tmp_path / "a").embeddings[0]
    assert emb.tensor_name == "z" and list(emb.tensor_shape) == [20, encoded_test_split.z.shape[1]]
    rows = seeded_subsample(len(encoded_test_split.z), 20, 1)
    tensors = np.loadtxt(tmp_path / "a" / "tensors.tsv", delimiter="\t", dtype=np.float64).astype(np.float32)
    assert np.array_equal(tensors, encoded_test_split.z[rows])
    # one metadata column: no header line (the Projector's rule)
    assert (tmp_path / "a" / "metadata.tsv").read_text().split() == [str(r) for r in rows]

    assert run_cli(board_run, "--out", tmp_path / "b", "--max-points", 5, "--no-sprite", "--device", "cpu") == 0
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["metadata.tsv", "projector_config.pbtxt",
                                                                  "tensors.tsv"]
    assert not read_config(tmp_path / "b").embeddings[0].sprite.image_path


def test_an_existing_out_is_refused_unless_force_and_force_replaces_only_a_layout(encoded_test_split, tmp_path, capsys):
    z_file = tmp_path / "z.npz"
    encoded_test_split.save(z_file)
    out = tmp_path / "proj"
    assert run_cli(z_file, "--out", out, "--max-points", 10) == 0
    before = snapshot(tmp_path)
    assert run_cli(z_file, "--out", out, "--max-points", 12) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--force" in err[-1] and str(out) in err[-1]
    assert snapshot(tmp_path) == before

    assert run_cli(z_file, "--out", out, "--max-points", 12, "--force") == 0
    assert list(read_config(out).embeddings[0].tensor_shape)[0] == 12

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("the user's file")
    assert run_cli(z_file, "--out", mine, "--force") == 2
    assert "notes.txt" in capsys.readouterr().err and (mine / "notes.txt").read_text() == "the user's file"
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]


def test_missing_tensorboard_is_a_one_line_error_and_writes_nothing(encoded_test_split, tmp_path, capsys,
                                                                     tensorboard_blocked):
    z_file = tmp_path / "z.npz"
    encoded_test_split.save(z_file)
    with tensorboard_blocked():
        code = run_cli(z_file, "--out", tmp_path / "proj")
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "pip install 'zspace[tensorboard]'" in err[0]
    assert not (tmp_path / "proj").exists()


def test_sprite_thumbnails_shrink_to_fit_the_size_limit():
    images = np.random.default_rng(0).integers(0, 256, (30, 40, 20, 3), dtype=np.uint8)
    sprite, (w, h) = sprite_image(images, max_side=100)  # 6 x 6 cells of at most 100 // 6 = 16 pixels
    assert (w, h) == (8, 16) and sprite.shape == (6 * 16, 6 * 8, 3)
    full, (w, h) = sprite_image(images, max_side=8192)
    assert (w, h) == (20, 40) and np.array_equal(full[:40, :20], images[0])


def test_metadata_cells_cannot_break_rows_or_columns():
    text = metadata_tsv({"index": [0, 1], "label": ["a\tb", "c\nd"]})
    assert text == "index\tlabel\n0\ta b\n1\tc d\n"
