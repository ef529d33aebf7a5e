"""Specs and command-line values at the door: sampler specs, data specs and every numeric option.

Values are negative, zero, huge, NaN, infinite, hexadecimal, empty or not
numbers at all. Each ends in a working object (a sampler, an image set, a
command that ran) or in exit status 2 with one error line that names the
option, the spec or the file; never a traceback or a giant allocation.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import numpy as np
import pytest
from fuzzkit import CASES, assert_cli_user_error, assert_user_error, outcome, run_cli
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from zspace.data import SOURCES, load_images
from zspace.science.samplers import SAMPLERS, make_sampler, saved_name
from zspace.science.samplers.twostage import MAX_HIDDEN

pytestmark = pytest.mark.usefixtures("isolated_environment")

#: text a user may type for a number
NUMBER_TEXT = st.one_of(
    st.integers(-10 ** 13, 10 ** 13).map(str),
    st.sampled_from(["0", "-0", "-1", "1", "2", "nan", "NaN", "inf", "-inf", "1e400", "-1e400", "1e-400", "0x10",
                     "1_000", "", " ", "3.5", "2**40", "4294967296", "-4294967297", "\u0661\u0662", "9" * 5000]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(st.characters(exclude_categories=["Cs", "Cc"]), max_size=8),
)


def normalised(text: str) -> str:
    return re.sub(r"[-_ ]", "", text.lower())


# ---------------------------------------------------------------------------------------------
# Sampler specs


@settings(max_examples=250)
@given(name=st.one_of(st.sampled_from(sorted(SAMPLERS)), st.sampled_from(["", "NORMAL", "gmm-10", "nope", " normal"])),
       arg=st.none() | NUMBER_TEXT, z_dim=st.one_of(st.integers(-3, 8), st.just(10 ** 9)))
def test_make_sampler_builds_a_working_sampler_or_one_line_error(name, arg, z_dim):
    CASES.tick()
    spec = name if arg is None else f"{name}:{arg}"
    sampler, error = outcome(make_sampler, spec, z_dim)
    if error is not None:
        text = assert_user_error(error)
        assert repr(spec) in text or f"sampler {name}" in text, text
        return
    assert sampler.name == name and sampler.z_dim == z_dim >= 1
    if z_dim > 64:
        return
    rng = np.random.default_rng(0)
    if sampler.needs_fit:
        if name in ("flow", "maf", "nsf"):  # trains a network: its arguments were checked, fitting is
            assert 1 <= sampler.n_layers <= 256  # another test's job (test_flows.py)
            return
        if name == "twostage":  # the same (test_twostage.py fits it)
            assert 1 <= sampler.hidden <= MAX_HIDDEN
            return
        fitted, error = outcome(sampler.fit, rng.normal(size=(30, z_dim)), 0)
        if error is not None:  # more components or neighbours than points
            assert_user_error(error, f"sampler {name}", "needs at least")
            return
    points = sampler.sample(5, rng)
    assert points.shape == (5, z_dim) and points.dtype == np.float32 and np.isfinite(points).all()


@settings(max_examples=100)
@given(st.text(max_size=12))
def test_saved_names_are_safe_folder_names_or_one_line_error(spec):
    CASES.tick()
    name, error = outcome(saved_name, spec)
    if error is not None:
        assert_user_error(error, repr(spec))
    else:
        assert re.fullmatch(r"[A-Za-z0-9_.\-]+", name) and not name.startswith(".") and "/" not in name


# ---------------------------------------------------------------------------------------------
# Data specs


@st.composite
def plausible_specs(draw, tmp: Path) -> str:
    """Specs that are nearly right: a real folder, array or shapes size, with options that may not fit."""
    spec = draw(st.sampled_from(["shapes", f"folder:{tmp / 'pics'}", f"array:{tmp / 'images.npy'}"]))
    if spec == "shapes" and draw(st.booleans()):
        spec += f":{draw(st.integers(6, 40))}"
    options = ["seed", "size", "channels"] + (["train", "test"] if spec.startswith("shapes") else [])
    for key in draw(st.lists(st.sampled_from(options), unique=True, max_size=2)):
        spec += f",{key}={draw(st.sampled_from([1, 3, 3, 4, 12, 30, 0, -1]))}"
    return spec


@st.composite
def data_specs(draw, tmp: Path) -> str:
    name = draw(st.one_of(st.sampled_from(sorted(SOURCES)), st.sampled_from(["MNIST", "images", "", " shapes"])))
    arg = draw(st.one_of(st.none(), NUMBER_TEXT, st.sampled_from([str(tmp / "missing"), str(tmp / "empty-dir"),
                                                                 str(tmp / "note.txt"), str(tmp), "~"])))
    keys = st.sampled_from(["n", "seed", "size", "train", "test", "channels", "labels", "N", "x", ""])
    options = draw(st.lists(st.tuples(keys, NUMBER_TEXT.filter(lambda v: "," not in v)), max_size=3))
    spec = name + ("" if arg is None else f":{arg}")
    return spec + "".join(f",{k}={v}" for k, v in options)


@settings(max_examples=150)
@given(data=st.data(), plausible=st.integers(0, 2), seed=st.sampled_from([-1, 0, 7]) | st.integers(-1, 2 ** 40))
def test_data_specs_give_a_small_valid_set_or_one_line_error(data, plausible, seed):
    CASES.tick()
    if plausible:  # two in three: a real source, a known split, options that may not fit
        split, image_size = data.draw(st.sampled_from(["train", "test", "all"])), None
    else:
        split = data.draw(st.sampled_from(["train", "test", "all", "valid", "Train"]))
        image_size = data.draw(st.sampled_from([None, -2, 0, 3, 4, 12, 40, 10 ** 6]))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "empty-dir").mkdir()
        (root / "note.txt").write_text("not data")
        (root / "pics").mkdir()
        for i, mode in enumerate(["L", "RGB", "RGBA"]):
            Image.fromarray(np.full((10, 12, 3), 40 * i, np.uint8)).convert(mode).save(root / "pics" / f"{i}.png")
        np.save(root / "images.npy", np.zeros((5, 12, 12), np.uint8))
        spec = data.draw(plausible_specs(root) if plausible else data_specs(root))
        result, error = outcome(load_images, spec, split, image_size=image_size, seed=seed, n=3,
                                cache_dir=root / "cache")
    if error is not None:
        text = assert_user_error(error)
        assert "MemoryError" not in text, text  # an absurd size is refused before decoding, not after failing
        return
    images = np.asarray(result.images)
    assert images.dtype == np.uint8 and images.ndim == 4 and images.shape[3] in (1, 3) and len(images) <= 3
    assert images.shape[1] >= 4 and (image_size is None or images.shape[1] == image_size)


# ---------------------------------------------------------------------------------------------
# Numeric options of every command


#: command -> options taking a number, fuzzed one at a time on a run directory that does not exist;
#: every value is checked before the run is opened, so each call ends in exit status 2
NO_RUN_OPTIONS = {
    "generate": ["--n", "--seed", "--epoch"],
    "encode": ["--n", "--batch-size", "--seed", "--epoch"],
    "reconstruct": ["--n", "--seed", "--epoch"],
    "score": ["--n", "--n-reference", "--k", "--seed", "--epoch"],
    "question": ["--n", "--n-reference", "--paths", "--seed", "--epoch"],
    "fit-sampler": ["--seed", "--epoch"],
    "report": ["--tsne-n", "--max-scatter-points", "--seed"],
}
TRAIN_OPTIONS = ["--epochs", "--batch-size", "--lr", "--fact", "--seed", "--keep-every", "--n-train", "--n-val",
                 "--image-size", "--divergence-factor", "--z-dim", "--kernel-size", "--extra-dense", "--eps-clip",
                 "--filters", "--from-epoch"]


@settings(max_examples=120)
@given(command=st.sampled_from(sorted(NO_RUN_OPTIONS)), data=st.data(), value=NUMBER_TEXT)
def test_numeric_options_of_run_commands_are_checked_first(command, data, value):
    CASES.tick()
    option = data.draw(st.sampled_from(NO_RUN_OPTIONS[command]))
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "no-run"
        argv = [command, run_dir] + (["gmm:2"] if command == "fit-sampler" else []) + \
            (["--out", Path(tmp) / "out.x"] if command in ("generate", "encode", "reconstruct", "report") else []) + \
            [f"{option}={value}"]
        code, _, err = run_cli(argv)
    line = assert_cli_user_error(code, err)
    assert str(run_dir) in line or normalised(option) in normalised(line), line


@settings(max_examples=120)
@given(option=st.sampled_from(TRAIN_OPTIONS), value=NUMBER_TEXT)
def test_train_options_are_checked_before_anything_is_loaded(option, value):
    """A valid value reaches the data loader (a missing file here), an invalid one is named."""
    CASES.tick()
    with tempfile.TemporaryDirectory() as tmp:
        missing = Path(tmp) / "missing.npy"
        target = ["--resume", missing] if option == "--from-epoch" else ["--data", f"array:{missing}", "--out",
                                                                           Path(tmp) / "run"]
        code, _, err = run_cli(["train", *target, f"{option}={value}"])
        assert not (Path(tmp) / "run").exists()
    line = assert_cli_user_error(code, err)
    assert str(missing) in line or normalised(option.replace("--", "")) in normalised(line), line


@settings(max_examples=40)
@given(option=st.sampled_from(["--z-dim", "--kernel-size", "--extra-dense", "--eps-clip", "--filters", "--input"]),
       value=st.one_of(NUMBER_TEXT, st.sampled_from(["100000,100000", "1,1,1,1,1,1,1,1", "100000x100000x3",
                                                     "28x28", "4x4x2", "1x1x1"])))
def test_summary_never_allocates_the_model(option, value):
    CASES.tick()
    code, out, err = run_cli(["summary", f"{option}={value}", "--json"])
    if code == 0:
        assert "total_params" in out
    else:
        line = assert_cli_user_error(code, err)
        assert normalised(option) in normalised(line) or "filters" in line or "input" in line, line


@settings(max_examples=30)
@given(option=st.sampled_from(["--tsne-n", "--seed", "--key", "--only"]), value=NUMBER_TEXT)
def test_analyze_options_on_a_small_array(tmp_path, option, value):
    CASES.tick()
    path = tmp_path / "z.npy"
    if not path.exists():
        np.save(path, np.random.default_rng(0).normal(size=(12, 3)))
    code, _, err = run_cli(["analyze", path, "--out", tmp_path / "out", "--no-figures", f"{option}={value}"])
    if code != 0:
        line = assert_cli_user_error(code, err)
        assert normalised(option) in normalised(line) or str(path) in line, line


@settings(max_examples=25)
@given(command=st.sampled_from(["generate", "encode", "reconstruct"]),
       n=st.one_of(st.integers(-3, 6), st.just(10 ** 13)),
       seed=st.one_of(st.integers(-2, 9), st.integers(2 ** 32 - 2, 2 ** 40)),
       batch_size=st.integers(-2, 600))
def test_run_commands_on_a_real_run(fuzz_run, tmp_path, command, n, seed, batch_size):
    """Small, huge and negative counts and seeds on a trained run: a result, or one line before any work."""
    CASES.tick()
    out = tmp_path / {"generate": "g.npy", "encode": "z.npz", "reconstruct": "r.png"}[command]
    argv = [command, fuzz_run, "--n", n, "--seed", seed, "--out", out]
    argv += (["--batch-size", batch_size] if command == "encode" else []) + \
        (["--force"] if command != "reconstruct" else [])
    code, _, err = run_cli(argv)
    # encode and reconstruct take at most the whole test split; generate would decode 10^13 images
    valid = n >= 1 and (command != "generate" or n < 10 ** 13) and 0 <= seed < 2 ** 32 and \
        (command != "encode" or batch_size >= 1)
    if valid:
        assert code == 0, err
        assert out.stat().st_size > 0
    else:
        assert_cli_user_error(code, err)
