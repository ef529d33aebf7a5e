"""Every benchmark in one command; rewrites benchmarks/RESULTS.md.

Each section runs its script in a fresh process (so one section's threads and memory do not colour the next),
keeps the script's markdown tables, and saves them with the command and the time it took under
``benchmarks/results/<section>.md``. RESULTS.md is then assembled from those files with the machine
(CPU model and flags, cores, threads, torch / numpy / TensorFlow versions) and the date, followed by the
hand-written reading of the numbers in benchmarks/NOTES.md.

    python benchmarks/run.py                  # everything, full size (make bench); about an hour on 2 cores
    python benchmarks/run.py --quick          # a smoke run at toy sizes, written to benchmarks/results-quick/
    python benchmarks/run.py --only tsne      # one section; the others are taken from benchmarks/results/
    python benchmarks/run.py --assemble       # only rebuild RESULTS.md from benchmarks/results/

A section whose script fails is reported in RESULTS.md with its error instead of a table.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: section -> (title, what it compares, full arguments, quick arguments)
SECTIONS: dict[str, tuple[str, str, list[str], list[str]]] = {
    "training": (
        "Training throughput per precision (bench_training.py, issues 3 and 13)",
        "Baselines in the same run: a minimal PyTorch loop (channels_last) in the same precision, and the seeds' "
        "stack, Keras 3 on TensorFlow with the float32 and mixed_bfloat16 policies. Targets: zspace bf16 >= 1.5x "
        "Keras's best policy; zspace fp32 >= 1.0x Keras fp32; both >= 0.95x the minimal loop.",
        ["bench_training.py", "--steps", "8", "--repeats", "3"],
        ["bench_training.py", "--steps", "1", "--repeats", "1", "--no-keras"]),
    "precision": (
        "bf16 against fp32: speed and validation loss (bench_precision.py, issue 13)",
        "The evidence behind the default of --precision auto: the same runs in fp32 and bf16; the rule is "
        ">= 1.3x faster and validation loss within 1%.",
        ["bench_precision.py"],
        ["bench_precision.py", "--seeds", "0", "--epochs", "1", "--n-train", "512", "--n-val", "128",
         "--big-n-train", "128"]),
    "tsne": (
        "t-SNE from 20k to 165k points (bench_tsne.py, issue 13)",
        "Baselines in the same run: openTSNE with its defaults on all cores, and scikit-learn's TSNE where it "
        "finishes. Targets: no slower than openTSNE's defaults with KL within 2%; <= 0.2x scikit-learn.",
        ["bench_tsne.py", "--sizes", "20000,50000,100000,165000"],
        ["bench_tsne.py", "--sizes", "600", "--d", "16", "--sklearn-max", "600"]),
    "analysis": (
        "Analysis battery at 170k x 256 (bench_analysis.py, issue 4)",
        "Baselines in the same run: scikit-learn MiniBatchKMeans (inertia curve) and TSNE (t-SNE maps).",
        ["bench_analysis.py", "--n", "170000", "--d", "256"],
        ["bench_analysis.py", "--n", "3000", "--d", "16", "--tsne-n", "500", "--scaling-n", "1000,3000"]),
    "scale": (
        "Analysis battery from 10k to 10M x 256 read through a memory map (bench_scale.py, issue "
        "\"latent sets larger than memory\")",
        "Baseline in the same run: the code before the issue (commit 7c915b7, which loads the whole .npy) at 170k "
        "on the same file. Each N in a fresh process; time and peak memory (RssAnon: without the map's pages) per "
        "analysis and their growth exponents. Targets: 10M in <= 20 min on 2 cores with peak RssAnon <= 1.5 GB; "
        "170k no slower than the baseline.",
        ["bench_scale.py", "--sizes", "10000,170000,1000000,10000000", "--d", "256", "--baseline-commit", "7c915b7"],
        ["bench_scale.py", "--sizes", "2000", "--d", "16"]),
    "factors": (
        "Which axes encode which factors: MI, MIG, SAP, DCI at 170k x 256 with 40 attributes (bench_factors.py)",
        "Baseline in the same run: plain disentanglement_lib-style code (mutual_info_score loops, LinearSVC per "
        "direction and attribute, GradientBoostingClassifier per attribute) on a 2000-row subsample, with zspace "
        "on the same rows for agreement. Target: factor_analysis under 2 minutes on 2 cores; spread over 3 seeds.",
        ["bench_factors.py", "--n", "170000", "--d", "256", "--k", "40", "--seeds", "3"],
        ["bench_factors.py", "--n", "3000", "--d", "16", "--k", "6", "--seeds", "2", "--baseline-n", "600",
         "--baseline-dci-factors", "2", "--baseline-mi-columns", "4"]),
    "ddp": (
        "Data-parallel training: 1 against 2 processes (bench_ddp.py, issue 9)",
        "Baseline in the same run: the same training in 1 process pinned to 1 core with 1 thread; 2 processes "
        "(torchrun + DDP over gloo) get 1 core each. Scaling efficiency = rate(2) / (2 x rate(1)).",
        ["bench_ddp.py", "--epochs", "3", "--repeats", "2"],
        ["bench_ddp.py", "--quick", "--epochs", "2", "--repeats", "1"]),
    "disentanglement": (
        "Which factors the codes encode: AE, VAE, beta-VAE on shapes (bench_disentanglement.py, issue 11)",
        "Baseline in the same run: the same AE after one epoch. MIG, DCI and SAP on the axes and on the PCA "
        "directions, and the held-out linear read-out of each factor (R^2, or balanced accuracy for kind).",
        ["bench_disentanglement.py"],
        ["bench_disentanglement.py", "--epochs", "2", "--n-train", "2000"]),
    "question": (
        "The open question on Fashion-MNIST (bench_question.py, issue 6)",
        "FD of each sampler as a multiple of the reconstruction floor, beside the shuffled-pixel ceiling.",
        ["bench_question.py", "--out", "{tmp}"],
        ["bench_question.py", "--out", "{tmp}", "--epochs", "1", "--z-dim", "4", "--n", "200", "--runs", "ae",
         "--data", "shapes", "--n-train", "1000", "--n-reference", "200", "--samplers", "normal,gmm:3"]),
    "flows": (
        "Second-stage flows on Fashion-MNIST codes: hand RealNVP against zuko MAF and NSF (bench_flows.py)",
        "Baseline in the same run: gmm:10 on the same codes (the / gmm:10 column), and the hand-written RealNVP "
        "that was the flow sampler before, kept in the script. The demo's three models; FD / reconstruction floor "
        "per model x sampler. Rule: the flow with the lower FD / floor across the three models becomes `flow`.",
        ["bench_flows.py", "--out", "{tmp}"],
        ["bench_flows.py", "--out", "{tmp}", "--quick", "--data", "shapes", "--n", "200", "--n-reference", "200",
         "--draws", "1", "--flow-epochs", "2"]),
    "data": (
        "Generating the built-in shapes set (bench_data.py, issue 25)",
        "Baseline in the same run: the same renderer one image at a time. Target: the default set (14000 images "
        "of 28x28) in under 5 s on 2 cores, since it is generated on every load.",
        ["bench_data.py", "--repeats", "3"],
        ["bench_data.py", "--repeats", "1", "--baseline-n", "200"]),
    "demo": (
        "The demo, stage by stage: make demo and zspace demo --quick before and after (bench_demo.py, issue 27)",
        "Baseline in the same run: the demo of commit 996d1ea (before issue 27), measured first on the same machine "
        "by the same script, one demo at a time. Target on the 2-core machine of the issue: the full demo in at "
        "most 5 minutes (it took 761 s there), the quick one in at most 2, both with a clear answer.",
        ["bench_demo.py", "--baseline-commit", "996d1ea", "--out", "{tmp}/full"],
        ["bench_demo.py", "--baseline-commit", "996d1ea", "--out", "{tmp}/quick", "--quick"]),
    "zverify": (
        "Checking a Z file's bytes on read: CRC-32 of 3M x 256 against one pass (bench_zverify.py, issue 25)",
        "Baseline in the same run: one plain sequential pass over the memory map of z (column means in row blocks). "
        "Every reader now checks the CRC-32 of each member it uses (the zip's for a Z file, meta.json's for a Z "
        "directory) before an analysis sees a byte; this is what that costs, cold-ish and warm page cache.",
        ["bench_zverify.py"],
        ["bench_zverify.py", "--n", "20000", "--d", "16"]),
    "explore": (
        "zspace explore: decode round trip, slider, 32 clients, a 170k-point map in Chromium (bench_explore.py, "
        "issue 23)",
        "Baseline in the same run: one forward pass of the decoder for one point in the server's own process "
        "(session.decode), so the table shows what HTTP, JSON and PNG add. Targets: round trip p95 <= 30 ms; "
        "slider >= 20 frames/s; 32 clients x 50 decodes without error, p95 <= 250 ms, RSS flat; 170k points "
        "drawn in <= 3 s, a zoom re-render <= 200 ms.",
        ["bench_explore.py"],
        ["bench_explore.py", "--n", "20", "--map-points", "5000", "--models", "28x28 z16"]),
    "compare": (
        "zspace compare: CKA, Procrustes and k-NN overlap of two latent spaces (bench_compare.py)",
        "Baseline in the same run: naive numpy linear and RBF CKA from n x n float64 Gram matrices (HKH, Kornblith "
        "et al.'s reference form) on the same arrays. Also: how far the 20,000-row subsample of the RBF CKA is from "
        "its exact value on 40,000 rows, and AE vs a second AE seed vs VAE on Fashion-MNIST.",
        ["bench_compare.py"],
        ["bench_compare.py", "--sizes", "1000", "--dims", "16", "--subsample-n", "3000", "--subsample-d", "8",
         "--subsample-seeds", "2", "--epochs", "0"]),
    "twostage": (
        "Tuning the two-stage VAE sampler on the demo's models (bench_twostage.py, issue 26)",
        "Baseline in the same run: gmm:10, the best fitted sampler of the question, scored the same way (zspace's "
        "feature net, FD as a multiple of the reconstruction floor and of gmm:10's FD), beside the MAF flow and "
        "N(0, I), on the demo's three models. Variants of twostage: training length, decoder noise, scaling (PCA "
        "whitening or one scale).",
        ["bench_twostage.py", "--out", "{tmp}"],
        ["bench_twostage.py", "--out", "{tmp}", "--runs", "ae", "--epochs", "1", "--n-train", "2000", "--n", "300",
         "--variants", "1"]),
    "holes": (
        "Do the hole measures find a planted hole? AE and VAE on shapes,hole=1 (bench_holes.py)",
        "Baseline in the same run: the images' own pixel reconstruction error as a novelty score. Each measure of "
        "zspace.science.holes (void distance, void rim, hole score, cycle error, MMD witness) scores the test "
        "codes; ROC AUC of the test "
        "images in the hole against the rest. Target: AUC >= 0.9. Beside it: the prior-vs-aggregate-posterior "
        "MMD^2 and the hole rates of N(0, I), full-gauss and twostage draws.",
        ["bench_holes.py", "--out", "{tmp}"],
        ["bench_holes.py", "--out", "{tmp}", "--epochs", "1", "--n-train", "1000", "--n-draws", "200"]),
    "fidelity": (
        "The standard scores' cost: Inception-v3 (torch-fidelity) against zspace's feature net (bench_fidelity.py)",
        "Baseline in the same run: zspace's own feature net on the same images (x zspace's net = how many times "
        "slower), and the channels-last layout that zspace does not use beside torch-fidelity's own; then the "
        "metrics on 5,000 feature rows each way. With $ZSPACE_INCEPTION_WEIGHTS set, also the standard FID beside "
        "zspace's FD for the demo's samplers.",
        ["bench_fidelity.py"],
        ["bench_fidelity.py", "--n", "4", "--repeats", "1", "--metric-n", "500"]),
}


def machine() -> dict[str, str]:
    """What the numbers were measured on."""
    import numpy
    import torch

    info = {"date": datetime.date.today().isoformat(), "python": platform.python_version(),
            "torch": torch.__version__, "numpy": numpy.__version__, "threads": str(torch.get_num_threads()),
            "cores": str(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count())}
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")),
                     platform.processor())
        flags = next((line.split(":", 1)[1].split() for line in cpuinfo.splitlines() if line.startswith("flags")), [])
        wanted = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile")
        info["cpu"] = f"{model}, {platform.machine()}; flags: {' '.join(f for f in wanted if f in flags) or 'none'}"
    except OSError:
        info["cpu"] = platform.processor() or platform.machine()
    keras_python = HERE / ".venv-keras" / "bin" / "python"
    if keras_python.exists():
        done = subprocess.run([str(keras_python), "-c", "import tensorflow as tf; print(tf.__version__)"],
                              capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        info["tensorflow"] = done.stdout.strip() or "not importable"
    else:
        info["tensorflow"] = "not installed (the training section installs it in benchmarks/.venv-keras)"
    return info


def run_section(name: str, quick: bool, out_dir: Path) -> Path:
    """Run one section's script; write ``out_dir/<name>.md`` (command, wall time, tables or the error)."""
    title, about, full, small = SECTIONS[name]
    with tempfile.TemporaryDirectory() as tmp:
        args = [a.replace("{tmp}", tmp) for a in (small if quick else full)]
        cmd = [sys.executable, str(HERE / args[0]), *args[1:]]
        shown = "python benchmarks/" + " ".join(a if a != tmp else "TMP" for a in args)
        print(f"== {name}: {shown}", flush=True)
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "ZSPACE_PROGRESS": "0"})
        seconds = time.perf_counter() - start
    body = done.stdout.strip() if done.returncode == 0 else (
        f"**The script failed** (exit {done.returncode}):\n\n```\n{done.stderr.strip()[-2000:]}\n```")
    text = f"## {title}\n\n{about}\n\nCommand: `{shown}` ({seconds / 60:.1f} min, measured " \
           f"{datetime.date.today().isoformat()}).\n\n{body}\n"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.md"
    path.write_text(text)
    print(body[-3000:], flush=True)
    return path


