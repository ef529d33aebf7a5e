"""Latent sets larger than memory: memory-mapped inputs, shard directories, and analyses that stream.

The chunked paths are forced with tiny row blocks (``chunked_by``) and compared with the same analyses on
the whole array in memory, and with independent numpy computations.
"""

import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zspace.analysis import load_latents, run_battery
from zspace.analysis.axes import axis_density
from zspace.analysis.battery import BatteryConfig
from zspace.analysis.columns import column_moments, column_quantiles
from zspace.analysis.inputs import from_arrays
from zspace.analysis.tsne import TsneVariant
from zspace.analysis.pca import fit_pca
from zspace.analysis.planes import PlanesConfig, plane_views
from zspace.analysis.radius import radius_density
from zspace.core.arrays import RowStore
from zspace.core.errors import ZspaceError
from zspace.core.rows import chunked_by


def cloud(n=3000, d=12, seed=0):
    """A skewed, off-centre Gaussian cloud with one atom column (half zeros) and an outlier."""
    rng = np.random.default_rng(seed)
    z = (rng.standard_normal((n, d)) * rng.uniform(0.5, 2.0, d) + rng.uniform(-1, 1, d)).astype(np.float32)
    z[: n // 2, 3] = 0.0
    z[7, d - 1] = 40.0
    return z


# -- RowStore ------------------------------------------------------------------------------------


def test_row_store_reads_like_the_concatenated_array():
    z = cloud(1000, 5)
    parts = [z[:333].astype(np.float64), z[333:334].astype(np.float64), z[334:].astype(np.float64)]
    store = RowStore(parts)
    assert store.shape == (1000, 5) and len(store) == 1000
    for key in (slice(0, 1000), slice(300, 400), slice(333, 335), slice(990, 2000), slice(5, 5)):
        np.testing.assert_array_equal(store[key], z[key])
    rng = np.random.default_rng(1)
    index = rng.integers(0, 1000, 300)  # unsorted, with repeats
    np.testing.assert_array_equal(store[index], z[index])
    np.testing.assert_array_equal(store[-1], z[-1])
    np.testing.assert_array_equal(store[::7], z[::7])
    assert store[10:20].dtype == np.float32 and store[10:20].flags.writeable


def test_row_store_restricted_to_kept_rows():
    z = cloud(500, 4)
    keep = np.sort(np.random.default_rng(2).choice(500, 420, replace=False))
    store = RowStore([z[:200], z[200:]]).select(keep)
    assert store.shape == (420, 4)
    np.testing.assert_array_equal(np.asarray(store), z[keep])
    np.testing.assert_array_equal(store[100:300], z[keep][100:300])
    np.testing.assert_array_equal(store[[5, 3, 400]], z[keep][[5, 3, 400]])
    np.testing.assert_array_equal(store.select(np.arange(0, 420, 2))[:], z[keep][::2])
    with pytest.raises(IndexError):
        store[np.array([420])]
    with pytest.raises(TypeError, match="read by rows"):
        store[:, 0]


@settings(max_examples=150, deadline=None)
@given(sizes=st.lists(st.integers(0, 40), min_size=1, max_size=5), data=st.data())
def test_row_store_equals_numpy_for_any_parts_kept_rows_and_reads(sizes, data):
    total = sum(sizes)
    z = np.arange(total * 3, dtype=np.float64).reshape(total, 3) * 0.5
    parts = np.split(z, np.cumsum(sizes)[:-1])
    keep = np.flatnonzero(np.array(data.draw(st.lists(st.booleans(), min_size=total, max_size=total)), bool))
    store, reference = RowStore(parts).select(keep), z[keep].astype(np.float32)
    n = len(reference)
    start = data.draw(st.integers(-n - 2, n + 2))
    stop = data.draw(st.integers(-n - 2, n + 2))
    step = data.draw(st.sampled_from([None, 1, 2, 5]))
    np.testing.assert_array_equal(store[start:stop:step], reference[start:stop:step])
    if n:
        index = np.array(data.draw(st.lists(st.integers(-n, n - 1), max_size=30)), dtype=np.int64)
        np.testing.assert_array_equal(store[index], reference[index])


# -- exact streaming quantiles -------------------------------------------------------------------


@pytest.mark.parametrize("chunk", [1, 97, 100000])
def test_column_quantiles_equal_numpy_percentile(chunk):
    z = cloud(2001, 9)
    z[:, 8] = 2.5  # a constant column
    with chunked_by(chunk):
        got = column_quantiles(z, (0, 10, 25, 50, 75, 100))
        moments = column_moments(z)
    np.testing.assert_allclose(got, np.percentile(z.astype(np.float64), [0, 10, 25, 50, 75, 100], axis=0),
                               rtol=0, atol=1e-6)
    np.testing.assert_allclose(moments.mean, z.astype(np.float64).mean(axis=0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(moments.std, z.astype(np.float64).std(axis=0), rtol=1e-9)
    np.testing.assert_array_equal(moments.min, z.min(axis=0))


def test_crowded_bins_are_narrowed_to_the_exact_value(monkeypatch):
    """With a tiny collection limit every bin is 'crowded', so the narrowing passes are the ones tested."""
    import zspace.analysis.columns as columns

    monkeypatch.setattr(columns, "COLLECT_LIMIT", 5)
    z = cloud(1500, 6)
    z[:, 1] = np.round(z[:, 1], 1)  # many ties
    z[:, 2] *= 1e-6  # a narrow column
    with chunked_by(211):
        got = columns.column_quantiles(z, (25, 50, 75))
    np.testing.assert_allclose(got, np.percentile(z.astype(np.float64), [25, 50, 75], axis=0), rtol=0, atol=1e-12)


# -- inputs: memory maps, .npz members, shard directories ------------------------------------


def test_npy_is_memory_mapped_and_read_in_blocks(tmp_path):
    z = cloud(800, 6)
    np.save(tmp_path / "z.npy", z)
    latents = load_latents(tmp_path / "z.npy")
    assert isinstance(latents.z, RowStore) and isinstance(latents.z.parts[0], np.memmap)
    assert latents.summary()["storage"].startswith("memory-mapped")
    np.testing.assert_array_equal(np.asarray(latents.z), z)


def test_nonfinite_rows_of_a_memory_map_are_dropped_without_a_copy(tmp_path):
    z = cloud(600, 5).astype(np.float64)
    z[[4, 300, 599], 2] = [np.nan, np.inf, -np.inf]
    z[10, 0] = 1e300  # beyond float32: infinite after the conversion, dropped like the in-memory path
    np.save(tmp_path / "z.npy", z)
    labels = np.arange(600)
    np.save(tmp_path / "labels.npy", labels)
    latents = load_latents(tmp_path / "z.npy")
    assert latents.n_rows_dropped_nonfinite == 4 and latents.n_points == 596
    assert isinstance(latents.z, RowStore) and latents.z.keep is not None
    kept = np.setdiff1d(np.arange(600), [4, 10, 300, 599])
    np.testing.assert_array_equal(np.asarray(latents.z), z[kept].astype(np.float32))
    memory = from_arrays(z)
    np.testing.assert_array_equal(memory.z, np.asarray(latents.z))


def test_uncompressed_npz_members_are_mapped_compressed_ones_loaded(tmp_path):
    z = cloud(400, 4)
    np.savez(tmp_path / "a.npz", z=z, mu=z, logvar=np.zeros_like(z), labels=np.arange(400))
    np.savez_compressed(tmp_path / "b.npz", z=z)
    a, b = load_latents(tmp_path / "a.npz"), load_latents(tmp_path / "b.npz")
    assert isinstance(a.z, RowStore) and isinstance(a.mu, RowStore) and a.labels.dtype == np.int64
    assert isinstance(b.z, np.ndarray)
    np.testing.assert_array_equal(np.asarray(a.z), z)
    np.testing.assert_array_equal(b.z, z)


def write_shards(directory, z, sizes, prefix="emb_"):
    directory.mkdir(exist_ok=True)
    start = 0
    for i, size in enumerate(sizes):
        np.save(directory / f"{prefix}{i:04d}.npy", z[start:start + size])
        start += size


def test_shard_directory_is_one_array_in_name_order(tmp_path):
    z = cloud(1000, 6)
    write_shards(tmp_path / "emb", z, [300, 1, 450, 249])
    np.save(tmp_path / "emb" / "labels.npy", np.arange(1000) % 7)
    (tmp_path / "emb" / "notes.txt").write_text("not a shard")
    latents = load_latents(tmp_path / "emb")
    assert latents.n_points == 1000 and len(latents.z.parts) == 4
    np.testing.assert_array_equal(np.asarray(latents.z), z)
    np.testing.assert_array_equal(latents.labels, np.arange(1000) % 7)
    assert "4 shards" in latents.source


@pytest.mark.parametrize("damage, message", [
    (lambda d: np.save(d / "emb_0001.npy", np.zeros((10, 5), np.float32)), "d = 5 columns"),
    (lambda d: np.save(d / "emb_0001.npy", np.zeros((10, 6), np.float64)), "is float64 but emb_0000.npy"),
    (lambda d: np.save(d / "emb_0001.npy", np.array(["a", "b"])), "real-valued"),
    (lambda d: (d / "emb_0001.npy").write_bytes((d / "emb_0001.npy").read_bytes()[:-10]), "truncated"),
    (lambda d: np.save(d / "emb_0001.npy", np.array([{}, {}], dtype=object), allow_pickle=True), "pickle"),
])
def test_a_broken_shard_is_named_in_one_line(tmp_path, damage, message):
    write_shards(tmp_path / "emb", cloud(300, 6), [100, 100, 100])
    damage(tmp_path / "emb")
    with pytest.raises(ZspaceError) as info:
        load_latents(tmp_path / "emb")
    text = str(info.value)
    assert message in text and "emb_0001.npy" in text and "\n" not in text


def test_a_directory_without_shards_says_what_to_put_there(tmp_path):
    (tmp_path / "empty").mkdir()
    np.save(tmp_path / "empty" / "labels.npy", np.arange(3))
    with pytest.raises(ZspaceError, match="no .npy shards"):
        load_latents(tmp_path / "empty")


# -- the streamed battery equals the in-memory battery ---------------------------------------------


def small_battery_config():
    cfg = BatteryConfig(figures=False)
    cfg.tsne.sample_size = 300
    # t-SNE is compared by the rows it picks, not by its map: a short descent (openTSNE's FFT gradient costs
    # ~10 ms an iteration even at 300 points) keeps that proof and saves about a minute
    cfg.tsne.variants = (TsneVariant(12, 30, 60, 20),)
    cfg.pca.tsne_components = (2,)
    cfg.pca.tsne_sample_size = 200
    cfg.inertia.k_values = (2, 4, 8)
    cfg.inertia.chunk_rows = 113
    cfg.planes.pca_pairs = ((1, 2),)
    cfg.planes.axis_pairs = ((0, 3),)
    return cfg


def test_streamed_battery_equals_in_memory_battery(tmp_path):
    z = cloud(2500, 10)
    mu, logvar = z + 0.01, np.full_like(z, -3.0)
    np.save(tmp_path / "z.npy", z)
    np.save(tmp_path / "mu.npy", mu)
    np.save(tmp_path / "logvar.npy", logvar)
    np.save(tmp_path / "labels.npy", np.arange(2500) % 3)
    memory = run_battery(from_arrays(z, mu, logvar, np.arange(2500) % 3), config=small_battery_config())
    with chunked_by(97):
        streamed = run_battery(load_latents(tmp_path), config=small_battery_config())
    a, b = memory["results"], streamed["results"]
    np.testing.assert_array_equal(a["axes"].counts, b["axes"].counts)
    np.testing.assert_array_equal(a["axes"].centre, b["axes"].centre)
    np.testing.assert_array_equal(a["axes"].width, b["axes"].width)
    for ha, hb in zip(a["radius"].histograms, b["radius"].histograms):
        np.testing.assert_array_equal(ha.counts, hb.counts)
    np.testing.assert_allclose(a["pca"].explained_variance, b["pca"].explained_variance, rtol=1e-6)
    np.testing.assert_allclose(a["inertia"].inertia, b["inertia"].inertia, rtol=1e-2)
    assert [v.counts_inside for v in a["planes"].views] == [v.counts_inside for v in b["planes"].views]
    assert a["vae"].headline() == pytest.approx(b["vae"].headline(), rel=1e-9)
    np.testing.assert_array_equal(a["tsne"].sample_index, b["tsne"].sample_index)
    # and against independent computations
    np.testing.assert_allclose(b["axes"].centre, np.median(z, axis=0), atol=1e-6)
    eig = np.sort(np.linalg.eigvalsh(np.cov(z.astype(np.float64), rowvar=False)))[::-1]
    np.testing.assert_allclose(b["pca"].explained_variance, eig, rtol=1e-6)


def test_planes_count_all_points_but_show_a_seeded_sample():
    z = cloud(5000, 6)
    with chunked_by(333):
        result = plane_views(z, PlanesConfig(pca_pairs=(), axis_pairs=((0, 1),), max_points=700), seed=3)
    view = result.views[0]
    reach = np.abs(z[:, [0, 1]]).max(axis=1)
    assert view.counts_inside == [int((reach <= h).sum()) for h in view.half_widths]
    assert view.n_points_shown == 700 and len(np.unique(view.rows)) == 700
    np.testing.assert_array_equal(view.points, z[view.rows][:, [0, 1]])
    scatter = result.scatters()["plane_axes_0_1"]
    np.testing.assert_array_equal(scatter.index, view.rows)


def memmap_cloud(path, n, d):
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, d))
    rng = np.random.default_rng(0)
    for start in range(0, n, 20_000):
        out[start:start + 20_000] = rng.standard_normal((min(20_000, n - start), d), dtype=np.float32)
    out.flush()
    return load_latents(path)


def traced_peak(latents) -> tuple[int, dict]:
    """Peak bytes numpy allocated (numpy reports to tracemalloc) while the streaming analyses ran."""
    tracemalloc.start()
    try:
        with chunked_by(4096):  # several full blocks at both sizes
            results = {"axes": axis_density(latents.z), "radius": radius_density(latents.z),
                       "pca": fit_pca(latents.z)}
            plane_views(latents.z, PlanesConfig(axis_pairs=((0, 1),), max_points=5_000), results["pca"])
        return tracemalloc.get_traced_memory()[1], results
    finally:
        tracemalloc.stop()


def test_streaming_analyses_hold_a_few_blocks_not_the_array(tmp_path):
    """4x the rows costs the per-row vectors (radii: tens of bytes a row), not the 1 KiB rows of z."""
    d = 256
    small_peak, _ = traced_peak(memmap_cloud(tmp_path / "small.npy", 20_000, d))
    peak, results = traced_peak(memmap_cloud(tmp_path / "big.npy", 80_000, d))
    per_extra_row = (peak - small_peak) / 60_000
    assert per_extra_row < 64, f"{per_extra_row:.0f} bytes per extra row; a row of z is {4 * d} bytes"
    # and the answers are those of a standard normal cloud: median 0, IQR/1.349 = 1, radius peak near sqrt(d - 1)
    axes, radius, pca = results["axes"], results["radius"], results["pca"]
    assert np.abs(axes.centre).max() < 0.03 and np.abs(axes.width - 1).max() < 0.03
    assert abs(radius.histograms[0].peak_radius - np.sqrt(d - 1)) < 0.5
    ratio = d / 80_000  # Marchenko-Pastur: the spectrum of a white cloud fills [(1 - sqrt(c))^2, (1 + sqrt(c))^2]
    low, high = (1 - np.sqrt(ratio)) ** 2, (1 + np.sqrt(ratio)) ** 2
    assert low - 0.02 < pca.explained_variance.min() and pca.explained_variance.max() < high + 0.02
