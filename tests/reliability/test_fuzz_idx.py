"""IDX files (MNIST format) at the door: damaged, foreign or absurd files end in a one-line ZspaceError.

A file is an IDX header (magic ``00 00 TT DD``, then DD big-endian uint32
sizes) followed by the data; the strategies build such files with any type
code, any number of dimensions and any sizes (up to 2^32 - 1), then cut,
extend, flip or gzip them.
"""

from __future__ import annotations

import gzip
import tempfile
from pathlib import Path

import numpy as np
import pytest
from fuzzkit import CASES, assert_user_error, outcome, peak_memory
from hypothesis import given, settings
from hypothesis import strategies as st

from zspace.data import load_images
from zspace.data.idx import IDX_DTYPES, read_idx

pytestmark = pytest.mark.usefixtures("isolated_environment")

DIMENSION = st.one_of(st.integers(0, 6), st.integers(1, 6), st.sampled_from([2 ** 16, 2 ** 31, 2 ** 32 - 1]))


@st.composite
def idx_files(draw) -> tuple[bytes, tuple[int, ...] | None, np.dtype | None]:
    """(file bytes, declared shape, dtype); shape and dtype are None once the bytes were damaged."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=64)), None, None
    if draw(st.booleans()):  # a right file, raw or gzip
        code = draw(st.sampled_from(sorted(IDX_DTYPES)))
        shape = tuple(draw(st.lists(st.integers(1, 6), min_size=1, max_size=4)))
        payload = bytes([0, 0, code, len(shape)]) + np.asarray(shape, dtype=">u4").tobytes() + \
            draw(st.binary(min_size=int(np.prod(shape)) * IDX_DTYPES[code].itemsize,
                           max_size=int(np.prod(shape)) * IDX_DTYPES[code].itemsize))
        return (gzip.compress(payload, mtime=0) if draw(st.booleans()) else payload), shape, IDX_DTYPES[code]
    code = draw(st.one_of(st.sampled_from(sorted(IDX_DTYPES)), st.integers(0, 255)))
    shape = tuple(draw(st.lists(DIMENSION, min_size=0, max_size=4)))
    header = bytes([0, 0, code, len(shape)]) + np.asarray(shape, dtype=">u4").tobytes()
    dtype = IDX_DTYPES.get(code)
    needed = int(np.prod(shape, dtype=object)) * dtype.itemsize if dtype is not None and shape else 0
    # the right amount of data (when it is small), none, half, or extra bytes
    size = min(draw(st.sampled_from([needed, needed, needed, 0, needed // 2, needed + 3])), 4096)
    payload = header + draw(st.binary(min_size=size, max_size=size))
    intact = size == needed
    damage = draw(st.sampled_from(["none", "none", "cut", "flip"]))
    if damage == "cut":
        cut = draw(st.integers(0, len(payload)))
        payload, intact = payload[:cut], intact and cut == len(payload)
    elif damage == "flip" and payload:
        flip = draw(st.integers(0, len(payload) - 1))
        payload = payload[:flip] + bytes([payload[flip] ^ draw(st.integers(1, 255))]) + payload[flip + 1:]
        intact = False
    if draw(st.booleans()):
        payload = gzip.compress(payload, mtime=0)
        if draw(st.integers(0, 3)) == 0:
            gz_cut = draw(st.integers(0, len(payload)))
            payload, intact = payload[:gz_cut], intact and gz_cut == len(payload)
    intact = intact and dtype is not None and len(shape) > 0  # the format has no 0-dimensional arrays
    return payload, shape if intact else None, dtype if intact else None


@settings(max_examples=250)
@given(idx_files())
def test_read_idx_returns_the_declared_array_or_one_line_error(case):
    CASES.tick()
    payload, shape, dtype = case
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "train-images-idx3-ubyte"
        path.write_bytes(payload)
        # a damaged header must be refused from the file size, never allocate what it declares
        with peak_memory(3 * 1100 * len(payload) + (1 << 20)):
            array, error = outcome(read_idx, path)
    if error is not None:
        assert_user_error(error, str(path), "IDX file")
        assert shape is None or 0 in shape, f"refused an undamaged file: {error}"
        return
    assert isinstance(array, np.ndarray) and 1 <= array.ndim <= 255
    assert array.nbytes <= 1100 * len(payload)
    if shape is not None:  # undamaged: exactly what the header declares
        assert array.shape == shape and array.dtype == dtype.newbyteorder("=")


@settings(max_examples=40)
@given(st.lists(st.sampled_from([2 ** 31, 2 ** 32 - 1, 2 ** 20]), min_size=2, max_size=3),
       st.sampled_from(sorted(IDX_DTYPES)), st.booleans())
def test_absurd_declared_sizes_are_refused_before_allocating(shape, code, compressed):
    CASES.tick()
    payload = bytes([0, 0, code, len(shape)]) + np.asarray(shape, dtype=">u4").tobytes() + bytes(64)
    if compressed:
        payload = gzip.compress(payload, mtime=0)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t10k-images-idx3-ubyte.gz"
        path.write_bytes(payload)
        with peak_memory(1 << 20):
            _, error = outcome(read_idx, path)
    assert_user_error(error, str(path), "truncated")


def _write_split(directory: Path, images: np.ndarray, labels: np.ndarray, compress: bool) -> None:
    from zspace.data.idx import write_idx

    suffix = ".gz" if compress else ""
    write_idx(directory / f"train-images-idx3-ubyte{suffix}", images, compress=compress)
    write_idx(directory / f"train-labels-idx1-ubyte{suffix}", labels, compress=compress)


@st.composite
def mnist_cases(draw) -> dict:
    """Arguments of one MNIST split: half of them right, the others with any dtype, shape or size option."""
    if draw(st.booleans()):
        n, height, width = draw(st.integers(1, 4)), draw(st.integers(1, 5)), draw(st.integers(1, 5))
        return dict(valid=True, n=n, height=height, width=width, n_labels=n, image_dtype=np.uint8,
                    label_dtype=draw(st.sampled_from([np.uint8, np.dtype(">i4")])), compress=draw(st.booleans()),
                    image_size=draw(st.sampled_from([None, height])) if height >= 4 else None)
    n = draw(st.integers(0, 4))
    return dict(valid=False, n=n, height=draw(st.integers(0, 5)), width=draw(st.integers(0, 5)),
                n_labels=max(n + draw(st.sampled_from([0, 1, -1])), 0),
                image_dtype=draw(st.sampled_from([np.uint8, np.int8, np.dtype(">i2"), np.dtype(">f4")])),
                label_dtype=draw(st.sampled_from([np.uint8, np.dtype(">i4"), np.dtype(">f8")])),
                compress=draw(st.booleans()), image_size=draw(st.sampled_from([None, -1, 0, 4, 5])))


@settings(max_examples=80)
@given(mnist_cases())
def test_mnist_source_gives_a_valid_set_or_one_line_error(monkeypatch, case):
    """``load_images("mnist")`` on IDX files of any dtype and shape found in $ZSPACE_DATA."""
    CASES.tick()
    n, height, width, image_size = case["n"], case["height"], case["width"], case["image_size"]
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "mnist"
        data.mkdir()
        images = np.arange(n * height * width).reshape(n, height, width).astype(case["image_dtype"])
        labels = (np.arange(case["n_labels"]) % 10).astype(case["label_dtype"])
        _write_split(data, images, labels, case["compress"])
        monkeypatch.setenv("ZSPACE_DATA", tmp)
        result, error = outcome(load_images, "mnist", "train", image_size=image_size, cache_dir=Path(tmp) / "c")
    if error is not None:
        text = assert_user_error(error)
        assert not case["valid"], text
        assert "IDX file" in text or "--data" in text or "image size" in text, text
        return
    assert result.images.dtype == np.uint8 and result.images.shape == (n, height, width, 1) and n >= 1
    assert result.labels.dtype == np.int64 and result.labels.shape == (n,)
    np.testing.assert_array_equal(result.images[..., 0], images)
