"""The score and the question table on a tiny run: floors, ceilings, stored JSON, the generated sentence."""

from __future__ import annotations

import json

import numpy as np
import pytest

from zspace.cli import main
from zspace.science.quality.features import FeatureNetConfig
from zspace.science.quality.score import CEILING, FLOOR, Scorer, score
from zspace.science.question import answer_run

QUICK_FEATURES = FeatureNetConfig(epochs=3, max_train_images=3000, batch_size=32)


@pytest.fixture(scope="module")
def scorer(ae_run):
    return Scorer(ae_run, n_reference=300, device="cpu", feature_config=QUICK_FEATURES)


def test_feature_net_learned_the_labels(scorer):
    info = scorer.features.info()
    assert info["task"] == "labels" and info["n_classes"] == 3
    assert info["test_accuracy"] > 0.6  # chance is ~1/3
    assert list(scorer.features.path.glob("*.pkl")) == []


def test_real_images_against_themselves_score_perfectly(scorer):
    from zspace.data import load_images

    test = load_images("shapes", "test", seed=3)
    order = np.random.default_rng(scorer.seed).permutation(len(test))
    same = test.images[np.sort(order[:scorer.n_reference])]  # exactly the reference half
    row = scorer.score_images(same, "real")
    assert row.fd == pytest.approx(0.0, abs=1e-4)
    assert row.precision == 1.0 and row.recall == 1.0


def test_floor_and_ceiling_rows(scorer):
    assert scorer.floor.name == FLOOR and scorer.ceiling.name == CEILING
    assert scorer.floor.n == scorer.ceiling.n == scorer.n_reference == 300
    assert scorer.ceiling.precision < 0.2  # shuffled pixels are not shapes


def test_score_stores_json(ae_run):
    result = score(ae_run, "diag-gauss", n=200, n_reference=200, device="cpu", feature_config=QUICK_FEATURES)
    stored = json.loads((ae_run / "scores" / "diag-gauss.json").read_text())
    assert stored["sampler"]["fd"] == pytest.approx(result.sampler.fd)
    assert stored["floor"]["name"] == FLOOR and stored["sampler"]["n"] == 200
    assert "FD / floor" in result.format()


def test_question_answer_on_a_run(vae_run):
    answer = answer_run(vae_run, samplers=("normal", "diag-gauss", "interp:3"), n=200, n_reference=200,
                        n_void_reference=400, n_paths=4, n_id_points=400, device="cpu", feature_config=QUICK_FEATURES)
    assert [r.sampler for r in answer.rows] == ["normal", "diag-gauss", "interp:3"]
    # interpolating between neighbours never leaves the training cloud's reach
    interp = answer.rows[2]
    assert interp.void_share < 0.05
    assert answer.active_units is not None and 0 <= answer.active_units <= 4
    assert 0 < answer.intrinsic_dim.twonn <= 6
    # the sentence follows the "too weak to tell" rule, read here from the numbers by hand
    share = answer.floor.fd / answer.ceiling.fd
    weak = share >= 0.5 or (share >= 0.2 and max(r.fd_over_floor for r in answer.rows) <= 1.5)
    if weak:
        assert "too weak to tell the samplers apart" in answer.sentence and "closest" not in answer.sentence
    else:
        assert answer.best().sampler in answer.sentence and "floor" in answer.sentence
    profile = {p.kind: p for p in answer.paths.profiles}
    assert profile["encoded"].void_distance[0] < 0.02  # ends are training codes (float32 distance round-off)
    stored = json.loads((vae_run / "question.json").read_text())
    assert stored["rows"][0]["sampler"] == "normal" and "sentence" in stored
    # the prior-vs-aggregate-posterior MMD (zspace.science.holes) of this VAE's mu + sigma * eps
    assert stored["prior_mismatch"]["posterior"].startswith("VAE aggregate posterior")
    assert stored["prior_mismatch"]["mmd2"] == answer.prior_mismatch.mmd2 and stored["prior_mismatch"]["n_prior"] == 2000


def test_cli_question_prints_the_table(ae_run, tmp_path, capsys, monkeypatch):
    import zspace.science.question as q

    monkeypatch.setattr(q, "Scorer", lambda *a, **k: Scorer(*a, **{**k, "feature_config": QUICK_FEATURES}))
    md = tmp_path / "q.md"
    assert main(["question", str(ae_run), "--sampler", "normal", "--sampler", "full-gauss", "--n", "150",
                 "--n-reference", "150", "--paths", "0", "--device", "cpu", "--markdown", str(md)]) == 0
    out = capsys.readouterr().out
    assert "reconstruction" in out and "shuffled pixels" in out and "full-gauss" in out
    assert "| sampler | FD |" in md.read_text()


def test_reading_names_a_sampler_that_decodes_well_from_voids():
    from zspace.science.intrinsic_dim import IntrinsicDimResult
    from zspace.science.quality.score import QualityRow
    from zspace.science.question import RunAnswer, SamplerRow, reading

    row = lambda name, fd, void: SamplerRow(name, 100, fd, fd / 2.0, 0.5, 0.5, void, 1.0)  # noqa: E731
    floor = QualityRow(FLOOR, 100, 2.0, 0.9, 0.9, 1.2)
    ceiling = QualityRow(CEILING, 100, 100.0, 0.0, 0.0, 9.0)
    answer = RunAnswer(run="r", label="r", kind="vae", z_dim=4, fact=1.0, epoch=1,
                       rows=[row("normal", 8.0, 1.0), row("uniform:2", 4.0, 0.95), row("gmm:10", 3.0, 0.05)],
                       floor=floor, ceiling=ceiling, intrinsic_dim=IntrinsicDimResult(2, 2, 10, 4, 5, 10, 0.1, 0),
                       active_units=4, void_threshold=1.0, void_fd_spearman=0.5, paths=None, feature_net={})
    text = reading(answer)
    assert text.startswith("r: the sampler closest to the reconstruction floor is gmm:10 (FD 3 = 1.50x")
    assert "uniform:2 decodes within 2.0x of the floor although 95% of its points lie in voids" in text
    assert "normal draws are 4.0x the floor" in text

    # the same samplers behind a floor as far from the real images as shuffled pixels: no winner named
    answer.ceiling = QualityRow(CEILING, 100, 2.5, 0.0, 0.0, 9.0)
    weak = reading(answer)
    assert weak.startswith("r: too weak to tell the samplers apart: its own reconstructions are 0.80x as far")
    assert "gmm:10" not in weak
