import numpy as np
import pytest

from zspace.data import load_images
from zspace.data.shapes import KIND_NAMES, factor_colours, make_shapes


def test_default_set_is_28x28_grey_with_factors_and_kind_labels():
    train = load_images("shapes")
    test = load_images("shapes", "test")
    assert train.images.shape == (12000, 28, 28, 1) and train.images.dtype == np.uint8
    assert test.images.shape == (2000, 28, 28, 1)
    assert train.factor_names == ["kind", "x", "y", "size", "rotation", "brightness"]
    assert train.class_names == KIND_NAMES
    np.testing.assert_array_equal(train.labels, train.factors[:, 0].astype(np.int64))
    assert set(np.unique(train.labels)) == {0, 1, 2}
    assert len(load_images("shapes", "all")) == 14000


def test_96_variant_is_rgb_and_options_cap_the_count():
    s = load_images("shapes:96,n=40")
    assert s.images.shape == (40, 96, 96, 3)
    assert s.factor_names[-1] == "hue"
    assert load_images("shapes:32,channels=3,train=10").images.shape == (10, 32, 32, 3)


def test_same_seed_same_images_and_smaller_n_is_a_prefix():
    a = load_images("shapes", seed=3, n=200)
    b = load_images("shapes", seed=3, n=50)
    c = load_images("shapes", seed=4, n=50)
    np.testing.assert_array_equal(a.images[:50], b.images)
    np.testing.assert_array_equal(a.factors[:50], b.factors)
    assert not np.array_equal(b.images, c.images)
    assert not np.array_equal(load_images("shapes", "test", n=50).images, load_images("shapes", n=50).images)


@pytest.mark.parametrize("size,channels", [(96, 3), (28, 1)])
def test_pixels_match_factors_centroid_area_and_colour(size, channels):
    images, factors = make_shapes(60, image_size=size, channels=channels, seed=1)
    colours = factor_colours(factors, channels)
    ys, xs = np.mgrid[:size, :size]
    for image, f, colour in zip(images, factors, colours):
        brightest = int(np.argmax(colour))
        coverage = image[..., brightest].astype(np.float64) / (255.0 * colour[brightest])
        area = coverage.sum()
        # Centre of mass within a tenth of a pixel of (x, y); area within 3 % of pi * size^2.
        assert abs((coverage * (xs + 0.5)).sum() / area / size - f[1]) < 0.1 / size
        assert abs((coverage * (ys + 0.5)).sum() / area / size - f[2]) < 0.1 / size
        assert abs(area / (np.pi * (f[3] * size) ** 2) - 1.0) < 0.03 + 2.0 / (f[3] * size) ** 2
        # The fully covered pixels carry exactly the factor colour.
        inside = image[..., brightest] == image[..., brightest].max()
        np.testing.assert_allclose(image[inside].mean(0) / 255.0, colour, atol=1.01 / 255)


def test_rotation_turns_squares_but_not_circles():
    _, factors = make_shapes(1, image_size=64, channels=1)
    from zspace.data.shapes import render

    f = np.repeat(factors, 2, axis=0)
    f[:, 3] = 0.18
    f[1, 4] = f[0, 4] + 0.5
    for kind, changes in ((0, False), (1, True)):
        f[:, 0] = kind
        a, b = render(f, 64, 1)
        assert bool(np.abs(a.astype(int) - b.astype(int)).max() > 100) == changes


@pytest.mark.parametrize("size,n", [(28, 2000), (96, 600)])
def test_rendering_computes_one_window_per_shape_in_batched_passes(monkeypatch, size, n):
    """Why generating the set takes no cache: pixels are computed only in a window around each shape, wide
    enough for the biggest shape, in one vectorised pass per batch of 512 images and kind, never per image.

    Counted, not timed (benchmarks/bench_data.py times it): the calls of ``_coverage`` and the pixels they compute.
    """
    from zspace.data import shapes

    computed = []
    real = shapes._coverage

    def counting(f, *args):
        coverage = real(f, *args)
        computed.append(coverage.shape)  # (images, window, window)
        return coverage

    monkeypatch.setattr(shapes, "_coverage", counting)
    images, factors = make_shapes(n, image_size=size)
    assert images.shape[0] == n and images.max() > 0
    assert len(computed) <= 3 * -(-n // 512)  # at most one call per kind and batch
    assert sum(shape[0] for shape in computed) == n  # each image once
    # the window from geometry: the farthest point of an area-pi*s^2 circle, square or triangle from its centre
    # (s, s*sqrt(pi/2), s*sqrt(4*pi/(3*sqrt(3)))) on both sides, plus 3 pixels for the anti-aliased edge and rounding
    reach = np.array([1.0, np.sqrt(np.pi / 2), np.sqrt(4 * np.pi / (3 * np.sqrt(3)))])[factors[:, 0].astype(int)]
    window = int(np.ceil(2 * (reach * factors[:, 3]).max() * size + 3))
    assert {shape[1:] for shape in computed} == {(window, window)}
    # a share of the pixels: 56 % of a 28x28 image (a 21x21 window), 43 % of a 96x96 one (63x63)
    assert window ** 2 <= {28: 0.57, 96: 0.44}[size] * size ** 2


def test_hole_variant_leaves_the_hole_out_of_training_only():
    from zspace.core.errors import ZspaceError
    from zspace.data.shapes import in_hole

    train = load_images("shapes,hole=1,train=1500")
    test = load_images("shapes,hole=1", "test", n=600)
    # the hole, written out: x in the middle third of [0.32, 0.68], size in the upper half of [0.10, 0.20]
    x, size = test.factors[:, 1], test.factors[:, 3]
    expected = (x >= np.float32(0.44)) & (x < np.float32(0.56)) & (size >= np.float32(0.15))
    np.testing.assert_array_equal(in_hole(test.factors), expected)
    assert 0.10 < expected.mean() < 0.23          # a sixth of factor space (600 draws: 0.167 +- 0.015)
    assert len(train) == 1500 and not in_hole(train.factors).any()
    # the training images are plain shapes' training stream with the hole's rows skipped; the test split is unchanged
    plain = load_images("shapes,train=2200")
    outside = ~in_hole(plain.factors)
    assert outside.sum() >= 1500
    np.testing.assert_array_equal(train.factors, plain.factors[outside][:1500])
    np.testing.assert_array_equal(train.images, plain.images[outside][:1500])
    np.testing.assert_array_equal(test.images, load_images("shapes", "test", n=600).images)
    np.testing.assert_array_equal(load_images("shapes,hole=1", n=100).factors, train.factors[:100])
    with pytest.raises(ZspaceError, match="hole=2 must be 0 or 1"):
        load_images("shapes,hole=2")
