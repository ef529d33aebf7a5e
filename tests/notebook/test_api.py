"""The notebook API (zspace.notebook): the same numbers as the battery and the CLI, shown inline, errors in one line."""

from __future__ import annotations

import base64
import inspect
import json
import re
import shutil

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

import zspace
from tiny_runs import train_tiny
from zspace import notebook
from zspace.analysis import BatteryConfig, InertiaConfig, from_arrays, run_battery
from zspace.analysis.factors import IMPORTANCE_MODELS, FactorConfig
from zspace.cli import build_parser, main
from zspace.core.errors import ZspaceError
from zspace.core.io import to_jsonable
from zspace.pipeline.generate import reconstruct
from zspace.pipeline.run import Run
from zspace.pipeline.run import open_run as open_pipeline_run
from zspace.science.quality.features import FeatureNetConfig
from zspace.science.quality.score import ScoreResult
from zspace.science.question import DEFAULT_SAMPLERS, PROTOCOLS, QuestionResult

#: a feature net that trains in about a second (scores are compared, not judged)
QUICK_FEATURES = FeatureNetConfig(epochs=1, max_train_images=256, batch_size=64)
#: the cheap analyses; k-means on a few k
CHEAP = {"only": ["axes", "radius", "inertia"], "inertia": {"k_values": [2, 4, 8]}}


@pytest.fixture(scope="module", autouse=True)
def _private_cache(tmp_path_factory):
    """Feature nets are cached in this module's own directory, never in the user's cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ZSPACE_CACHE", str(tmp_path_factory.mktemp("cache")))
        patch.setenv("ZSPACE_PROGRESS", "0")
        yield


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A trained tiny VAE run (tests/tiny_runs.py), for the methods of LabRun."""
    return train_tiny(tmp_path_factory, "vae")


@pytest.fixture(scope="module")
def points():
    """(400, 5) float32 points with unequal axis scales."""
    rng = np.random.default_rng(11)
    return (rng.standard_normal((400, 5)) * np.array([0.5, 1.0, 1.5, 2.0, 3.0])).astype(np.float32)


