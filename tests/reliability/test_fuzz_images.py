"""Image folders at the door: any mix of modes, broken files, links and pipes gives a valid set or one line.

Every generated folder mixes images of every Pillow mode a user meets (grey,
RGB, RGBA, grey+alpha, 16-bit grey, palette, 1-bit, CMYK) with zero-byte
files, foreign bytes and cut-off PNGs behind image names, optionally in class
sub-folders, plus a link loop (a folder linked to its parent), a dangling
link, a FIFO named like an image (opening it would wait forever) and a file
nobody may read. The loader must keep exactly the images that decode and
list every other image-named file in ``skipped``.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from fuzzkit import CASES, assert_user_error, outcome
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from zspace.data import load_images
from zspace.data.celeba import read_attributes, read_partition
from zspace.data.imagefiles import decode_image
from zspace.data.imageset import ImageSet

pytestmark = pytest.mark.usefixtures("isolated_environment")

RUNNING_AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
#: (Pillow mode, format) of the images written; the format decides the bytes, not the file name
GOOD_KINDS = [("L", "PNG"), ("RGB", "PNG"), ("RGBA", "PNG"), ("LA", "PNG"), ("I;16", "PNG"), ("P", "PNG"),
              ("1", "PNG"), ("L", "JPEG"), ("RGB", "JPEG"), ("CMYK", "JPEG"), ("RGB", "BMP"), ("RGB", "WEBP"),
              ("P", "BMP")]
BAD_KINDS = ["empty", "text", "random", "cut-png"]
EXTENSIONS = [".png", ".PNG", ".jpg", ".jpeg", ".JPG", ".bmp", ".webp"]


def image_bytes(mode: str, fmt: str, width: int, height: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    if mode == "I;16":
        img = Image.fromarray(rng.integers(0, 65536, (height, width), dtype=np.uint16))
    else:
        img = Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).convert(mode)
    buffer = io.BytesIO()
    img.save(buffer, format=fmt)
    return buffer.getvalue()


@st.composite
def folders(draw):
    """A list of (relative path, bytes or None for a bad kind, is_good) plus the extras to add."""
    files = []
    n = draw(st.integers(1, 6))
    in_classes = draw(st.booleans())
    for i in range(n):
        folder = f"{draw(st.sampled_from(['cats', 'dogs', 'x y']))}/" if in_classes else ""
        name = f"{folder}img{i}{draw(st.sampled_from(EXTENSIONS))}"
        if draw(st.integers(0, 3)):
            mode, fmt = draw(st.sampled_from(GOOD_KINDS))
            data = image_bytes(mode, fmt, draw(st.integers(1, 12)), draw(st.integers(1, 12)), i)
            files.append((name, data, True))
        else:
            kind = draw(st.sampled_from(BAD_KINDS))
            data = {"empty": b"", "text": b"not an image\n", "random": draw(st.binary(min_size=1, max_size=200)),
                    "cut-png": image_bytes("RGB", "PNG", 8, 8, i)[:draw(st.integers(8, 60))]}[kind]
            files.append((name, data, False))
    extras = draw(st.sets(st.sampled_from(["loop", "dangling", "fifo", "unreadable", "hidden", "other"])))
    if RUNNING_AS_ROOT:  # root reads every file: the permission case cannot be made
        extras.discard("unreadable")
    options = draw(st.sampled_from(["", ",channels=1", ",channels=3", ",size=5", ",size=4,channels=1"]))
    return files, extras, options


def build(root: Path, files, extras) -> int:
    """Write the folder; return how many extra image-named files cannot be read (listed in ``skipped``)."""
    for name, data, _ in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    unreadable = 0
    first_dir = next((root / name).parent for name, _, _ in files)
    if "loop" in extras:
        os.symlink(root, first_dir / "loop")   # a folder linked to the top: walked once, never forever
    if "dangling" in extras:
        os.symlink(root / "gone.png", first_dir / "dangling.png")
    if "fifo" in extras:
        os.mkfifo(first_dir / "pipe.png")
    if "unreadable" in extras:
        path = first_dir / "secret.png"
        path.write_bytes(image_bytes("RGB", "PNG", 4, 4, 0))
        path.chmod(0)
        unreadable = 1
    if "hidden" in extras:
        (first_dir / ".hidden.png").write_bytes(b"ignored")
    if "other" in extras:
        (first_dir / "notes.txt").write_text("not an image name")
    return unreadable


def assert_valid_set(result: ImageSet, n_good: int, n_skipped: int, options: str) -> None:
    images = result.images
    assert images.dtype == np.uint8 and images.ndim == 4 and images.shape[1] == images.shape[2] >= 1
    assert images.shape[3] in (1, 3) and len(result) == n_good
    if "channels=" in options:
        assert images.shape[3] == int(options.split("channels=")[1][0])
    if "size=" in options:
        assert images.shape[1] == int(options.split("size=")[1][0])
    assert len(result.skipped) == n_skipped, result.skipped
    assert all(": " in line and "\n" not in line for line in result.skipped)
    assert result.labels is None or result.labels.shape == (n_good,)


@pytest.mark.timeout(900)  # opening the FIFO would block for ever: a hang fails (pytest-timeout), slowness not
@settings(max_examples=70)
@given(folders())
def test_folder_source_keeps_what_decodes_and_lists_the_rest(case):
    CASES.tick()
    files, extras, options = case
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "pics"
        root.mkdir()
        unreadable = build(root, files, extras)
        n_good = sum(good for _, _, good in files)
        n_bad = len(files) - n_good + unreadable + ("dangling" in extras)
        result, error = outcome(load_images, f"folder:{root}{options}", "all", cache_dir=Path(tmp) / "cache")
    if error is not None:
        assert n_good == 0, error
        assert_user_error(error, str(root))
        return
    # the dangling link and the unreadable file are listed; the FIFO, hidden and other files are no images
    assert_valid_set(result, n_good, n_bad, options)


#: run by root's child in the test below: load the folder argv[1] (cache argv[2]), print (count, skipped) as JSON
_LOAD_AND_PRINT = ("import json, sys; from pathlib import Path; from zspace.data import load_images; "
                   "r = load_images('folder:' + sys.argv[1], 'all', cache_dir=Path(sys.argv[2])); "
                   "print(json.dumps([len(r), r.skipped]))")


def test_an_unreadable_file_is_skipped_and_listed(tmp_path, skip_or_fail_on_ci):
    """A chmod-000 image is listed in ``skipped``, the rest loads. Root reads any file, so as root the folder is
    read by a child process whose bounding set lacks CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH (``setpriv``):
    still uid 0, it gets the same EACCES as any other user."""
    root = tmp_path / "pics"
    root.mkdir()
    (root / "ok.png").write_bytes(image_bytes("RGB", "PNG", 6, 6, 1))
    (root / "secret.png").write_bytes(image_bytes("RGB", "PNG", 6, 6, 2))
    (root / "secret.png").chmod(0)
    if RUNNING_AS_ROOT:
        if shutil.which("setpriv") is None:
            skip_or_fail_on_ci("running as root without setpriv (util-linux): chmod 000 does not stop root")
        done = subprocess.run(["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--",
                               sys.executable, "-c", _LOAD_AND_PRINT, str(root), str(tmp_path / "cache")],
                              capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        count, skipped = json.loads(done.stdout.splitlines()[-1])
    else:
        result = load_images(f"folder:{root}", "all", cache_dir=tmp_path / "cache")
        count, skipped = len(result), result.skipped
    assert count == 1 and len(skipped) == 1 and "secret.png" in skipped[0]


@settings(max_examples=60)
@given(value=st.integers(0, 65535), fmt=st.sampled_from(["PNG", "TIFF"]), channels=st.sampled_from([1, 3]))
def test_16_bit_grey_keeps_its_brightness(tmp_path, value, fmt, channels):
    """A 16-bit grey image of value v decodes to about v / 257, not to white (Pillow clips at 255)."""
    CASES.tick()
    path = tmp_path / f"grey16-{value}.{fmt.lower()}"
    Image.fromarray(np.full((6, 9), value, dtype=np.uint16)).save(path, format=fmt)
    decoded = decode_image(path, 4, channels)
    assert decoded.shape == (4, 4, channels) and decoded.dtype == np.uint8
    assert np.abs(decoded.astype(int) - round(value / 257)).max() <= 1


LINE = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)


@settings(max_examples=80)
@given(partition=st.lists(st.one_of(LINE, st.tuples(st.sampled_from(["a.jpg", "b.jpg"]),
                                                    st.sampled_from(["0", "1", "2", "3", "-1", "x"])).map(" ".join)),
                          max_size=5),
       attributes=st.lists(st.one_of(LINE, st.tuples(st.sampled_from(["a.jpg", "b.jpg"]),
                                                     st.sampled_from(["1", "-1", "0.5", "x", "nan"]),
                                                     st.sampled_from(["1", "-1", "x"])).map(" ".join)),
                           max_size=5),
       header=st.sampled_from(["2\nSmiling Young\n", "2\n", "", "x\nSmiling\n"]))
def test_celeba_text_files_parse_or_name_the_line(tmp_path, partition, attributes, header):
    CASES.tick()
    part_path, attr_path = tmp_path / "list_eval_partition.txt", tmp_path / "list_attr_celeba.txt"
    part_path.write_text("\n".join(partition), encoding="utf-8")
    attr_path.write_text(header + "\n".join(attributes), encoding="utf-8")
    table, error = outcome(read_partition, part_path)
    if error is None:
        assert all(v in (0, 1, 2) for v in table.values())
    else:
        assert_user_error(error, str(part_path), "line")
    parsed, error = outcome(read_attributes, attr_path)
    if error is None:
        names, rows = parsed
        assert all(v.shape == (len(names),) and set(np.unique(v)) <= {0.0, 1.0} for v in rows.values())
    else:
        assert_user_error(error, str(attr_path))
