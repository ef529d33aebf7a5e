import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from celeba_layout import BROKEN, colour_of, make_celeba
from zspace.core.errors import ZspaceError
from zspace.data import cache, imagefiles, load_images


def first_pixel_ids(s) -> list[int]:
    """Recover each image's file number from its colour (red channel = 10 i mod 256)."""
    ids = []
    for image in s.images:
        red, green = float(image[..., 0].mean()), float(image[..., 1].mean())
        ids.append(min(range(1, 31), key=lambda i: abs(colour_of(i)[0] - red) + abs(colour_of(i)[1] - green)))
    return ids


@pytest.fixture
def small_chunks(monkeypatch):
    """Several chunks, so the worker processes are used even for 30 files."""
    monkeypatch.setattr(imagefiles, "CHUNK_SIZE", 8)


def test_celeba_official_split_skips_broken_files(tmp_path, small_chunks):
    make_celeba(tmp_path / "celeba")
    train = load_images(f"celeba:{tmp_path / 'celeba'}")
    assert train.images.shape == (18, 96, 96, 3) and isinstance(train.images, np.memmap)
    assert sorted(Path(s.split(":")[0]).name for s in train.skipped) == sorted(BROKEN)
    assert first_pixel_ids(train) == [i for i in range(1, 21) if f"{i:06d}.jpg" not in BROKEN]
    assert first_pixel_ids(load_images(f"celeba:{tmp_path / 'celeba'}", "valid")) == [21, 22, 23, 24, 25]
    assert first_pixel_ids(load_images(f"celeba:{tmp_path / 'celeba' / 'img_align_celeba'}", "test")) == \
        [26, 28, 29, 30]
    assert len(load_images(f"celeba:{tmp_path / 'celeba'}", "all")) == 27
    np.testing.assert_allclose(train.images[0].reshape(-1, 3).mean(0), colour_of(1), atol=3)


