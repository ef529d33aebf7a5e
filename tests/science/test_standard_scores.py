"""The field's standard scores: FID/KID as torch-fidelity computes them, offline, beside zspace's own score.

The real Inception weights are a 95 MB download zspace never makes; these tests build torch-fidelity's
Inception-v3 with random weights (tests/inception_stub.py), save it as the real file is saved and pass its own
digest. On this shared 2-core CPU the full net costs ~0.2-2 s per image (every image becomes 299 x 299) and
FID's eigenvalues of a 2048 x 2048 product 10-40 s, so the test against torch-fidelity's ``calculate_metrics``
reads both at torch-fidelity's first feature layer ("64": the same resize, weights file and code path, 64
features) on 6 images against 8, and the wiring tests replace the net by a cheap feature map after the weights
file has been checked.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from inception_stub import import_torch_fidelity, random_inception_weights
from zspace.cli import main
from zspace.core.errors import ZspaceError
from zspace.report.answer import sampler_table
from zspace.science.quality import standard
from zspace.science.quality.features import FeatureNetConfig
from zspace.science.quality.frechet import frechet_distance, frechet_distance_from_stats
from zspace.science.quality.score import Scorer, score
from zspace.science.quality.standard import (HINT, INCEPTION_SHA256, INCEPTION_URL, StandardConfig, StandardScorer,
                                             check_weights, density_coverage, inception_input)
from zspace.science.question import finding, standard_table_rows

QUICK_FEATURES = FeatureNetConfig(epochs=1, max_train_images=600, batch_size=64)
N = 8  # images per set in the wiring tests


@pytest.fixture(scope="module")
def torch_fidelity(skip_or_fail_on_ci):
    try:
        return import_torch_fidelity()
    except ImportError as exc:  # the optional extra: part of dev, so CI has it
        skip_or_fail_on_ci(f"torch-fidelity is not installed (pip install '.[fidelity]'): {exc}")


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory, torch_fidelity):
    """(path, its SHA-256) of a random-init Inception-v3 state dict in the real file's format."""
    path = tmp_path_factory.mktemp("inception") / "random-inception.pth"
    return path, random_inception_weights(path, seed=0)


@pytest.fixture(name="no_weights_env")
def no_weights_env_fixture(monkeypatch):
    monkeypatch.delenv(standard.WEIGHTS_ENV, raising=False)


def _squares(seed: int, n: int) -> np.ndarray:
    """n grey 28x28 uint8 images: a bright square at a random place on a dark noisy background."""
    rng = np.random.default_rng(seed)
    out = rng.integers(0, 40, (n, 28, 28, 1), dtype=np.uint8)
    for img, (y, x) in zip(out, rng.integers(2, 18, (n, 2))):
        img[y:y + 8, x:x + 8] = 230
    return out


# -- the formulas ---------------------------------------------------------------------------------------------------

def test_frechet_distance_equals_the_closed_form_for_two_gaussians():
    # diagonal covariances: FD = |m1 - m2|^2 + sum_i (s1_i - s2_i)^2 with s the standard deviations
    m1, m2 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.5])
    s1, s2 = np.array([1.0, 2.0, 0.5]), np.array([3.0, 0.5, 0.5])
    expected = np.sum((m1 - m2) ** 2) + np.sum((s1 - s2) ** 2)
    assert frechet_distance_from_stats(m1, np.diag(s1 ** 2), m2, np.diag(s2 ** 2)) == pytest.approx(expected, rel=1e-12)
    # a non-commuting 2-d pair: for 2x2 PSD M, tr sqrt(M) = sqrt(tr M + 2 sqrt(det M)), with
    # M = C1^1/2 C2 C1^1/2, tr M = tr(C1 C2) and det M = det C1 det C2
    c1 = np.array([[2.0, 0.6], [0.6, 1.0]])
    angle = 0.7
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    c2 = rot @ np.diag([3.0, 0.2]) @ rot.T
    cross = np.sqrt(np.trace(c1 @ c2) + 2 * np.sqrt(np.linalg.det(c1) * np.linalg.det(c2)))
    expected = 1.25 + np.trace(c1) + np.trace(c2) - 2 * cross
    assert frechet_distance_from_stats(np.zeros(2), c1, np.array([1.0, 0.5]), c2) == pytest.approx(expected, rel=1e-12)
    # and from samples of those Gaussians, within the estimate's spread
    rng = np.random.default_rng(0)
    a = rng.multivariate_normal(np.zeros(2), c1, 200_000)
    b = rng.multivariate_normal([1.0, 0.5], c2, 200_000)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=0.02)