def assemble(out_dir: Path, target: Path, info: dict[str, str]) -> None:
    """RESULTS.md: the machine, then every section found in ``out_dir`` in the order of SECTIONS."""
    lines = ["# Benchmark results", "",
             "Written by `python benchmarks/run.py` (`make bench`); every ratio is against a baseline measured in "
             "the same run of the same script. Earlier measurements, with their notes, are in "
             "[HISTORY.md](HISTORY.md).", "",
             "| machine | |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in info.items()]
    lines.append("")
    for name in SECTIONS:
        path = out_dir / f"{name}.md"
        lines.append(path.read_text() if path.exists() else
                     f"## {SECTIONS[name][0]}\n\nNot measured by run.py yet (`python benchmarks/run.py --only {name}`); "
                     f"the last measurement is in [HISTORY.md](HISTORY.md).\n")
    notes = HERE / "NOTES.md"
    if notes.exists():
        lines.append(notes.read_text())
    tmp = target.with_suffix(".md.tmp")
    tmp.write_text("\n".join(lines))
    os.replace(tmp, target)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="toy sizes; results go to benchmarks/results-quick/")
    parser.add_argument("--only", default=None, help=f"comma-separated sections of: {', '.join(SECTIONS)}")
    parser.add_argument("--assemble", action="store_true", help="only rebuild RESULTS.md from saved sections")
    args = parser.parse_args(argv)
    out_dir = HERE / ("results-quick" if args.quick else "results")
    target = out_dir / "RESULTS.md" if args.quick else HERE / "RESULTS.md"
    names = list(SECTIONS) if not args.only else [s.strip() for s in args.only.split(",")]
    unknown = [n for n in names if n not in SECTIONS]
    if unknown:
        parser.error(f"unknown section {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    if not args.assemble:
        for name in names:
            run_section(name, args.quick, out_dir)
    info = machine()
    assemble(out_dir, target, info)
    print(f"wrote {target}")
    print(json.dumps(info))
    failed = [n for n in names if "**The script failed**" in (out_dir / f"{n}.md").read_text()] if not args.assemble \
        else []
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
