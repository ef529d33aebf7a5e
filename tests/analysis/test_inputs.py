"""Bad input is refused at the door with one clear line, or dropped and counted."""

import json

import numpy as np
import pytest

from zspace.analysis import from_arrays, load_latents
from zspace.cli import main
from zspace.core.errors import ZspaceError


def gaussian(n=50, d=4, seed=0):
    return np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)


def test_encode_npz_is_read_with_all_fields(tmp_path):
    z = gaussian()
    path = tmp_path / "Z.npz"
    np.savez(path, z=z, mu=z, logvar=np.zeros_like(z), labels=np.arange(50), index=np.arange(50))
    latents = load_latents(path)
    assert latents.z.shape == (50, 4) and latents.z.dtype == np.float32
    assert latents.has_vae and latents.labels.dtype == np.int64
    assert latents.n_rows_dropped_nonfinite == 0


def test_nonfinite_rows_are_dropped_and_counted(tmp_path):
    z = gaussian()
    z[3, 1] = np.nan
    z[7, 0] = np.inf
    mu = z.copy()
    mu[10, 2] = -np.inf
    path = tmp_path / "Z.npz"
    np.savez(path, z=z, mu=mu, logvar=np.zeros_like(z), labels=np.arange(50))
    latents = load_latents(path)
    assert latents.n_rows_read == 50 and latents.n_rows_dropped_nonfinite == 3
    assert latents.n_points == 47
    assert 3 not in latents.labels and 10 not in latents.labels and 11 in latents.labels


@pytest.mark.parametrize("arrays, message", [
    (dict(z=gaussian(1)), "at least 2 points"),
    (dict(z=gaussian(10, 1)), "d >= 2"),
    (dict(z=gaussian(10).reshape(10, 2, 2)), "3-D"),
    (dict(z=gaussian(10), mu=gaussian(9), logvar=gaussian(9)), "mu has shape (9, 4)"),
    (dict(z=gaussian(10), mu=gaussian(10)), "logvar missing"),
    (dict(z=np.full((3, 4), np.nan, dtype=np.float32)), "after dropping 3"),
])
def test_bad_arrays_raise_one_clear_line(tmp_path, arrays, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(ZspaceError, match=None) as info:
        load_latents(path)
    assert message in str(info.value) and "\n" not in str(info.value)
    assert str(path) in str(info.value)


def test_wrong_key_names_the_available_arrays(tmp_path):
    path = tmp_path / "a.npz"
    np.savez(path, points=gaussian(), other=gaussian())
    with pytest.raises(ZspaceError, match=r"no array named 'z' \(the file has points, other\); pass --key"):
        load_latents(path)
    assert load_latents(path, key="points").n_points == 50


def test_single_array_npz_needs_no_key(tmp_path):
    path = tmp_path / "a.npz"
    np.savez(path, whatever=gaussian())
    assert load_latents(path).source.endswith("[whatever]")


def test_empty_file_missing_file_and_unknown_suffix(tmp_path):
    empty = tmp_path / "empty.npy"
    empty.write_bytes(b"")
    with pytest.raises(ZspaceError, match="empty"):
        load_latents(empty)
    with pytest.raises(ZspaceError, match="no such file"):
        load_latents(tmp_path / "nope.npz")
    csv = tmp_path / "z.csv"
    csv.write_text("1,2\n")
    with pytest.raises(ZspaceError, match="unknown file type"):
        load_latents(csv)


def test_pickled_npy_is_refused_not_loaded(tmp_path):
    path = tmp_path / "objects.npy"
    np.save(path, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(ZspaceError, match="pickle"):
        load_latents(path)


def test_truncated_npy_is_a_clear_error(tmp_path):
    path = tmp_path / "cut.npy"
    np.save(path, gaussian())
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ZspaceError, match="not a readable .npy"):
        load_latents(path)


def test_string_labels_are_refused():
    with pytest.raises(ZspaceError, match="labels must be integers"):
        from_arrays(gaussian(), labels=np.array(["a"] * 50))


def test_cli_bad_input_exits_2_with_one_line(tmp_path, capsys):
    path = tmp_path / "bad.npy"
    np.save(path, gaussian(10, 1))
    assert main(["analyze", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("zspace: error:") and "d >= 2" in err[0]


def test_cli_writes_json_with_the_dropped_count(tmp_path):
    z = gaussian(200, 3)
    z[0, 0] = np.nan
    path = tmp_path / "z.npy"
    np.save(path, z)
    out = tmp_path / "out"
    assert main(["analyze", str(path), "--out", str(out), "--only", "axes,radius"]) == 0
    report = json.loads((out / "analysis.json").read_text())
    assert report["complete"] and report["input"]["n_rows_dropped_nonfinite"] == 1
    assert report["input"]["n_points"] == 199
    assert set(report["analyses"]) == {"axes", "radius"}
    assert (out / "axis_density.png").stat().st_size > 0 and (out / "radius.png").exists()


def test_cli_unknown_analysis_and_inapplicable_request(tmp_path, capsys):
    path = tmp_path / "z.npy"
    np.save(path, gaussian(20, 3))
    assert main(["analyze", str(path), "--out", str(tmp_path / "o"), "--only", "radius,colour"]) == 2
    assert "unknown analysis colour" in capsys.readouterr().err
    assert main(["analyze", str(path), "--out", str(tmp_path / "o"), "--only", "vae"]) == 2
    assert "no mu/logvar" in capsys.readouterr().err
