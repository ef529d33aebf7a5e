import numpy as np
import pytest

from zspace.core.errors import ZspaceError
from zspace.data import load_images


def test_uint8_array_is_memory_mapped_and_split_90_10(tmp_path):
    images = (np.arange(100, dtype=np.uint8)[:, None, None] * np.ones((1, 8, 8), np.uint8))
    np.save(tmp_path / "x.npy", images)
    everything = load_images(f"array:{tmp_path / 'x.npy'}", "all")
    assert isinstance(everything.images, np.memmap) and everything.images.shape == (100, 8, 8, 1)
    train = load_images(f"array:{tmp_path / 'x.npy'}", "train", seed=5)
    test = load_images(f"array:{tmp_path / 'x.npy'}", "test", seed=5)
    ids_train, ids_test = train.images[:, 0, 0, 0], test.images[:, 0, 0, 0]
    assert len(ids_train) == 90 and len(ids_test) == 10
    assert sorted(np.concatenate([ids_train, ids_test]).tolist()) == list(range(100))
    np.testing.assert_array_equal(load_images(f"array:{tmp_path / 'x.npy'}", "test", seed=5).images, test.images)
    assert not np.array_equal(load_images(f"array:{tmp_path / 'x.npy'}", "test", seed=6).images, test.images)


def test_float_arrays_are_scaled_and_labels_come_from_a_second_file(tmp_path):
    np.save(tmp_path / "f.npy", np.full((10, 4, 4, 3), 0.5, np.float32))
    np.save(tmp_path / "y.npy", np.arange(10))
    s = load_images(f"array:{tmp_path / 'f.npy'},labels={tmp_path / 'y.npy'}", "all")
    assert s.images.shape == (10, 4, 4, 3) and (s.images == 128).all()
    np.testing.assert_array_equal(s.labels, np.arange(10))
    np.save(tmp_path / "g.npy", np.full((3, 4, 4), 200.0))
    assert (load_images(f"array:{tmp_path / 'g.npy'}", "all").images == 200).all()


@pytest.mark.parametrize("array,words", [
    (np.zeros((4, 8, 8, 2), np.uint8), "C 1 or 3"),
    (np.zeros((8, 8), np.uint8), "(N, H, W)"),
    (np.full((4, 8, 8), 300.0), "scale them"),
    (np.zeros((4, 8, 8), np.int32), "dtype int32"),
    (np.zeros((0, 8, 8), np.uint8), "no images"),
])
def test_bad_arrays_name_the_file(tmp_path, array, words):
    np.save(tmp_path / "bad.npy", array)
    with pytest.raises(ZspaceError) as info:
        load_images(f"array:{tmp_path / 'bad.npy'}", "all")
    assert str(tmp_path / "bad.npy") in str(info.value) and words in str(info.value)


def test_not_a_npy_file_and_missing_file(tmp_path):
    (tmp_path / "notes.npy").write_text("hello")
    with pytest.raises(ZspaceError, match=r"notes\.npy is not a \.npy file"):
        load_images(f"array:{tmp_path / 'notes.npy'}")
    with pytest.raises(ZspaceError, match=r"missing\.npy does not exist"):
        load_images(f"array:{tmp_path / 'missing.npy'}")
    np.save(tmp_path / "x.npy", np.zeros((5, 4, 4), np.uint8))
    np.save(tmp_path / "y.npy", np.arange(4))
    with pytest.raises(ZspaceError, match=r"y\.npy holds"):
        load_images(f"array:{tmp_path / 'x.npy'},labels={tmp_path / 'y.npy'}")


def test_object_arrays_are_refused_without_unpickling(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ZspaceError, match=r"obj\.npy holds Python objects"):
        load_images(f"array:{tmp_path / 'obj.npy'}")