def one_line_error(call) -> str:
    with pytest.raises(ZspaceError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message, message
    return message


# ------------------------------------------------------------------------------------------------ analyze


def test_analyze_gives_the_numbers_of_run_battery_on_the_same_array(points):
    analysis = zspace.analyze(points, seed=7, **CHEAP)
    expected = run_battery(from_arrays(points), config=BatteryConfig(inertia=InertiaConfig(k_values=(2, 4, 8))),
                           only=CHEAP["only"], seed=7)
    assert analysis.names == CHEAP["only"]
    assert analysis.radius.to_json() == expected["results"]["radius"].to_json()
    assert analysis.to_dict()["analyses"] == to_jsonable(expected["report"]["analyses"])
    assert analysis.radius.max == pytest.approx(np.linalg.norm(points, axis=1).max(), rel=1e-6)
    assert json.loads(analysis.to_json())["seed"] == 7


def test_a_torch_tensor_is_an_input_too(points):
    from_numpy = zspace.analyze(points, **CHEAP)
    from_torch = zspace.analyze(torch.from_numpy(points).double().requires_grad_(), **CHEAP)
    assert from_torch.radius.to_json() == from_numpy.radius.to_json()
    assert from_torch.latents.source == "<array>"


def test_options_are_battery_config_fields_and_a_bad_one_is_a_one_line_error(points):
    message = one_line_error(lambda: zspace.analyze(points, tnse={"sample_size": 50}))
    assert "'tnse'" in message and "tsne" in message and "figure_dpi" in message
    message = one_line_error(lambda: zspace.analyze(points, only="radius,nope"))
    assert "nope" in message and "radius" in message
    analysis = zspace.analyze(points, only="inertia", inertia={"k_values": [3, 6]}, figure_dpi=50)
    assert list(analysis.inertia.k_values) == [3, 6] and analysis.config.figure_dpi == 50


def test_attributes_name_what_ran_and_say_why_the_others_did_not(points):
    analysis = zspace.analyze(points, only=["radius"])
    assert "radius" in dir(analysis)
    with pytest.raises(AttributeError, match="not run"):
        analysis.tsne
    everything = zspace.analyze(points[:60], only=None, inertia={"k_values": [2, 4]})
    assert "tsne" in everything.skipped
    with pytest.raises(AttributeError, match="skipped: t-SNE needs at least"):
        everything.tsne
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        everything.nothing


def test_plot_draws_from_the_stored_results_without_computing_again(points, monkeypatch):
    analysis = zspace.analyze(points, only=["radius", "pca", "planes"], pca={"tsne_components": []})
    monkeypatch.setattr("zspace.analysis.battery.radius_density", lambda *a, **k: pytest.fail("recomputed"))
    figure = analysis.plot("radius")
    assert isinstance(figure, Figure)
    assert f"{analysis.radius.wasserstein1_to_chi:.3g}" in figure._suptitle.get_text()
    assert analysis.plot("radius") is figure  # drawn once, kept
    assert isinstance(analysis.plot("pca_variance"), Figure)  # a figure stem
    assert "plane_pca_1_2" in one_line_error(lambda: analysis.plot("planes"))  # two figures: name one
    assert "radius" in one_line_error(lambda: analysis.plot("nope"))


def test_the_html_view_escapes_names_and_embeds_every_figure(points, tmp_path):
    hostile = tmp_path / '<b>&"x'
    hostile.mkdir()
    np.save(hostile / "z.npy", points)
    analysis = zspace.analyze(hostile / "z.npy", only=["radius", "inertia"], inertia={"k_values": [2, 4]})
    html = analysis._repr_html_()
    assert "<b>&" not in html and "&lt;b&gt;&amp;&quot;x" in html
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(images) == len(analysis.figures()) == 2
    assert all(base64.b64decode(image).startswith(b"\x89PNG") for image in images)
    assert "wasserstein1_to_chi" in html and "elbow_k" in html
    quiet = zspace.analyze(points, only=["radius"], figures=False)
    assert "data:image/png" not in quiet._repr_html_() and "peak_radius" in quiet._repr_html_()


def test_out_writes_the_files_of_zspace_analyze(points, tmp_path, capsys):
    np.save(tmp_path / "z.npy", points)
    analysis = zspace.analyze(tmp_path / "z.npy", out=tmp_path / "nb", only="axes,radius", seed=3)
    assert main(["analyze", tmp_path / "z.npy", "--out", tmp_path / "cli", "--only", "axes,radius",
                 "--seed", "3"]) == 0
    names = sorted(p.name for p in (tmp_path / "cli").iterdir())
    assert sorted(p.name for p in (tmp_path / "nb").iterdir()) == names and "radius.png" in names
    written = json.loads((tmp_path / "nb" / "analysis.json").read_text())
    assert written["analyses"] == json.loads((tmp_path / "cli" / "analysis.json").read_text())["analyses"]
    assert written["analyses"] == analysis.to_dict()["analyses"]


# ------------------------------------------------------------------------------------------------ a run


def test_open_run_gives_a_lab_run_that_every_run_function_takes(run_dir):
    run = zspace.open_run(run_dir)
    assert zspace.open_run is notebook.open_run
    assert isinstance(run, Run) and isinstance(run, zspace.LabRun)
    assert zspace.open_run(run) is run and isinstance(zspace.open_run(open_pipeline_run(run_dir)), zspace.LabRun)
    assert zspace.encode(run, n=8, device="cpu").z.shape == (8, 4)  # a pipeline function takes it
    assert "does not exist" in one_line_error(lambda: zspace.open_run(run_dir / "nope"))


def test_generate_gives_the_images_of_zspace_generate(run_dir, tmp_path, capsys):
    run = zspace.open_run(run_dir)
    z, images = run.generate("uniform:2", n=6, seed=5, device="cpu")
    assert main(["generate", run_dir, "--sampler", "uniform:2", "--n", "6", "--seed", "5", "--device", "cpu",
                 "--out", tmp_path / "g.npy"]) == 0
    assert z.shape == (6, 4) and np.array_equal(np.load(tmp_path / "g.npy"), images)
    assert not np.array_equal(run.generate("uniform:2", n=6, seed=6, device="cpu")[1], images)


def test_encode_gives_the_points_of_zspace_encode(run_dir, tmp_path, capsys):
    store = zspace.open_run(run_dir).encode(n=20, device="cpu")
    assert main(["encode", run_dir, "--n", "20", "--device", "cpu", "--out", tmp_path / "z.npz"]) == 0
    with np.load(tmp_path / "z.npz", allow_pickle=False) as written:
        assert np.array_equal(written["z"], store.z) and np.array_equal(written["mu"], store.mu)
    assert store.meta["split"] == "test"


def test_factors_writes_the_files_of_zspace_factors(run_dir, tmp_path, capsys):
    from zspace.factors import FactorsConfig

    config = FactorsConfig(analysis=FactorConfig(max_points=300, importance="lasso"))
    outcome = zspace.open_run(run_dir).factors(tmp_path / "nb", config, seed=3, device="cpu")
    assert main(["factors", run_dir, "--out", tmp_path / "cli", "--max-points", "300", "--importance", "lasso",
                 "--seed", "3", "--device", "cpu"]) == 0
    ours, cli = (json.loads((tmp_path / d / "factors.json").read_text()) for d in ("nb", "cli"))
    for summary in (ours, cli):
        summary["measures"].pop("seconds")  # wall times
    assert ours.pop("source") == str(run_dir) and cli.pop("source") == str(run_dir)
    assert ours == cli  # the same measures, traversals and figure names for the same seed
    assert outcome.summary_path == tmp_path / "nb" / "factors.json"
    assert "mi-axes.png" in ours["figures"] and "paths-data.png" in ours["figures"]
    grids = [name for name in ours["figures"] if not name.startswith("mi-")]  # (the heat maps' titles name the input)
    assert grids and all((tmp_path / "nb" / name).read_bytes() == (tmp_path / "cli" / name).read_bytes()
                         for name in grids)


def test_reconstruct_passes_n_and_seed_through(run_dir):
    originals, recos = zspace.open_run(run_dir).reconstruct(4, seed=2, device="cpu")
    expected = reconstruct(open_pipeline_run(run_dir), n=4, seed=2, device="cpu")
    assert originals.shape == recos.shape == (4, 28, 28, 1)
    assert np.array_equal(originals, expected[0]) and np.array_equal(recos, expected[1])
    assert not np.array_equal(zspace.open_run(run_dir).reconstruct(4, seed=3, device="cpu")[0], originals)


def test_a_run_analyzes_its_encoded_test_split(run_dir):
    analysis = zspace.open_run(run_dir).analyze(n=150, only=["radius", "vae"], device="cpu", seed=1)
    expected = zspace.analyze(zspace.encode(run_dir, n=150, device="cpu", seed=1), only=["radius"], seed=1)
    assert analysis.latents.n_points == 150 and analysis.radius.to_json() == expected.radius.to_json()
    assert analysis.vae.to_json() and "test split" in analysis.latents.source


def test_score_and_question_return_json_ready_results_and_an_escaped_answer_table(run_dir, tmp_path):
    hostile = tmp_path / "<i>run&"
    shutil.copytree(run_dir, hostile)
    run = zspace.open_run(hostile)
    result = run.score("normal", n=64, n_reference=64, device="cpu", feature_config=QUICK_FEATURES)
    assert isinstance(result, ScoreResult) and result.sampler.n == 64
    assert json.loads((hostile / "scores" / "normal.json").read_text()) == json.loads(json.dumps(to_jsonable(result)))
    answer = run.question(samplers=["normal", "gmm:2"], n=64, n_reference=64, n_paths=0, device="cpu",
                          feature_config=QUICK_FEATURES)
    assert isinstance(answer, QuestionResult) and [r.sampler for r in answer.answers[0].rows] == ["normal", "gmm:2"]
    assert answer.to_dict() == [json.loads((hostile / "question.json").read_text())]
    html = answer._repr_html_()
    assert "<i>" not in html and "&lt;i&gt;run&amp;" in html
    for sampler in ("normal", "gmm:2", "reconstruction (floor)", "shuffled pixels (ceiling)"):
        assert f"<td>{sampler}</td>" in html
    assert re.search(r"<td>\d+(\.\d+)?(e[-+]\d+)?</td>", html)
    assert "lower n" in one_line_error(lambda: run.question(samplers="normal", n=10 ** 15))


#: command, its extra arguments, the LabRun method or API function, {CLI option: parameter of the called function}
CLI_DEFAULTS = [
    ("encode", ["--out", "z.npz"], "encode", {"split": "split", "n": "n", "batch_size": "batch_size", "seed": "seed",
                                             "device": "device", "epoch": "epoch", "precision": "precision"}),
    ("generate", ["--out", "g.npy"], "generate", {"sampler": "sampler", "n": "n", "seed": "seed", "device": "device"}),
    ("reconstruct", ["--out", "r.png"], "reconstruct", {"n": "n", "seed": "seed", "device": "device"}),
    ("score", [], "score", {"sampler": "sampler", "n": "n", "n_reference": "n_reference", "k": "k", "seed": "seed",
                            "device": "device"}),
    ("question", [], "question", {"samplers": "samplers", "n": "n", "n_reference": "n_reference", "paths": "n_paths",
                                  "seed": "seed", "device": "device"}),
    ("factors", [], "factors", {"out": "out", "seed": "seed", "device": "device", "epoch": "epoch",
                                "precision": "precision"}),
]
#: what the notebook method's function defaults to, by command
CALLED = {"encode": notebook.ENCODE, "generate": notebook.GENERATE, "reconstruct": notebook.RECONSTRUCT,
          "score": notebook.SCORE, "question": notebook.QUESTION, "factors": notebook.FACTORS}


@pytest.mark.parametrize("command, extra, method, options", CLI_DEFAULTS, ids=[c[0] for c in CLI_DEFAULTS])
def test_method_defaults_are_the_command_line_defaults(command, extra, method, options):
    args = build_parser().parse_args([command, "RUN_DIR", *extra])
    signature = inspect.signature(getattr(zspace.LabRun, method)).parameters
    for option, parameter in options.items():
        cli = getattr(args, option)
        cli = tuple(DEFAULT_SAMPLERS) if option == "samplers" and cli is None else cli
        if command == "question" and cli is None:  # --n and --n-reference default to the protocol's (zspace)
            cli = getattr(PROTOCOLS[args.protocol], option)
        ours = signature[parameter].default if parameter in signature else CALLED[command][parameter]
        assert ours == cli, f"zspace {command} --{option} defaults to {cli!r}, LabRun.{method} to {ours!r}"


def test_factors_defaults_and_choices_are_the_command_line_ones():
    args = build_parser().parse_args(["factors", "RUN_DIR"])
    signature = inspect.signature(zspace.LabRun.factors).parameters
    assert signature["figures"].default == (not args.no_figures)
    # --max-points and --importance default to the config's own values, and --importance offers every model
    assert (args.max_points, args.importance) == (None, None) and signature["config"].default is None
    assert list(IMPORTANCE_MODELS) == ["gbt", "lasso", "gbc"] and FactorConfig().importance == "gbt"
    for name in IMPORTANCE_MODELS:  # gbc too, which the command line once left out
        assert build_parser().parse_args(["factors", "RUN_DIR", "--importance", name]).importance == name


def test_analyze_defaults_are_the_command_line_defaults():
    args = build_parser().parse_args(["analyze", "z.npy", "--out", "d"])
    signature = inspect.signature(zspace.analyze).parameters
    assert (signature["seed"].default, signature["only"].default, signature["key"].default) == \
        (args.seed, args.only, args.key)
    assert BatteryConfig.from_dict({}).figures == (not args.no_figures)