def test_density_and_coverage_follow_prdc(skip_or_fail_on_ci):
    try:
        import prdc
    except ImportError:  # part of dev, so CI has it
        skip_or_fail_on_ci("prdc is not installed (pip install prdc)")
    rng = np.random.default_rng(1)
    real = rng.standard_normal((60, 16)).astype(np.float32)
    fake = (rng.standard_normal((50, 16)) * 1.3 + 0.4).astype(np.float32)
    theirs = prdc.compute_prdc(real_features=real, fake_features=fake, nearest_k=5)
    density, coverage = density_coverage(real, fake, k=5)
    assert density == pytest.approx(theirs["density"], abs=1e-12)
    assert coverage == pytest.approx(theirs["coverage"], abs=1e-12)
    assert 0 < coverage < 1 and density > 0  # neither bound: the comparison means something


def test_grey_and_float_images_become_three_uint8_channels():
    grey = np.linspace(0, 1, 2 * 5 * 4).reshape(2, 5, 4, 1).astype(np.float32)
    x = inception_input(grey)
    assert x.dtype == torch.uint8 and tuple(x.shape) == (2, 3, 5, 4)
    assert torch.equal(x[:, 0], x[:, 2]) and int(x.max()) == 255 and int(x.min()) == 0


# -- the weights file -------------------------------------------------------------------------------------------

def test_the_known_digest_matches_the_file_name():
    # torch.hub names a file by the start of its SHA-256
    assert standard.INCEPTION_FILE.endswith(f"-{INCEPTION_SHA256[:8]}.pth")
    assert INCEPTION_URL.endswith(standard.INCEPTION_FILE)


def test_a_file_with_another_digest_is_refused(tmp_path):
    bogus = tmp_path / "weights-inception-2015-12-05-6726825d.pth"
    bogus.write_bytes(b"not the Inception weights")
    with pytest.raises(ZspaceError) as info:
        check_weights(bogus)
    message = str(info.value)
    assert str(bogus) in message and INCEPTION_URL in message and "\n" not in message
    with pytest.raises(ZspaceError, match="no such file"):
        check_weights(tmp_path / "missing.pth")