def test_cache_is_reused_and_rebuilt_when_a_file_changes(tmp_path, monkeypatch):
    images = make_celeba(tmp_path / "celeba")
    spec = f"celeba:{tmp_path / 'celeba'}"
    first = load_images(spec, n=3)

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again although the source did not change")

    monkeypatch.setattr(imagefiles, "decode_files", no_decoding)
    again = load_images(spec, n=3)
    np.testing.assert_array_equal(first.images, again.images)
    assert len(again.skipped) == 3
    monkeypatch.undo()
    monkeypatch.setenv("ZSPACE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("ZSPACE_PROGRESS", "0")
    Image.new("RGB", (178, 218), (0, 0, 250)).save(images / "000001.jpg")
    os.utime(images / "000001.jpg", ns=(1, 1))
    changed = load_images(spec, n=3)
    assert changed.images[0, 48, 48, 2] > 240 and changed.images[0, 48, 48, 0] < 10
    assert len(list((tmp_path / "cache").iterdir())) == 1   # rebuilt in place, not beside


def test_centre_crop_and_resize(tmp_path):
    images = tmp_path / "c" / "img_align_celeba"
    images.mkdir(parents=True)
    picture = np.zeros((218, 178, 3), np.uint8)
    picture[:, :] = (0, 255, 0)
    picture[:20] = (255, 0, 0)      # cut away by the centre crop (rows 20..197 remain)
    picture[198:] = (0, 0, 255)
    Image.fromarray(picture).save(images / "000001.png")
    s = load_images(f"celeba:{tmp_path / 'c'}", "all", image_size=32)
    assert s.images.shape == (1, 32, 32, 3)
    assert s.images[..., 1].min() > 250 and s.images[..., 0].max() < 5 and s.images[..., 2].max() < 5


def test_celeba_without_partition_uses_a_seeded_split_and_reads_attributes(tmp_path):
    make_celeba(tmp_path / "celeba", partition=False, attributes=True)
    spec = f"celeba:{tmp_path / 'celeba'}"
    train, test = load_images(spec, "train", seed=1), load_images(spec, "test", seed=1)
    assert len(train) + len(test) == 27 and len(test) == 3
    assert not set(first_pixel_ids(train)) & set(first_pixel_ids(test))
    assert train.factor_names == ["Smiling", "Young"]
    ids = first_pixel_ids(train)
    np.testing.assert_array_equal(train.factors[:, 0], [(i - 1) % 2 for i in ids])
    with pytest.raises(ZspaceError, match="list_eval_partition.txt"):
        load_images(spec, "valid")


def make_folder(root: Path) -> None:
    for label, value in (("cats", 50), ("dogs", 200)):
        (root / label / "deeper").mkdir(parents=True)
        for i in range(6):
            sub = "deeper/" if i % 2 else ""
            Image.new("L", (28, 28), value).save(root / label / f"{sub}{i}.png")
    (root / "cats" / "broken.png").write_bytes(b"\x89PNG not really")
    (root / "dogs" / "notes.txt").write_text("ignored")
    (root / ".hidden").mkdir()
    Image.new("L", (28, 28), 0).save(root / ".hidden" / "x.png")


def test_folder_labels_from_subfolders_grey_and_native_size(tmp_path):
    make_folder(tmp_path / "pets")
    s = load_images(f"folder:{tmp_path / 'pets'}", "all")
    assert s.images.shape == (12, 28, 28, 1)
    assert s.class_names == ["cats", "dogs"]
    np.testing.assert_array_equal(s.images[:, 0, 0, 0], np.where(s.labels == 0, 50, 200))
    assert len(s.skipped) == 1 and "broken.png" in s.skipped[0]
    train, test = load_images(f"folder:{tmp_path / 'pets'}"), load_images(f"folder:{tmp_path / 'pets'}", "test")
    assert (len(train), len(test)) == (11, 1)
    rgb = load_images(f"folder:{tmp_path / 'pets'},channels=3", "all", image_size=16)
    assert rgb.images.shape == (12, 16, 16, 3)


def test_folder_without_subfolders_has_no_labels(tmp_path):
    for i in range(4):
        Image.new("RGB", (300, 200), (i, 0, 0)).save(tmp_path / f"{i}.webp")
    s = load_images(f"folder:{tmp_path}", "all")
    assert s.labels is None and s.images.shape == (4, 96, 96, 3)


@pytest.mark.parametrize("setup,words", [
    (lambda p: p.mkdir(), "holds no images (0 other files"),
    (lambda p: (p.mkdir(), (p / "a.txt").write_text("x"), (p / "b.csv").write_text("y")), "(2 other files"),
    (lambda p: (p.mkdir(), (p / "a.jpg").write_bytes(b"junk")), "can be read"),
    (lambda p: p.write_text("a file"), "is a file, not a folder"),
])
def test_bad_folders_name_the_folder_and_the_fix(tmp_path, setup, words):
    path = tmp_path / "input"
    setup(path)
    with pytest.raises(ZspaceError) as info:
        load_images(f"folder:{path}")
    assert str(path) in str(info.value) and words in str(info.value) and "\n" not in str(info.value)


def test_all_files_broken_is_a_clear_error(tmp_path):
    images = tmp_path / "img_align_celeba"
    images.mkdir()
    for i in range(3):
        (images / f"{i}.jpg").write_bytes(b"junk")
    with pytest.raises(ZspaceError, match="none of the 3 image files"):
        load_images(f"celeba:{images}")


def test_large_scattered_split_goes_to_its_own_memory_mapped_file(tmp_path, monkeypatch):
    make_folder(tmp_path / "pets")
    monkeypatch.setattr(cache, "IN_MEMORY_SPLIT_BYTES", 1)
    s = load_images(f"folder:{tmp_path / 'pets'}", "train")
    assert isinstance(s.images, np.memmap) and len(s) == 11
    again = load_images(f"folder:{tmp_path / 'pets'}", "train")
    np.testing.assert_array_equal(s.images, again.images)


def test_symlink_loops_are_entered_once_and_an_unwritable_cache_is_a_clear_error(tmp_path, monkeypatch):
    make_folder(tmp_path / "pets")
    (tmp_path / "pets" / "cats" / "loop").symlink_to(tmp_path / "pets")
    assert len(load_images(f"folder:{tmp_path / 'pets'}", "all")) == 12
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("ZSPACE_CACHE", str(blocker))
    with pytest.raises(ZspaceError, match="ZSPACE_CACHE"):
        load_images(f"folder:{tmp_path / 'pets'}", "all")


def test_malformed_partition_file_names_the_file_and_line(tmp_path):
    make_celeba(tmp_path / "celeba", count=4)
    (tmp_path / "celeba" / "list_eval_partition.txt").write_text("000001.jpg 0\n000002.jpg train\n")
    with pytest.raises(ZspaceError) as info:
        load_images(f"celeba:{tmp_path / 'celeba'}")
    assert "list_eval_partition.txt line 2" in str(info.value) and "delete it" in str(info.value)
