"""The demo end to end on a tiny configuration: every stage, its outputs, and reuse on a second run."""

import json
import time

import pytest

from zspace import demo
from zspace.demo import DemoConfig, DemoModel, format_summary, run_demo


def tiny_demo(**overrides) -> DemoConfig:
    options = dict(data="shapes,test=400", z_dim=4, filters=(8, 16), epochs=1, n_train=256, n_val=64, tsne_n=200,
                   tsne_iterations=60, pca_tsne_components=(2,), samplers=("normal",), device="cpu",
                   question_samplers=("normal", "diag-gauss"), question_n=64, question_reference=64, question_paths=2,
                   feature_images=256,
                   models=[DemoModel("ae", "ae"), DemoModel("tiny", "vae", 1e-5)])
    options.update(overrides)
    return DemoConfig(**options)


def test_demo_runs_every_stage_and_reuses_them(tmp_path):
    start = time.perf_counter()
    summary = run_demo(tmp_path, tiny_demo())
    wall = time.perf_counter() - start
    assert set(summary["models"]) == {"ae", "tiny"}
    assert summary["models"]["ae"]["active_units"] is None  # an AE has no mu/logvar
    assert 0 <= summary["models"]["tiny"]["active_units"] <= 4
    report = tmp_path / "report.html"
    text = report.read_text()
    assert "AE vs VAE side by side" in text
    # the answer comes first, made from this run's question.json
    assert text.index("Answer: do random points decode badly") < text.index("AE vs VAE side by side")
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert saved["models"]["tiny"]["fact"] == pytest.approx(1e-5)
    for name in ("ae", "tiny"):
        question = json.loads((tmp_path / name / "question.json").read_text())
        answer = saved["models"][name]["answer"]
        assert [r["sampler"] for r in answer["rows"]] == ["normal", "diag-gauss"]
        assert answer["best"]["sampler"] == "diag-gauss"  # the only fitted sampler
        assert answer["rows"][0]["x_floor"] == pytest.approx(question["rows"][0]["fd"] / question["floor"]["fd"])
        assert answer["sentence"].startswith(f"{name} (") and answer["sentence"] in format_summary(summary)
        assert (tmp_path / name / "generated_diag-gauss.png").exists() and (tmp_path / name / "real_test.png").exists()
    table = format_summary(summary)
    assert "ae" in table and "tiny" in table and "answer: FD / reconstruction floor" in table

    # where the time went: every stage of every model, and the leaves add up to the total, which is the wall time
    seconds = saved["seconds"]
    for name in ("ae", "tiny"):
        stages = seconds["models"][name]
        assert {"train", "encode", "question", "report assets", "analysis: radius", "analysis: tsne",
                "other"} <= set(stages)
        assert sum(v for k, v in stages.items() if k != "total") == pytest.approx(stages["total"], abs=0.1 * len(stages))
    leaves = sum(m["total"] for m in seconds["models"].values()) + seconds["report"] + seconds["other"]
    assert leaves == pytest.approx(seconds["total"], abs=0.3)
    assert seconds["total"] == pytest.approx(wall, rel=0.02, abs=0.5)
    assert "where the time went (s):" in table and f"total {seconds['total']:.1f}" in table

    finished = [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix in (".safetensors", ".npz", ".png")
                or p.name == "question.json"]
    stamps = {p: p.stat().st_mtime_ns for p in finished}
    run_demo(tmp_path, tiny_demo())
    assert {p: p.stat().st_mtime_ns for p in finished} == stamps

    # more epochs continue the finished runs instead of starting again
    run_demo(tmp_path, tiny_demo(epochs=2, models=[DemoModel("ae", "ae")]))
    epochs = [json.loads(line)["epoch"] for line in (tmp_path / "ae" / "metrics.jsonl").read_text().splitlines()]
    assert epochs == [1, 2]


def test_default_data_prefers_installed_fashion_mnist(monkeypatch):
    monkeypatch.setattr(demo, "is_available", lambda name: True)
    assert demo.default_data() == "fashion-mnist"
    monkeypatch.setattr(demo, "is_available", lambda name: False)
    assert demo.default_data() == "shapes"


def test_the_demo_settings_reach_the_battery_and_analyze_keeps_the_seeds_sizes():
    from zspace.analysis import BatteryConfig

    config = DemoConfig(tsne_n=1500, tsne_iterations=750, inertia_k_values=(2, 8, 14), inertia_n_init=1)
    battery = config.report_config().battery
    assert battery.tsne.sample_size == 1500 and battery.pca.tsne_sample_size == 1500
    assert {v.n_iter for v in battery.tsne.variants} == {750}
    assert battery.inertia.k_values == (2, 8, 14) and battery.inertia.n_init == 1
    assert battery.pca.tsne_components == config.pca_tsne_components
    seeds = BatteryConfig()  # what zspace analyze uses
    assert seeds.inertia.k_values == tuple(range(2, 81, 2)) and seeds.pca.tsne_components == (2, 4, 10)
    assert {v.n_iter for v in seeds.tsne.variants} == {1000}


def test_a_mistyped_question_sampler_fails_before_any_training(tmp_path):
    from zspace.core.errors import ZspaceError

    with pytest.raises(ZspaceError, match="unknown sampler 'gmmm'"):
        run_demo(tmp_path, tiny_demo(question_samplers=("normal", "gmmm:10")))
    assert not any(tmp_path.iterdir())  # nothing trained, nothing written

