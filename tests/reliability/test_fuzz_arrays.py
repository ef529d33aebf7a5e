"""Arrays at the door: ``zspace analyze`` inputs, Z files and ``array:`` images.

Any dtype (objects, strings, complex, bool, dates included), any number of
dimensions, NaN and infinite rows, empty arrays, wrong .npz keys, cut and
damaged bytes and headers that declare absurd sizes: each ends in a checked
result or a one-line ZspaceError naming the file, and no header makes numpy
allocate what it declares before the file is known to hold it.
"""

from __future__ import annotations

import io
import json
import tempfile
import warnings
import zipfile
from pathlib import Path

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from fuzzkit import CASES, assert_cli_user_error, assert_user_error, outcome, peak_memory, read_back, run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

from zspace.analysis.inputs import MAX_ABS_VALUE, load_latents
from zspace.analysis.tsne import TsneConfig, TsneVariant, tsne_maps
from zspace.data import load_images
from zspace.pipeline.zstore import load_zstore

pytestmark = pytest.mark.usefixtures("isolated_environment")

DTYPES = [np.float16, np.float32, np.float64, ">f8", np.int8, np.int64, np.uint8, np.uint64, ">i2", np.bool_,
          np.complex64, "U3", "S2", "datetime64[s]", "object"]
NPZ_KEYS = ["z", "mu", "logvar", "labels", "points", "x y"]


@st.composite
def latent_like(draw) -> np.ndarray:
    """An (N, d) numeric array, N and d from 0 to 8, with NaN, infinite and huge values now and then."""
    dtype = draw(st.sampled_from([np.float16, np.float32, np.float64, np.int32, np.uint8]))
    return draw(hnp.arrays(dtype, (draw(st.integers(0, 8)), draw(st.integers(0, 5)))))


@st.composite
def any_arrays(draw, max_dims: int = 3, max_side: int = 6) -> np.ndarray:
    """An array of any dtype (object arrays hold ints and strings) and 0 to ``max_dims`` dimensions."""
    dtype = draw(st.sampled_from(DTYPES))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=max_dims, min_side=0, max_side=max_side))
    if dtype == "object":
        values = draw(st.lists(st.one_of(st.integers(), st.text(max_size=3)), min_size=int(np.prod(shape)),
                               max_size=int(np.prod(shape))))
        array = np.empty(int(np.prod(shape)), dtype=object)
        array[:] = values
        return array.reshape(shape)
    return draw(hnp.arrays(np.dtype(dtype), shape))


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def npz_bytes(arrays: dict[str, np.ndarray], compressed: bool = False) -> bytes:
    buffer = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buffer, **arrays)
    return buffer.getvalue()


def finite_rows(array: np.ndarray) -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return int(np.isfinite(array.astype(np.float32)).all(axis=1).sum())


def assert_latents(result, n_rows: int | None = None) -> None:
    z = result.z
    assert z.dtype == np.float32 and z.ndim == 2 and z.shape[0] >= 2 and z.shape[1] >= 2
    assert np.isfinite(z).all() and np.abs(z).max() <= MAX_ABS_VALUE
    assert result.n_rows_read - result.n_rows_dropped_nonfinite == z.shape[0]
    if n_rows is not None:
        assert result.n_rows_read == n_rows
    for extra in (result.mu, result.logvar):
        assert extra is None or (extra.shape == z.shape and extra.dtype == np.float32)
    assert result.labels is None or (result.labels.shape == (z.shape[0],) and result.labels.dtype == np.int64)


# ---------------------------------------------------------------------------------------------
# zspace analyze: load_latents


@settings(max_examples=150)
@given(latent_like() | any_arrays())
def test_npy_of_any_array_gives_checked_latents_or_one_line_error(array):
    CASES.tick()
    result = read_back(load_latents, "points.npy", npy_bytes(array))
    if result is None:
        return
    assert array.ndim == 2 and array.dtype.kind in "fiu"
    assert_latents(result, n_rows=array.shape[0])
    assert result.n_points == finite_rows(array) or np.abs(array.astype(np.float64)).max() > MAX_ABS_VALUE