def test_the_commands_refuse_a_wrong_file_before_the_feature_net(ae_run, tmp_path, capsys, monkeypatch):
    bogus = tmp_path / "inception.pth"
    bogus.write_bytes(b"\0" * 64)
    monkeypatch.setattr("zspace.science.quality.score.feature_extractor",
                        lambda *a, **k: pytest.fail("the feature net was built before the weights were checked"))
    assert main(["score", str(ae_run), "--n", "8", "--n-reference", "8", "--device", "cpu",
                 "--inception-weights", str(bogus)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(bogus) in err and "SHA-256" in err
    monkeypatch.setenv(standard.WEIGHTS_ENV, str(bogus))  # the environment variable is read the same way
    assert main(["question", str(ae_run), "--n", "8", "--n-reference", "8", "--paths", "0", "--device", "cpu",
                 "--sampler", "normal"]) == 2
    assert str(bogus) in capsys.readouterr().err


# -- the numbers: torch-fidelity's own computation --------------------------------------------------------------

class _Images(torch.utils.data.Dataset):
    """Images as torch-fidelity reads a data set: (3, H, W) uint8 tensors."""

    def __init__(self, images: np.ndarray) -> None:
        self.x = inception_input(images)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.x[i]


def test_fid_and_kid_equal_torch_fidelitys_calculate_metrics(random_weights, torch_fidelity):
    path, digest = random_weights
    layer = "64"  # torch-fidelity's first feature layer: its calculate_metrics takes it for every metric too
    real = _squares(0, 8)
    # generated images as a decoder gives them, float in [0, 1]: half squares, half noise
    fake = np.concatenate([_squares(1, 3).astype(np.float32) / 255.0,
                           np.random.default_rng(2).random((3, 28, 28, 1), dtype=np.float32)])
    config = StandardConfig(weights=str(path), expected_sha256=digest, feature_layer=layer)
    scorer = StandardScorer(real, config, device="cpu")
    ours = scorer.score_images(fake)
    # torch-fidelity's own run: its data loading, its Inception forward, its metrics (all in Inception features)
    theirs = torch_fidelity.calculate_metrics(
        input1=_Images(fake), input2=_Images(real), fid=True, kid=True, prc=True, kid_subset_size=6, cuda=False,
        feature_extractor="inception-v3-compat", feature_extractor_weights_path=str(path), save_cpu_ram=True,
        feature_layer_fid=layer, feature_layer_kid=layer, feature_layer_prc=layer, cache=False, verbose=False)
    assert ours.fid == pytest.approx(theirs["frechet_inception_distance"], rel=1e-4)
    assert ours.kid == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-4)
    # subsets of 6 of 6 and of 8: the spread is a real one (the real images differ between subsets)
    assert ours.kid_std == pytest.approx(theirs["kernel_inception_distance_std"], rel=1e-4)
    assert (ours.precision, ours.recall) == (theirs["precision"], theirs["recall"])
    assert ours.fid > 1.0 and ours.kid > 1e-3  # sets apart: the relative match is a real check
    assert 0 < ours.precision < 1  # half the fakes are noise
    assert scorer.real.shape == (8, 64) and scorer.info()["feature_dim"] == 64
    assert StandardConfig().feature_layer == "2048"  # what zspace score and question use: the FID of papers


# -- the wiring: score, question, report, summary ---------------------------------------------------------------

class _CheapInception(standard.InceptionFeatures):
    """The weights file is checked as for the real net; features are 4x4-pooled pixels (48 numbers), not Inception."""

    def __init__(self, weights, expected_sha256=INCEPTION_SHA256, batch_size=64, device="auto", layer="2048") -> None:
        self.path = check_weights(weights, expected_sha256)
        self.sha256 = expected_sha256
        self.layer = layer

    def __call__(self, images: np.ndarray) -> np.ndarray:
        x = inception_input(images).float() / 255.0
        return torch.nn.functional.adaptive_avg_pool2d(x, 4).flatten(1).numpy()


@pytest.fixture(name="cheap_inception")
def cheap_inception_fixture(monkeypatch, torch_fidelity):
    monkeypatch.setattr(standard, "InceptionFeatures", _CheapInception)


def test_score_shows_the_standard_columns_beside_its_own(ae_run, tmp_path, cheap_inception, no_weights_env):
    weights = tmp_path / "w.pth"
    weights.write_bytes(b"stand-in weights")
    from zspace.core.checksums import file_sha256

    config = StandardConfig(weights=str(weights), expected_sha256=file_sha256(weights))
    result = score(ae_run, "normal", n=N, n_reference=N, device="cpu", feature_config=QUICK_FEATURES,
                   standard=config)
    for row in (result.floor, result.sampler, result.ceiling):
        assert row.standard is not None and np.isfinite(row.standard.fid) and 0 <= row.standard.coverage <= 1
    assert result.sampler.standard.fid != result.floor.standard.fid  # each set measured on its own images
    text = result.format()
    assert "zspace feature net" in text and "Inception-v3, torch-fidelity" in text and "FID" in text
    assert HINT not in text
    stored = json.loads((ae_run / "scores" / "normal.json").read_text())
    assert stored["sampler"]["standard"]["fid"] == pytest.approx(result.sampler.standard.fid)
    assert stored["standard_net"]["label"] == "Inception-v3, torch-fidelity"


def _answer_section(answer: dict, root) -> str:
    """The report's Answer section (zspace.report.build) for one run's question.json content."""
    from types import SimpleNamespace

    from zspace.report.build import _answer
    from zspace.report.html import Page

    page = Page("t")
    _answer(page, [SimpleNamespace(name="ae", question=answer, run=SimpleNamespace(root=root))])
    return page.render()


def test_question_report_and_summary_carry_the_columns_or_the_hint(ae_run, cheap_inception, no_weights_env,
                                                                   tmp_path, capsys, monkeypatch):
    import zspace.science.question as q

    original = q.Scorer
    monkeypatch.setattr(q, "Scorer", lambda *a, **k: original(*a, **{**k, "feature_config": QUICK_FEATURES}))
    options = dict(samplers=("normal", "diag-gauss"), n=N, n_reference=N, n_void_reference=100, n_paths=0,
                   n_id_points=100, device="cpu")
    # without weights: no columns, and the console says how to get them
    plain = q.question([ae_run], **options)
    assert HINT in plain.format() and "Inception-v3, torch-fidelity\n" not in plain.format()
    assert "coverage" not in plain.format()
    answer = q.answer_json(plain.answers[0])
    assert standard_table_rows(answer) is None and "FID" not in sampler_table(answer)
    assert "standard" not in finding(answer)
    assert HINT in _answer_section(answer, tmp_path) and "floor FID" not in _answer_section(answer, tmp_path)
    # with them: every row has them, the tables label each net
    weights = tmp_path / "w.pth"
    weights.write_bytes(b"stand-in weights")
    from zspace.core.checksums import file_sha256

    config = StandardConfig(weights=str(weights), expected_sha256=file_sha256(weights))
    result = q.question([ae_run], standard=config, **options)
    answer = json.loads((ae_run / "question.json").read_text())
    assert answer["standard_net"]["label"] == "Inception-v3, torch-fidelity"
    assert all(r["standard"]["fid"] >= 0 for r in answer["rows"])
    html = sampler_table(answer)
    assert "FD (zspace feature net)" in html and "FID (Inception-v3, torch-fidelity)" in html
    assert HINT not in result.format() and "Inception-v3, torch-fidelity" in result.markdown()
    section = _answer_section(answer, tmp_path)
    assert HINT not in section and "floor FID" in section and "Frechet Inception Distance" in section
    found = finding(answer)  # what summary.json carries per model
    assert found["standard"]["feature_net"] == "Inception-v3, torch-fidelity"
    assert [r["standard"]["fid"] for r in found["rows"]] == [r["standard"]["fid"] for r in answer["rows"]]


def test_the_rae_protocol_sets_options_that_the_command_line_overrides(ae_run, monkeypatch, no_weights_env):
    import zspace.commands.question as command
    from zspace.science.question import QuestionResult

    seen = []
    monkeypatch.setattr(command, "question", lambda runs, **options: seen.append(options) or QuestionResult())
    assert main(["question", str(ae_run), "--protocol", "rae"]) == 0
    assert seen[-1]["samplers"] == ("normal", "gmm:10") and seen[-1]["n"] == 10000
    assert seen[-1]["n_reference"] == 5000
    assert main(["question", str(ae_run), "--protocol", "rae", "--n", "7", "--sampler", "gmm:3"]) == 0
    assert seen[-1]["samplers"] == ("gmm:3",) and seen[-1]["n"] == 7
    assert main(["question", str(ae_run)]) == 0  # the default protocol is zspace's own
    assert seen[-1]["n"] == 5000 and "flow" in seen[-1]["samplers"]
