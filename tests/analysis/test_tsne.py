"""t-SNE keeps more of the kNN neighbourhood of blob data than a random projection."""

import numpy as np

from zspace.analysis import TsneConfig, TsneVariant, knn_preservation, tsne_maps


def test_defaults_follow_spec():
    cfg = TsneConfig()
    assert cfg.sample_size == 20000
    assert [(v.early_exaggeration, v.perplexity, v.n_iter) for v in cfg.variants] == [(12, 30, 1000), (16, 10, 1000)]


def test_knn_preservation_known_values():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((500, 5))
    assert knn_preservation(x, x * 3 + 1, k=10) == 1.0  # similarity keeps every neighbour
    shuffled = x[rng.permutation(500)]
    assert knn_preservation(x, shuffled, k=10) < 0.1  # unrelated map: about k / n = 0.02


def test_tsne_beats_a_random_projection_on_blobs():
    rng = np.random.default_rng(0)
    centres = rng.uniform(-10, 10, size=(5, 20))
    z = (np.repeat(centres, 160, axis=0) + rng.standard_normal((800, 20))).astype(np.float32)
    cfg = TsneConfig(sample_size=600, variants=(TsneVariant(12, 30, 300, 100),), knn_queries=600)
    result = tsne_maps(z, cfg, show_progress=False)
    (m,) = result.maps
    assert m.embedding.shape == (600, 2) and result.sample_index.shape == (600,)
    sample = z[result.sample_index]
    random_map = sample @ rng.standard_normal((20, 2))
    baseline = knn_preservation(sample, random_map, k=10, n_queries=600)
    assert m.knn_preservation > baseline + 0.1
    assert "embedding" not in result.to_json()["maps"][0]