@settings(max_examples=120)
@given(st.dictionaries(st.sampled_from(NPZ_KEYS), latent_like() | any_arrays(), max_size=4) |
       st.fixed_dictionaries({"z": latent_like()}, optional={"labels": any_arrays(max_dims=1)}),
       st.none() | st.sampled_from(NPZ_KEYS), st.booleans())
def test_npz_with_any_keys_gives_checked_latents_or_one_line_error(arrays, key, compressed):
    CASES.tick()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "Z.npz"
        path.write_bytes(npz_bytes(arrays, compressed))
        result, error = outcome(load_latents, path, key)
    if error is not None:
        assert_user_error(error, str(path))
        return
    assert_latents(result)


@settings(max_examples=60)
@given(n=st.integers(0, 12), d=st.integers(0, 4), nan_rows=st.sets(st.integers(0, 11)),
       constant=st.booleans(), duplicate=st.booleans(), scale=st.sampled_from([1.0, 1e6, 1e13, 1e-30]))
def test_nan_rows_constant_and_duplicate_columns(n, d, nan_rows, constant, duplicate, scale):
    CASES.tick()
    z = np.random.default_rng(n * 7 + d).normal(size=(n, d)) * scale
    if constant and d:
        z[:, 0] = 3.0
    if duplicate and d > 1:
        z[:, -1] = z[:, 0]
    for row in nan_rows:
        if row < n:
            z[row, row % max(d, 1) if d else 0:] = np.nan
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "z.npy"
        np.save(path, z)
        result, error = outcome(load_latents, path)
    if error is not None:
        text = assert_user_error(error, str(path))
        assert d < 2 or finite_rows(z) < 2 or scale > MAX_ABS_VALUE, text
        return
    assert_latents(result, n_rows=n)
    assert result.n_points == finite_rows(z)


# ---------------------------------------------------------------------------------------------
# Damaged bytes and absurd headers, for every array reader


def _readers(path: Path):
    """Every reader of user arrays, as (name, call) pairs."""
    return [("load_latents", lambda: load_latents(path)), ("load_zstore", lambda: load_zstore(path)),
            ("array source", lambda: load_images(f"array:{path}", "all", cache_dir=path.parent / "cache"))]


def _valid_arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {"z": rng.normal(size=(6, 3)).astype(np.float32), "index": np.arange(6), "labels": np.arange(6) % 2,
            "meta": np.array(json.dumps({"epoch": 1}))}


@settings(max_examples=120)
@given(kind=st.sampled_from(["npy", "npz", "npz-compressed", "random"]), cut=st.none() | st.integers(0, 2000),
       flips=st.lists(st.tuples(st.integers(0, 2000), st.integers(1, 255)), max_size=3),
       random_bytes=st.binary(max_size=300))
def test_cut_and_damaged_files_are_read_or_refused_in_one_line(kind, cut, flips, random_bytes):
    CASES.tick()
    if kind == "npy":
        payload = npy_bytes(np.random.default_rng(1).integers(0, 255, (6, 4, 4), dtype=np.uint8))
    elif kind == "random":
        payload = random_bytes
    else:
        payload = npz_bytes(_valid_arrays(), compressed=kind == "npz-compressed")
    data = bytearray(payload[:cut] if cut is not None else payload)
    for offset, mask in flips:
        if offset < len(data):
            data[offset] ^= mask
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"input.{'npy' if kind == 'npy' else 'npz'}"
        path.write_bytes(bytes(data))
        for name, read in _readers(path):
            with peak_memory(1100 * len(data) + (4 << 20)):
                result, error = outcome(read)
            if error is not None:
                assert_user_error(error, str(path))
            else:
                assert result is not None, name


@st.composite
def absurd_headers(draw) -> bytes:
    shape = tuple(draw(st.lists(st.sampled_from([0, 1, 7, 2 ** 20, 2 ** 31, 2 ** 40, 2 ** 62]), min_size=1,
                                max_size=3)))
    descr = draw(st.sampled_from(["<f8", "<f4", "|u1", "<i8", "|S0", "|V0", "<U4"]))
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": descr, "fortran_order": False, "shape": shape})
    return header.getvalue() + draw(st.binary(max_size=64))


