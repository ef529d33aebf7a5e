"""The HTML report: self-contained, escaped, built from the run's own numbers, drawn by a real browser."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil

import numpy as np
import pytest
from PIL import Image

from zspace.cli import main
from zspace.pipeline.run import open_run
from zspace.pipeline.zstore import ZStore, load_zstore
from zspace.report import build_report, prepare_run
from zspace.report.assets import grid_name, load_assets
from zspace.report.build import space_comparisons
from zspace.report.figures import scatter
from zspace.report.html import Page, script_json
from zspace.science.hole_study import holes
from zspace.science.latents import fitted_sampler

HOSTILE = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def report(prepared_runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "report.html"
    build_report(prepared_runs, out, ("normal", "uniform:2"), names=[HOSTILE, "vae & co"])
    return out


def test_report_is_self_contained(report):
    text = report.read_text()
    assert not re.search(r"<(script|img|link|iframe)[^>]+(src|href)=\"?https?:", text)
    assert "<link" not in text
    assert len(re.findall(r"<script[^>]*\bsrc=", text)) == 0  # plotly.js inline, not fetched
    assert text.count("Plotly.newPlot") == 1 and "plotly.js v" in text  # one library copy, one draw function


def test_user_strings_are_escaped(report):
    text = report.read_text()
    assert HOSTILE not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "vae &amp; co" in text


def test_script_json_cannot_close_the_script_element():
    fig = scatter(np.zeros((3, 2)), HOSTILE, labels=np.array([0, 1, 1]), class_names=["</script>", "ok"])
    encoded = script_json(fig)
    assert "</script>" not in encoded and "<" not in encoded
    assert json.loads(encoded)["data"][0]["name"] == "\u2068&lt;/script&gt;\u2069"  # bidi-isolated
    page = Page(HOSTILE)
    page.add(page.plot(fig))
    assert page.render().count("<script>alert") == 0


def test_report_shows_the_runs_numbers(report, prepared_runs):
    text = report.read_text()
    analysis = json.loads((prepared_runs[1] / "analysis" / "analysis.json").read_text())
    store = load_zstore(prepared_runs[1] / "z_test.npz")
    radius_mean = float(np.linalg.norm(store.z, axis=1).mean())
    assert analysis["analyses"]["radius"]["mean"] == pytest.approx(radius_mean, rel=1e-5)
    assert f"{analysis['analyses']['radius']['mean']:.4g}" in text
    assert "AE vs VAE side by side" in text and text.count("data:image/png;base64,") >= 8


def test_scatter_points_are_the_projections_of_z(prepared_runs):
    with np.load(prepared_runs[0] / "analysis" / "scatter.npz", allow_pickle=False) as f:
        scatters = {k: f[k] for k in f.files}
    z = load_zstore(prepared_runs[0] / "z_test.npz").z
    axis_keys = [k for k in scatters if k.startswith("plane_axes_") and not k.endswith(".index")]
    assert axis_keys, sorted(scatters)
    for key in axis_keys:
        a, b = (int(x) for x in key.split("_")[-2:])
        np.testing.assert_array_equal(scatters[key], z[scatters[f"{key}.index"]][:, [a, b]])
    tsne = [k for k in scatters if k.startswith("tsne_") and not k.endswith(".index")]
    assert scatters["tsne_ee12_perp30"].shape == (300, 2)
    assert all(scatters[k].shape == (len(scatters[f"{k}.index"]), 2) for k in tsne)


def test_prepare_run_reuses_finished_stages(prepared_runs, fast_report_config):
    stamps = {p: p.stat().st_mtime_ns for p in prepared_runs[0].rglob("*") if p.is_file()}
    prepare_run(prepared_runs[0], fast_report_config)
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps


def test_report_loads_and_draws_in_a_real_browser(report, tmp_path, chromium):
    dom = chromium("--dump-dom", report.as_uri()).stdout
    match = re.search(r'data-zspace-status="([^"]*)"', dom)
    assert match, "the page's scripts did not finish"
    status = json.loads(match.group(1).replace("&quot;", '"'))
    assert status["errors"] == []
    assert status["plots"] >= 10 and status["drawn"] >= 5  # WebGL plots below the fold are drawn on scroll
    shot = tmp_path / "shot.png"
    chromium(f"--screenshot={shot}", report.as_uri())
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=np.float32)
    assert pixels.std() > 20  # not a blank page
    coloured = np.asarray(Image.open(shot).convert("RGB"), dtype=np.int16)
    saturation = coloured.max(axis=2) - coloured.min(axis=2)
    assert (saturation > 60).mean() > 0.002  # coloured curves and points were drawn


def test_report_command_end_to_end(prepared_runs, tmp_path, capsys, monkeypatch, fast_report_config):
    from zspace.cli import main
    from zspace.commands import report as report_command

    # the command's samplers, with the fast battery of these tests (a full t-SNE takes minutes)
    seen = []

    def fast_prepare(run_dir, config):
        seen.append(config.samplers)
        return prepare_run(run_dir, fast_report_config)

    monkeypatch.setattr(report_command, "prepare_run", fast_prepare)
    run_dir = tmp_path / "ae"
    shutil.copytree(prepared_runs[0], run_dir)
    out = tmp_path / "r.html"
    assert main(["report", str(run_dir), "--out", str(out), "--samplers", "normal,uniform:2", "--device", "cpu"]) == 0
    assert seen == [("normal", "uniform:2")]
    assert out.stat().st_size > 4_000_000  # plotly.js is inside
    assert "wrote" in capsys.readouterr().out
    assert main(["report", str(run_dir), "--names", "a,b", "--out", str(tmp_path / "x.html")]) == 2
    assert "one name per RUN_DIR" in capsys.readouterr().err


def question_json(**changes) -> dict:
    quality = {"fd": 4.0, "precision": 0.7, "recall": 0.6}
    answer = {"label": "ae", "kind": "ae", "fact": None, "epoch": 1,
              "floor": quality, "ceiling": {"fd": 160.0, "precision": 0.6, "recall": 0.0},
              "rows": [{"sampler": "normal", "fd": 420.0, "fd_over_floor": 105.0, "precision": 0.01, "recall": 0.0,
                        "void_share": 1.0},
                       {"sampler": "gmm:10", "fd": 5.5, "fd_over_floor": 1.375, "precision": 0.5, "recall": 0.4,
                        "void_share": 0.05}],
              "intrinsic_dim": {"twonn": 9.1, "mle": 8.2}, "active_units": None, "void_threshold": 0.8,
              "sentence": "gmm:10 comes closest <to the floor>",
              "paths": {"profiles": [{"kind": "encoded", "n_paths": 2, "t": [0, 0.5, 1], "void_distance": [0, 1.5, 0],
                                      "realism": [1.2, 0.4, 1.2], "inside_share": [1, 0, 1], "worst_t": 0.5,
                                      "drop": 0.8}]}}
    answer.update(changes)
    return answer


@pytest.fixture(scope="module")
def answered_report(prepared_runs, tmp_path_factory, fast_report_config):
    """Both runs with a question.json (the VAE's best fitted sampler: full-gauss), prepared and reported."""
    root = tmp_path_factory.mktemp("answered")
    runs = []
    for source, answer in zip(prepared_runs, (question_json(), question_json(
            label="vae", kind="vae", fact=1.0, rows=[
                {"sampler": "normal", "fd": 8.0, "fd_over_floor": 2.0, "precision": 0.4, "recall": 0.3,
                 "void_share": 0.2},
                {"sampler": "full-gauss", "fd": 6.0, "fd_over_floor": 1.5, "precision": 0.5, "recall": 0.4,
                 "void_share": 0.1}]))):
        run_dir = root / source.name
        shutil.copytree(source, run_dir)
        (run_dir / "question.json").write_text(json.dumps(answer))
        for row in answer["rows"]:  # zspace question fits and saves them; the grids decode their draws
            fitted_sampler(run_dir, row["sampler"], device="cpu")
        prepare_run(run_dir, fast_report_config)  # adds the grids of the best fitted samplers
        runs.append(run_dir)
    return build_report(runs, root / "answered.html", ("normal",), names=["ae", "vae"])


def test_the_answer_comes_first_with_a_row_per_model(answered_report, prepared_runs):
    text = answered_report.read_text()
    answer = text[text.index("Answer: do random points decode badly"):text.index("AE vs VAE side by side")]
    assert "Answer: do random points" in text[:text.index("Run ")]  # before every other section
    rows = re.findall(r"<tr><td>([^<]*)</td><td>([^<]*)</td>(.*?)</tr>", answer[answer.index('class="answer"'):])
    assert [(isolate_free(name), floor) for name, floor, _ in rows] == [("ae", "4"), ("vae", "4")]
    assert "1.38x · void 0.05 · P 0.50 R 0.40 (best)" in rows[0][2] and "105.00x · void 1.00" in rows[0][2]
    assert "1.50x · void 0.10 · P 0.50 R 0.40 (best)" in rows[1][2]
    assert "gmm:10 comes closest to the reconstruction floor, at 1.38x (5% of its points in voids)" in answer
    assert "N(0, I) does 76.4x worse: 105.00x the floor" in answer
    assert "full-gauss comes closest to the reconstruction floor, at 1.50x" in answer and "N(0, I) does about as well" not in answer
    # the picture row: each model's N(0, I) and best fitted sampler, then real test images
    pictures = answer[answer.index("answer-pictures"):]
    assert pictures.count("data:image/png;base64,") == 5
    for title in ("+ N(0, I) — 105.00x", "+ gmm:10, the best fitted sampler — 1.38x", "+ full-gauss, the best fitted",
                  "real test images"):
        assert title in pictures
    for run_dir, sampler, grid in zip(prepared_runs, ("gmm:10", "full-gauss"), ("gmm_10-", "full-gauss.png")):
        assert grid_name(sampler).startswith(f"generated_{grid}")  # a spec with ':' takes a hash suffix
        assert (answered_report.parent / run_dir.name / grid_name(sampler)).exists()
    # the run's own question block draws its path profiles
    assert "realism along paths" in text and "void distance along paths" in text


def isolate_free(text: str) -> str:
    return text.replace("\u2068", "").replace("\u2069", "")


def test_the_answer_section_draws_in_a_real_browser(answered_report, chromium):
    dom = chromium("--dump-dom", answered_report.as_uri()).stdout
    match = re.search(r'data-zspace-status="([^"]*)"', dom)
    assert match, "the page's scripts did not finish"
    status = json.loads(match.group(1).replace("&quot;", '"'))
    assert status["errors"] == []
    assert status["answer_rows"] == 2 and status["answer_images_drawn"] == 5
    assert status["images_drawn"] == status["images"] > 5


def test_report_shows_the_open_question_table(prepared_runs, tmp_path):
    run_dir = tmp_path / "ae"
    shutil.copytree(prepared_runs[0], run_dir)
    prior = {"mmd2": 0.01234567, "mmd2_biased": 0.0124, "kernel": "imq", "kernel_scale": 8.0, "n_prior": 2000,
             "n_posterior": 2000, "posterior": "AE codes of the training images (no prior)"}
    (run_dir / "question.json").write_text(json.dumps(question_json(prior_mismatch=prior)))
    out = build_report([run_dir, prepared_runs[1]], tmp_path / "q.html", ("normal",))
    text = out.read_text()
    assert "The open question" in text
    assert "<td>prior MMD^2, N(0, I) vs the training codes</td><td>0.01235 (imq kernel, AE codes" in text
    rows = re.findall(r"<tr><td>(normal|gmm:10)</td><td>([^<]*)</td><td>([^<]*)</td>", text)
    assert ("gmm:10", "5.5", "1.375") in rows and ("normal", "420", "105") in rows
    section = text[text.index("The open question"):]
    assert section.index("<td>gmm:10</td>") < section.index("<td>normal</td>")  # sorted by FD
    assert "1.38 / 0.05" in text  # side-by-side cell: FD over floor / void share
    assert "comes closest &lt;to the floor&gt;" in text


def test_the_report_and_the_notebook_show_one_answer_table():
    """report.answer.sampler_table builds the table both show: one row per table_rows row, '-' for no void share."""
    from zspace.notebook import _answer_html
    from zspace.report.answer import sampler_table
    from zspace.science.question import table_rows

    answer = question_json(z_dim=4)
    answer["rows"].append({"sampler": "shell", "fd": 9.0, "fd_over_floor": 2.25, "precision": 0.3, "recall": 0.2,
                           "void_share": None})
    html = sampler_table(answer)
    rows = re.findall(r"<tr>((?:<td>[^<]*</td>)+)</tr>", html)
    assert len(rows) == len(table_rows(answer)) >= 3
    assert html.startswith('<table class=""><tr><th>sampler</th><th>FD</th><th>x floor</th>')
    assert "<td>gmm:10</td><td>5.5</td><td>1.375</td>" in html and "<td>0.2</td><td>-</td></tr>" in html
    assert sampler_table(answer, cls="zspace-answer").replace(' class="zspace-answer"', ' class=""') == html
    assert sampler_table(answer, cls="zspace-answer") in _answer_html(answer)


def test_report_shows_the_factor_measures_of_zspace_factors(prepared_runs, tmp_path):
    runs = []
    for source in prepared_runs:
        run_dir = tmp_path / source.name
        shutil.copytree(source, run_dir)
        assert main(["factors", str(run_dir), "--max-points", "1500"]) == 0  # default --out: RUN_DIR/factors
        runs.append(run_dir)
    text = build_report(runs, tmp_path / "f.html", ("normal",)).read_text()
    summary = json.loads((runs[1] / "factors" / "factors.json").read_text())
    assert text.count("Which directions encode which factors") == 2
    assert "Factors: MIG, DCI, SAP" in text  # the side-by-side table
    mig = summary["measures"]["axes"]["mig"]
    assert re.search(rf"<td>MIG \(axes\)</td><td>[^<]*</td><td>{re.escape(f'{mig:.4g}')}</td>", text), mig
    assert "traverse-axis" in text and "mi-pca.png" in text


def test_the_real_image_grid_shows_the_test_images_unclipped(prepared_runs, fast_report_config):
    from zspace.core.rows import seeded_subsample
    from zspace.pipeline.run import open_run

    run = open_run(prepared_runs[0])
    test = run.data_split("test").images
    first = np.asarray(test[seeded_subsample(len(test), fast_report_config.n_generated, fast_report_config.seed)[0]])
    grid = np.asarray(Image.open(prepared_runs[0] / "real_test.png"))
    h, w = first.shape[:2]
    k = max(1, 96 // h)  # small images are enlarged k times (nearest neighbour)
    cell = grid[k:k * (1 + h):k, k:k * (1 + w):k]  # the first cell, after the 1-pixel gutter
    np.testing.assert_array_equal(cell.reshape(first.shape), first)


def _linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA from its definition, in float64 (independent of zspace.analysis.compare)."""
    x = x.astype(np.float64) - x.mean(axis=0)
    y = y.astype(np.float64) - y.mean(axis=0)
    return float(np.linalg.norm(y.T @ x) ** 2 / (np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)))


def test_the_side_by_side_section_compares_the_two_latent_spaces(report, prepared_runs):
    text = report.read_text()
    ae, vae = (load_zstore(d / "z_test.npz") for d in prepared_runs)
    assert np.array_equal(ae.index, vae.index)
    row = re.search(r"<tr><td>[^<]*vae &amp; co[^<]*</td>(.*?)</tr>", text).group(1)
    cells = re.findall(r"<td>(.*?)</td>", row)
    assert cells[0].startswith(f"{_linear_cka(ae.codes, vae.codes):.3f} (")  # the VAE's mu, not its sampled z
    assert cells[-1] == f"{len(ae.index):,}"
    procrustes = float(cells[2])
    assert 0 < procrustes < 2


def test_runs_encoded_on_different_rows_are_not_compared_and_the_report_says_why(prepared_runs):
    ae, vae = (load_assets(open_run(d)) for d in prepared_runs)
    fewer = ZStore(z=vae.store.z[1:], index=vae.store.index[1:], mu=vae.store.mu[1:], meta=vae.store.meta)
    [(_, _, reason)] = space_comparisons([ae, dataclasses.replace(vae, store=fewer)])
    assert isinstance(reason, str) and "different rows of the test split" in reason
    [(_, _, result)] = space_comparisons([ae, vae])
    assert result.linear_cka == pytest.approx(_linear_cka(ae.store.codes, vae.store.codes), abs=1e-6)


def test_a_run_measured_by_zspace_holes_shows_its_hole_rates(prepared_runs, tmp_path):
    run = shutil.copytree(prepared_runs[0], tmp_path / "ae")   # a copy: the shared runs stay as they are
    result = holes(run, samplers=["full-gauss"], n=200, device="cpu")
    text = build_report([run], tmp_path / "report.html", ("normal",)).read_text()
    assert "Holes: prior mismatch" in text and "The planted hole of" not in text   # shapes without a hole
    full = result.holes.sets[1]
    assert f"<td>full-gauss</td><td>{full.void_rate:.0%}</td><td>{full.hole_rate:.0%}</td>" in text
