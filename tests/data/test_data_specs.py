import pytest

from zspace.core.errors import ZspaceError
from zspace.data import SOURCES, load_images, parse_spec


@pytest.mark.parametrize("spec,expected", [
    ("shapes", ("shapes", None, {})),
    ("shapes:96,n=4000", ("shapes", "96", {"n": "4000"})),
    ("shapes,n=10,seed=2", ("shapes", None, {"n": "10", "seed": "2"})),
    ("folder:/data/a,b/c,size=64", ("folder", "/data/a,b/c", {"size": "64"})),
    ("CelebA:/x/img_align_celeba", ("celeba", "/x/img_align_celeba", {})),
    ("array:C:/x.npy", ("array", "C:/x.npy", {})),
])
def test_parse_spec(spec, expected):
    assert parse_spec(spec) == expected


def test_unknown_source_lists_every_valid_one():
    with pytest.raises(ZspaceError) as info:
        load_images("imagenet")
    for name in SOURCES:
        assert name in str(info.value)


@pytest.mark.parametrize("spec,kwargs,words", [
    ("shapes,colour=red", {}, "unknown option 'colour'"),
    ("shapes", {"split": "valid"}, "split 'valid'"),
    ("shapes,n=0", {}, "n='0'"),
    ("shapes:96", {"image_size": 28}, "contradicts"),
    ("folder", {}, "needs folder"),
    ("folder:/no/such/dir", {}, "/no/such/dir does not exist"),
    ("mnist:/x", {}, "takes no ':' argument"),
])
def test_bad_specs_give_one_line_errors(spec, kwargs, words):
    with pytest.raises(ZspaceError) as info:
        load_images(spec, **kwargs)
    assert words in str(info.value) and "\n" not in str(info.value)


def test_n_and_size_options_equal_the_keyword_arguments():
    assert load_images("shapes,n=7").images.shape == (7, 28, 28, 1)
    assert load_images("shapes,size=40", n=3).images.shape == (3, 40, 40, 1)
    assert load_images("shapes", image_size=64, n=2).images.shape == (2, 64, 64, 3)