@settings(max_examples=80)
@given(absurd_headers(), st.booleans(), st.sampled_from(["z", "index", "labels"]))
def test_headers_declaring_absurd_sizes_allocate_nothing(npy, inside_npz, member):
    """A tiny file whose header declares terabytes is refused from its size (npy, and npz members)."""
    CASES.tick()
    with tempfile.TemporaryDirectory() as tmp:
        if inside_npz:
            path = Path(tmp) / "Z.npz"
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w") as archive:
                archive.writestr(f"{member}.npy", npy)
                if member != "z":
                    archive.writestr("z.npy", npy_bytes(np.zeros((4, 2), np.float32)))
            path.write_bytes(buffer.getvalue())
        else:
            path = Path(tmp) / "z.npy"
            path.write_bytes(npy)
        for name, read in _readers(path):
            with peak_memory(1 << 20):
                result, error = outcome(read)
            if error is not None:
                assert_user_error(error, str(path))
            else:  # only headers that declare what the file holds (a zero size) can be read
                assert result is not None, name


# ---------------------------------------------------------------------------------------------
# Z files


@st.composite
def z_files(draw) -> dict[str, np.ndarray]:
    n, d, f = draw(st.integers(0, 5)), draw(st.integers(1, 4)), draw(st.integers(0, 3))
    right = {"z": np.zeros((n, d), np.float32), "mu": np.zeros((n, d), np.float32),
             "logvar": np.zeros((n, d), np.float32), "labels": np.arange(n), "index": np.arange(n),
             "factors": np.zeros((n, f), np.float32), "factor_names": np.array([f"f{i}" for i in range(f)]),
             "meta": np.array(json.dumps({"epoch": 3}))}
    arrays = {}
    keys = draw(st.sets(st.sampled_from(sorted(right) + ["extra"]))) | ({"z"} if draw(st.integers(0, 4)) else set())
    for key in keys:
        arrays[key] = right.get(key, np.zeros(1)) if draw(st.integers(0, 5)) else draw(any_arrays(max_side=4))
    if "meta" in arrays and draw(st.booleans()):
        arrays["meta"] = np.array(draw(st.text(max_size=20) | st.just("[1, 2]") | st.just('{"a": 1}')))
    return arrays


@settings(max_examples=120)
@given(z_files())
def test_z_files_give_a_checked_store_or_one_line_error(arrays):
    CASES.tick()
    store = read_back(load_zstore, "z_test.npz", npz_bytes(arrays))
    if store is None:
        return
    n, d = store.z.shape
    assert store.z.dtype.kind in "fiu" and store.index.shape == (n,) and store.index.dtype.kind in "iu"
    assert store.mu is None or store.mu.shape == (n, d)
    assert store.logvar is None or store.logvar.shape == (n, d)
    assert store.labels is None or (store.labels.shape == (n,) and store.labels.dtype.kind in "iu")
    assert store.factors is None or (store.factors.ndim == 2 and len(store.factors) == n
                                     and len(store.factor_names) == store.factors.shape[1])
    assert isinstance(store.meta, dict)


# ---------------------------------------------------------------------------------------------
# array:FILE.npy images


@st.composite
def image_arrays(draw) -> np.ndarray:
    if draw(st.integers(0, 3)) == 0:
        return draw(any_arrays(max_dims=5, max_side=4))
    dtype = draw(st.sampled_from([np.uint8, np.float32, np.float64, np.int16, np.bool_]))
    shape = (draw(st.integers(0, 4) | st.integers(1, 4)), draw(st.integers(0, 5)), draw(st.integers(0, 5))) + \
        tuple(draw(st.lists(st.integers(1, 4), max_size=1)))
    elements = None
    if dtype in (np.float32, np.float64):  # within [0, 1] or [0, 255], or out of range, NaN, infinite
        elements = draw(st.sampled_from([st.floats(0, 1, width=32), st.floats(0, 255, width=32),
                                         st.floats(-1, 300, width=32) | st.sampled_from([np.nan, np.inf])]))
    return draw(hnp.arrays(dtype, shape, elements=elements))


@settings(max_examples=100)
@given(images=image_arrays(), labels=st.none() | any_arrays(max_dims=2),
       split=st.sampled_from(["all", "train", "test"]))
