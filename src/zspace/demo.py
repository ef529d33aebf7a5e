"""The demo: train an AE, a VAE and a tiny-KL VAE, ask each the open question, analyse, write the report.

Stages per model: train; the question (``zspace question``: fitted samplers
beside N(0, I) and uniform, scored against held-out images with the
reconstruction floor and the ceiling, void shares, intrinsic dimension, path
profiles; ``RUN_DIR/question.json``); the report's assets. Then the report,
which opens with the answer, and ``summary.json``, which carries it.

Data: Fashion-MNIST when it is on disk (Debian package ``dataset-fashion-mnist``
or $ZSPACE_DATA), else the built-in ``shapes`` set, so the demo never
downloads. Every stage writes its result into ``OUT`` and is skipped when that
result is already there, so re-running (or continuing an interrupted demo)
reuses finished work.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zspace.analysis import BatteryConfig
from zspace.core import io, timing
from zspace.core.config import Config
from zspace.core.layout import RunLayout
from zspace.core.log import get_logger
from zspace.core.names import unique_stems
from zspace.data.idx import is_available
from zspace.models import ModelConfig
from zspace.pipeline.run import Run, open_run
from zspace.pipeline.train import TrainConfig, resume, train
from zspace.report import ReportConfig, build_report, load_assets, prepare_run
from zspace.science.quality.features import FeatureNetConfig
from zspace.science.quality.standard import StandardConfig
from zspace.science.question import answer_json, answer_run, finding
from zspace.science.samplers import SAMPLERS, make_sampler
from zspace.science.samplers.flow import INSTALL_HINT, ZukoFlowSampler, zuko_available

log = get_logger(__name__)


@dataclass
class DemoModel:
    """One model of the demo: a name (its sub-directory, made a file stem by :func:`zspace.core.names.unique_stems`),
    kind and KL weight ``fact``."""

    name: str
    kind: str
    fact: float = 0.0


def default_data() -> str:
    """``fashion-mnist`` when its files are on disk, else ``shapes``."""
    return "fashion-mnist" if is_available("fashion-mnist") else "shapes"


@dataclass
class DemoConfig(Config):
    """What the demo trains and analyses; :meth:`quick` is the two-minute variant.

    The full demo's budget is 5 minutes on 2 CPU cores (measured 550 s on the
    benchmarks' machine, which is 2.2x slower than the one the budget was set
    on: benchmarks/bench_demo.py, benchmarks/RESULTS.md), and it goes where the
    answer is: to training and to the question stage. The models are smaller than the CelebA ones
    (filters 32, 64, 128) with a 64-d latent space: at the same training time
    a z_dim 64 AE reaches a lower reconstruction floor and a better fitted
    sampler than z_dim 16 (benchmarks/bench_default_model.py). The report's
    maps are made cheaper (benchmarks/bench_demo_maps.py measures each choice):
    ``tsne_n`` points per t-SNE map (Barnes-Hut, one neighbour search for both
    settings), one t-SNE map of the PCA components (``pca_tsne_components``)
    and a coarser k-means inertia curve (``inertia_k_values``,
    ``inertia_n_init``). ``zspace analyze`` keeps the seeds' sizes. The
    question leaves out the MAF ``flow`` (its fit cost more than the rest of
    the question, and gmm:10 came closer to the floor on every model).
    """

    data: str | None = None  # None: default_data()
    z_dim: int = 64
    filters: tuple[int, ...] = (32, 64, 128)
    epochs: int = 3
    n_train: int | None = 36000
    n_val: int | None = 2000
    batch_size: int = 128
    seed: int = 0
    device: str = "auto"
    n_encode: int | None = None
    tsne_n: int = 1500
    tsne_iterations: int = 750
    pca_tsne_components: tuple[int, ...] = (2,)
    inertia_k_values: tuple[int, ...] = tuple(range(2, 81, 6))
    inertia_n_init: int = 1
    samplers: tuple[str, ...] = ("normal", "uniform:2", "uniform:10")
    question_samplers: tuple[str, ...] = ("normal", "uniform:2", "diag-gauss", "full-gauss", "gmm:10")
    question_n: int = 2000
    question_reference: int = 2000
    question_paths: int = 16
    feature_images: int = 30000
    models: list[DemoModel] = field(default_factory=lambda: [
        DemoModel("ae", "ae"), DemoModel("vae", "vae", 1.0), DemoModel("vae_tiny_kl", "vae", 1e-5)])

    @classmethod
    def quick(cls, **overrides: Any) -> "DemoConfig":
        """The demo in about two minutes: the AE and the VAE (the tiny-KL VAE is the full demo's), 10,000
        images x 2 epochs (enough for N(0, I) to land far from an AE's floor), small maps, fewer scored points."""
        return cls(**{"epochs": 2, "n_train": 10000, "n_val": 1000, "n_encode": 2000, "tsne_n": 800,
                      "tsne_iterations": 300, "question_n": 500, "question_reference": 500, "question_paths": 8,
                      "feature_images": 5000, "models": [DemoModel("ae", "ae"), DemoModel("vae", "vae", 1.0)],
                      **overrides})

    def report_config(self) -> ReportConfig:
        """The report settings of the demo; ``seed`` is the demo's own."""
        battery = BatteryConfig().with_tsne_points(self.tsne_n)
        variants = tuple(dataclasses.replace(v, n_iter=self.tsne_iterations) for v in battery.tsne.variants)
        battery = dataclasses.replace(
            battery, tsne=dataclasses.replace(battery.tsne, variants=variants),
            pca=dataclasses.replace(battery.pca, tsne_components=self.pca_tsne_components),
            inertia=dataclasses.replace(battery.inertia, k_values=self.inertia_k_values, n_init=self.inertia_n_init))
        return ReportConfig(samplers=self.samplers, seed=self.seed, device=self.device, battery=battery,
                            n_encode=self.n_encode, max_scatter_points=20000)


def train_stage(model: DemoModel, config: DemoConfig, data: str, run_dir: Path) -> None:
    """Train ``model`` of the demo into ``run_dir``: a finished run is kept, a shorter one resumed to ``config.epochs``."""
    if RunLayout(run_dir).config.exists():
        if (open_run(run_dir).latest_epoch() or 0) < config.epochs:
            resume(run_dir, epochs=config.epochs)
        return
    train(TrainConfig(data=data, epochs=config.epochs, batch_size=config.batch_size, fact=model.fact,
                      seed=config.seed, device=config.device, n_train=config.n_train, n_val=config.n_val,
                      keep_every=0),
          ModelConfig(kind=model.kind, z_dim=config.z_dim, filters=config.filters), run_dir)


def question_samplers(config: DemoConfig) -> tuple[str, ...]:
    """The demo's question samplers that can run here: without zuko (the optional ``flows`` extra) the flow
    samplers are left out, with a log line that says how to get them."""
    if zuko_available():
        return tuple(config.question_samplers)
    flows = [s for s in config.question_samplers
             if issubclass(SAMPLERS.get(s.partition(":")[0], object), ZukoFlowSampler)]
    if flows:
        log.info(f"demo: skipping sampler {', '.join(flows)} (zuko is not installed: {INSTALL_HINT})")
    return tuple(s for s in config.question_samplers if s not in flows)


def _question_stage(config: DemoConfig, run_dir: Path) -> dict[str, Any]:
    """``RUN_DIR/question.json`` for the run's latest epoch and the demo's samplers: reused, or asked now.

    The standard scores (FID, ...) come with it when ``$ZSPACE_INCEPTION_WEIGHTS`` names a weights file; a
    question.json is reused only if it has them exactly when that is set.
    """
    run = open_run(run_dir)
    path = run.layout.question
    samplers = question_samplers(config)
    if path.exists():
        answer = json.loads(path.read_text())
        if (answer.get("epoch") == run.latest_epoch()
                and [r["sampler"] for r in answer.get("rows", [])] == list(samplers)
                and all(r["n"] == config.question_n for r in answer["rows"])
                and bool(answer.get("standard_net")) == (StandardConfig().weights_file() is not None)):
            return answer
    return answer_json(answer_run(run, samplers=samplers, n=config.question_n, seed=config.seed,
                                  device=config.device, n_reference=config.question_reference,
                                  n_paths=config.question_paths,
                                  feature_config=FeatureNetConfig(max_train_images=config.feature_images)))


def run_demo(out: str | Path, config: DemoConfig | None = None) -> dict[str, Any]:
    """Run every stage into ``out``; write ``out/report.html`` and ``out/summary.json``; return the summary."""
    config = config or DemoConfig()
    data = config.data or default_data()
    out = Path(out)
    report_config = config.report_config()
    for spec in question_samplers(config):  # a mistyped sampler fails now, not after the training
        make_sampler(spec, config.z_dim)
    summary: dict[str, Any] = {"data": data, "config": dataclasses.asdict(config), "models": {}}
    run_dirs = []
    seconds: dict[str, Any] = {"models": {}}
    model_seconds = 0.0
    with timing.collect() as total:
        for model, stem in zip(config.models, unique_stems([m.name for m in config.models])):
            run_dir = out / stem
            log.info(f"demo: {model.name} ({model.kind}, fact {model.fact:g}) on {data}")
            with timing.collect() as times:
                with timing.stage("train"):
                    train_stage(model, config, data, run_dir)
                with timing.stage("question"):
                    answer = _question_stage(config, run_dir)
                with timing.stage("report assets"):
                    prepare_run(run_dir, report_config)
            seconds["models"][model.name] = {**times.rounded(), "total": round(times.total, 1)}
            model_seconds += times.total
            run_dirs.append(run_dir)
            summary["models"][model.name] = _model_summary(model, open_run(run_dir), answer)
        with timing.stage("report"):
            report = build_report(run_dirs, out / "report.html", config.samplers, title=f"zspace demo on {data}",
                                  names=[m.name for m in config.models])
    summary["report"] = str(report)
    report_seconds = total.seconds.get("report", 0.0)
    seconds.update(report=round(report_seconds, 1), other=round(total.total - model_seconds - report_seconds, 1),
                   total=round(total.total, 1))
    summary["seconds"] = seconds
    io.write_json(out / "summary.json", summary)
    return summary


def _model_summary(model: DemoModel, run: Run, answer: dict[str, Any]) -> dict[str, Any]:
    """One model's entry of summary.json: its training, headline analyses and the answer (:func:`finding`)."""
    assets = load_assets(run)
    last = [r for r in run.metrics() if "event" not in r][-1]
    headlines = assets.analysis["headlines"]
    return {
        "kind": model.kind, "fact": model.fact, "epochs": last["epoch"], "val_loss": last["val"],
        "radius_peak": headlines["radius"]["peak_radius"],
        "radius_w1_to_chi": headlines["radius"]["wasserstein1_to_chi"],
        "elbow_k": headlines["inertia"]["elbow_k"],
        "active_units": headlines.get("vae", {}).get("active_units"),
        "answer": finding(answer, model.name),
    }


def answer_table(summary: dict[str, Any]) -> list[list[str]]:
    """Rows (header first) of models x samplers: FD as a multiple of the model's floor, with the void share."""
    answers = {name: m["answer"] for name, m in summary["models"].items() if m.get("answer")}
    samplers = list(dict.fromkeys(r["sampler"] for a in answers.values() for r in a["rows"]))
    rows = [["model", *samplers]]
    for name, a in answers.items():
        cells = {r["sampler"]: f"{r['x_floor']:.2f}x ({r['void_share']:.2f})" for r in a["rows"]}
        rows.append([name, *(cells.get(s, "-") for s in samplers)])
    return rows


def findings_markdown(summary: dict[str, Any]) -> str:
    """README's "What we found": the answer of a demo's summary.json as markdown (scripts/what_we_found.py)."""
    config = summary["config"]
    rows = answer_table(summary)
    lines = [f"The full demo (`make demo`) on {summary['data']}: {config['epochs']} epochs on "
             f"{config['n_train']} training images, z_dim {config['z_dim']}; each sampler decodes "
             f"{config['question_n']} random points, scored against {config['question_reference']} held-out images. "
             "Cells: FD as a multiple of the model's reconstruction floor (1x = as good as its own reconstructions), "
             "and in brackets the share of the points that fall in voids of the encoded training set.", "",
             "| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    lines += [""] + [f"- {m['answer']['sentence']}" for m in summary["models"].values() if m.get("answer")]
    return "\n".join(lines)


def format_summary(summary: dict[str, Any]) -> str:
    """A small text table of the demo's headline numbers, then the answer (sentences and table)."""
    lines = [f"data: {summary['data']}",
             f"{'model':<13}{'epochs':>7}{'val reco':>10}{'val kl':>9}{'R peak':>8}{'W1 to chi':>11}"
             f"{'elbow k':>9}{'active':>8}"]
    for name, m in summary["models"].items():
        active = "-" if m["active_units"] is None else str(m["active_units"])
        lines.append(f"{name:<13}{m['epochs']:>7}{m['val_loss']['reco']:>10.2f}{m['val_loss']['kl']:>9.2f}"
                     f"{m['radius_peak']:>8.2f}{m['radius_w1_to_chi']:>11.2f}{m['elbow_k']:>9}{active:>8}")
    rows = answer_table(summary)
    if len(rows) > 1:
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines += ["", "answer: FD / reconstruction floor (void share) of points drawn by each sampler"]
        lines += ["  ".join(cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths)))
                  for row in rows]
        lines += [m["answer"]["sentence"] for m in summary["models"].values() if m.get("answer")]
    if "seconds" in summary:
        lines += ["", "where the time went (s):", *time_lines(summary["seconds"])]
    return "\n".join(lines)


def time_lines(seconds: dict[str, Any]) -> list[str]:
    """The stage times of summary.json's ``seconds`` as lines: per model its stages (the analyses summed, then
    each kind), then the report and the total."""
    lines = []
    for name, stages in seconds["models"].items():
        analyses = {k.split(": ", 1)[1]: v for k, v in stages.items() if k.startswith("analysis: ")}
        parts = [f"{k} {v:.1f}" for k, v in stages.items() if not k.startswith("analysis: ") and k != "total"]
        if analyses:
            kinds = ", ".join(f"{k} {v:.1f}" for k, v in sorted(analyses.items(), key=lambda kv: -kv[1]))
            parts.insert(-1, f"analyses {sum(analyses.values()):.1f} ({kinds})")
        lines.append(f"  {name}: " + ", ".join(parts) + f"; {stages['total']:.1f} in all")
    lines.append(f"  report {seconds['report']:.1f}, other {seconds['other']:.1f}; total {seconds['total']:.1f}")
    return lines
