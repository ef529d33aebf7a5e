"""The demo end to end on a tiny configuration: every stage, its outputs, and reuse on a second run."""

import json

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
    summary = run_demo(tmp_path, tiny_demo())
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