def test_array_source_gives_uint8_images_or_one_line_error(images, labels, split):
    CASES.tick()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "images.npy"
        path.write_bytes(npy_bytes(images))
        spec = f"array:{path}"
        if labels is not None:
            (Path(tmp) / "labels.npy").write_bytes(npy_bytes(labels))
            spec += f",labels={Path(tmp) / 'labels.npy'}"
        result, error = outcome(load_images, spec, split, cache_dir=Path(tmp) / "cache")
        if error is not None:
            assert_user_error(error, tmp)
            return
        out = np.asarray(result.images)
    assert out.dtype == np.uint8 and out.ndim == 4 and out.shape[3] in (1, 3)
    assert out.shape[1] >= 1 and out.shape[2] >= 1 and out.shape[1:3] == images.shape[1:3]
    assert len(out) <= len(images) and (split != "all" or len(out) == len(images) >= 1)
    assert result.labels is None or (result.labels.dtype == np.int64 and result.labels.shape == (len(out),))


# ---------------------------------------------------------------------------------------------
# The analyses on what passed the door: N below k, constant and duplicate columns, NaN rows


@st.composite
def small_latents(draw) -> np.ndarray:
    n, d = draw(st.integers(2, 40)), draw(st.integers(2, 4))
    z = np.random.default_rng(draw(st.integers(0, 99))).normal(size=(n, d))
    for column in range(d):
        pattern = draw(st.sampled_from(["normal", "constant", "copy", "integers", "tiny"]))
        if pattern == "constant":
            z[:, column] = -1.5
        elif pattern == "copy":
            z[:, column] = z[:, 0]
        elif pattern == "integers":
            z[:, column] = np.round(z[:, column])
        elif pattern == "tiny":
            z[:, column] *= 1e-30
    if draw(st.booleans()):
        z[draw(st.integers(0, n - 1))] = np.nan
    if draw(st.booleans()):
        z[n // 2:] = z[0]
    return z.astype(draw(st.sampled_from([np.float32, np.float64])))


@settings(max_examples=25)
@given(z=small_latents(), seed=st.integers(0, 2 ** 32 - 1),
       only=st.none() | st.lists(st.sampled_from(["axes", "radius", "inertia", "pca", "planes", "scatter2d"]),
                                 min_size=1, max_size=3, unique=True))
def test_analyze_runs_or_refuses_tiny_and_degenerate_inputs(z, seed, only):
    CASES.tick()
    with tempfile.TemporaryDirectory() as tmp:
        path, out = Path(tmp) / "z.npy", Path(tmp) / "out"
        np.save(path, z)
        argv = ["analyze", path, "--out", out, "--no-figures", "--seed", seed] + (["--only", ",".join(only)] if only
                                                                                    else [])
        code, _, err = run_cli(argv)
        if code == 0:
            report = json.loads((out / "analysis.json").read_text())
            assert report["complete"] and report["input"]["n_points"] == finite_rows(z)
            assert set(report["analyses"]) == (set(only) if only else set(report["analyses"]))
            return
    line = assert_cli_user_error(code, err)
    assert str(path) in line or "--only" in line, line


def test_analyze_draws_figures_of_constant_and_duplicate_columns(tmp_path):
    z = np.random.default_rng(0).normal(size=(30, 3))
    z[:, 1], z[:, 2] = 0.25, z[:, 0]
    np.save(tmp_path / "z.npy", z)
    code, _, err = run_cli(["analyze", tmp_path / "z.npy", "--out", tmp_path / "out", "--only", "axes,radius,pca"])
    assert code == 0, err
    report = json.loads((tmp_path / "out" / "analysis.json").read_text())
    assert report["complete"] and all(report["figures"][name] for name in ("axes", "radius", "pca"))


def test_tsne_of_identical_points_does_not_crash_the_process():
    """openTSNE's PCA initialisation divides by a zero spread; the NaNs used to segfault its FFT code."""
    config = TsneConfig(variants=(TsneVariant(n_iter=40, early_exaggeration_iter=20),), knn_queries=50)
    result = tsne_maps(np.ones((120, 3), np.float32), config, seed=0, show_progress=False)
    assert result.maps[0].embedding.shape == (120, 2) and np.isfinite(result.maps[0].embedding).all()
