"""zspace compare: Z files and runs in, compare.json and a table out; mismatched rows and data refused in one line."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from scipy.stats import ortho_group

import zspace
from zspace.cli import main
from zspace.core.errors import ZspaceError
from zspace.pipeline.zstore import ZStore


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("zspace: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture
def z_files(tmp_path):
    """a.npy (120, 5) and b.npy (120, 8): b is a embedded in 8 dimensions, rotated, scaled and shifted."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((120, 5)).astype(np.float32)
    b = (2.0 * np.hstack([a, np.zeros((120, 3), np.float32)]) @ ortho_group.rvs(8, random_state=3) + 1.5)
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", b.astype(np.float32))
    return tmp_path / "a.npy", tmp_path / "b.npy"


def test_two_z_files_of_one_space_compare_as_the_same(z_files, tmp_path, capsys):
    a, b = z_files
    code, out, err = run_cli(capsys, "compare", a, b, "--out", tmp_path / "cmp", "--k", "5")
    assert code == 0, err
    saved = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert saved["schema"] == "zspace.compare/1" and saved["rows"] == 120 and saved["k"] == 5
    assert saved["linear_cka"] == pytest.approx(1, abs=1e-6) and saved["rbf_cka"] == pytest.approx(1, abs=1e-4)
    assert saved["procrustes_error"] == pytest.approx(0, abs=1e-6) and saved["knn_overlap"] == 1.0
    assert saved["inputs"]["a"] == {"source": str(a), "kind": ".npy array", "codes": "z", "rows": 120, "dim": 5}
    assert saved["inputs"]["b"]["dim"] == 8 and "padded with 3 zero columns" in saved["procrustes_padding"]
    assert saved["rows_used"] == {"linear_cka": 120, "rbf_cka": 120, "procrustes_error": 120, "knn_overlap": 120}
    table = {line.split("  ")[0].strip(): line for line in out.splitlines()}
    assert "1.0000" in table["linear CKA"] and "0.0000" in table["Procrustes error"]
    assert f"wrote {tmp_path / 'cmp' / 'compare.json'}" in out
    # the notebook API gives the same numbers
    result = zspace.compare(a, b, k=5)
    assert result.to_json() | {"seconds": 0} == saved | {"seconds": 0}


def test_different_row_counts_are_refused_naming_both_files_and_nothing_is_written(z_files, tmp_path, capsys):
    a, _ = z_files
    np.save(tmp_path / "short.npy", np.load(a)[:100])
    code, _, err = run_cli(capsys, "compare", a, tmp_path / "short.npy", "--out", tmp_path / "cmp")
    line = one_error_line(err)
    assert code == 2 and "120 rows" in line and "has 100" in line and str(a) in line and "short.npy" in line
    assert "--n 100" in line and not (tmp_path / "cmp").exists()
    code, _, err = run_cli(capsys, "compare", a, tmp_path / "short.npy", "--out", tmp_path / "cmp", "--epoch-b", "2")
    assert code == 2 and "--epoch-b 2 chooses a checkpoint of a run" in one_error_line(err)


def test_an_existing_result_needs_force(z_files, tmp_path, capsys):
    a, b = z_files
    assert run_cli(capsys, "compare", a, b, "--out", tmp_path / "cmp")[0] == 0
    code, _, err = run_cli(capsys, "compare", a, b, "--out", tmp_path / "cmp")
    assert code == 2 and "--force" in one_error_line(err)
    assert run_cli(capsys, "compare", b, a, "--out", tmp_path / "cmp", "--force")[0] == 0
    assert json.loads((tmp_path / "cmp" / "compare.json").read_text())["inputs"]["a"]["dim"] == 8


def test_two_runs_are_encoded_on_their_test_split_as_zspace_encode_does(ae_run, vae_run, tmp_path, capsys):
    code, out, err = run_cli(capsys, "compare", ae_run, vae_run, "--out", tmp_path / "cmp", "--device", "cpu",
                             "--n", "300")
    assert code == 0, err
    saved = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert saved["inputs"]["a"]["kind"] == "run directory" and saved["inputs"]["a"]["codes"] == "z"
    assert saved["inputs"]["b"]["codes"] == "mu" and saved["inputs"]["b"]["split"] == "test"
    # the same numbers as the codes zspace encode gives (a VAE's mu), compared as stores
    stores = [zspace.encode(run, split="test", device="cpu", n=300) for run in (ae_run, vae_run)]
    assert saved["rows"] == len(stores[0].z) == 300
    again = zspace.compare(*stores)
    for name in ("linear_cka", "rbf_cka", "procrustes_error", "knn_overlap"):
        assert saved[name] == pytest.approx(getattr(again, name), abs=1e-6), name


def test_a_store_of_another_split_is_refused_before_anything_is_encoded(ae_run):
    store = ZStore(z=np.zeros((2000, 4), np.float32), index=np.arange(2000), meta={"data": "shapes", "split": "train"})
    with pytest.raises(ZspaceError) as caught:
        zspace.compare(ae_run, store, device="cpu")
    message = str(caught.value)
    assert "different split: 'test' and 'train'" in message and str(ae_run) in message and "ZStore" in message


def test_runs_whose_seeded_split_differs_are_refused_naming_the_seed(ae_run, tmp_path, capsys):
    other = tmp_path / "other"
    shutil.copytree(ae_run, other)
    config = json.loads((other / "config.json").read_text())
    config["train"]["seed"] += 1  # the shapes set is generated from the seed: other images
    (other / "config.json").write_text(json.dumps(config))
    code, _, err = run_cli(capsys, "compare", ae_run, other, "--out", tmp_path / "cmp", "--device", "cpu")
    line = one_error_line(err)
    assert code == 2 and "different seed" in line and "seed=" in line and str(other) in line


def test_the_api_defaults_are_the_command_line_defaults():
    import inspect

    from zspace.cli import build_parser

    args = build_parser("compare").parse_args(["compare", "A", "B", "--out", "D"])
    signature = inspect.signature(zspace.compare).parameters
    for option in ("split", "n", "seed", "batch_size", "device", "precision", "force"):
        assert signature[option].default == getattr(args, option), option
    assert (signature["epoch_a"].default, signature["epoch_b"].default) == (args.epoch_a, args.epoch_b)
    config = zspace.CompareConfig()
    assert (config.k, config.max_rows, config.bandwidth) == (args.k, args.max_rows, args.bandwidth) == (10, 20000, 1.0)
