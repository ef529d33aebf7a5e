"""Data-parallel scaling: training images/s on 1 process against 2 processes (torchrun + DDP, gloo on CPU).

Each process is pinned to one core with one intra-op thread, so 2 processes use twice the hardware of the
baseline (1 process, 1 core) and the scaling efficiency is ``rate(2 processes) / (2 x rate(1 process))``.
The two processes are started as two torchrun "machines" (``--nnodes 2``, rendezvous on 127.0.0.1), which is
how each can get a core of its own; they talk through gloo over TCP as on a cluster. Also shown: 1 process on
all cores (the default without torchrun). Rates are global training images/s of the epochs after the first
(``images_per_s`` in metrics.jsonl), best of ``--repeats``.

    python benchmarks/bench_ddp.py [--epochs 3] [--repeats 2] [--quick] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from tables import emit  # benchmarks/tables.py

#: (name, data, model options, training images, batch size)
CASES = [
    ("28x28x1 AE z16", "shapes", ["--model", "ae", "--z-dim", "16"], 8192, 128),
    ("celeba 96x96x3 AE z256", "shapes:96", ["--model", "ae", "--z-dim", "256"], 768, 128),
]


def _env(threads: int) -> dict:
    return {**os.environ, "ZSPACE_PROGRESS": "0", "OMP_NUM_THREADS": str(threads)}


def _rate(run: Path) -> float:
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    rates = [r["images_per_s"] for r in records if "epoch" in r and "event" not in r][1:]
    return sum(rates) / len(rates)


def _train_args(run: Path, data: str, model: list[str], n_train: int, batch: int, epochs: int) -> list[str]:
    return ["train", "--out", str(run), "--data", data, *model, "--n-train", str(n_train), "--n-val", "256",
            "--batch-size", str(batch), "--epochs", str(epochs), "--device", "cpu", "--precision", "fp32"]


def one_process(run: Path, args: list[str], cores: set[int] | None) -> float:
    """One process (no torchrun), pinned to ``cores`` (None: all)."""
    pin = (lambda: os.sched_setaffinity(0, cores)) if cores else None
    subprocess.run([sys.executable, "-m", "zspace", *args], env=_env(len(cores or os.sched_getaffinity(0))),
                   check=True, capture_output=True, preexec_fn=pin)
    return _rate(run)


def two_pinned_processes(run: Path, args: list[str]) -> float:
    """Two torchrun 'machines' of one process each, on cores 0 and 1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cores = sorted(os.sched_getaffinity(0))
    procs = []
    for node in (0, 1):
        command = [sys.executable, "-m", "torch.distributed.run", "--nnodes=2", "--nproc-per-node=1",
                   f"--node-rank={node}", "--rdzv-backend=c10d", f"--rdzv-endpoint=127.0.0.1:{port}",
                   f"--rdzv-id=bench-{port}", "-m", "zspace", *args]
        core = {cores[node % len(cores)]}
        procs.append(subprocess.Popen(command, env=_env(1), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                      text=True, preexec_fn=lambda core=core: os.sched_setaffinity(0, core)))
    for p in procs:
        err = p.communicate()[1]
        if p.returncode != 0:
            raise RuntimeError(f"torchrun node failed:\n{err[-2000:]}")
    return _rate(run)


def measure(args: argparse.Namespace) -> list[dict]:
    rows = []
    first_core = {sorted(os.sched_getaffinity(0))[0]}
    for name, data, model, n_train, batch in CASES:
        if args.quick:
            n_train = max(batch * 2, n_train // 16)
        best = {"1 process, 1 core": 0.0, "2 processes, 1 core each": 0.0, "1 process, all cores": 0.0}
        for repeat in range(args.repeats):
            with tempfile.TemporaryDirectory() as tmp:
                tmp = Path(tmp)
                train = lambda tag: _train_args(tmp / tag, data, model, n_train, batch, args.epochs)  # noqa: E731
                best["1 process, 1 core"] = max(best["1 process, 1 core"], one_process(tmp / "one", train("one"),
                                                                                      first_core))
                best["2 processes, 1 core each"] = max(best["2 processes, 1 core each"],
                                                       two_pinned_processes(tmp / "two", train("two")))
                best["1 process, all cores"] = max(best["1 process, all cores"],
                                                   one_process(tmp / "all", train("all"), None))
        base = best["1 process, 1 core"]
        for setup, rate in best.items():
            cores = 2 if setup.startswith("2") else (1 if "1 core" in setup else len(os.sched_getaffinity(0)))
            rows.append({"model": name, "setup": setup, "images_per_s": rate, "speedup": rate / base,
                         "efficiency": rate / (cores * base), "n_train": n_train, "batch": batch})
    return rows


def markdown(rows: list[dict]) -> str:
    lines = ["| model | setup | train images/s | x 1 process, 1 core | scaling efficiency |",
             "|---|---|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['setup']} | {r['images_per_s']:.0f} | {r['speedup']:.2f}x | "
                     f"{r['efficiency']:.0%} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="1/16 of the images")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    return emit(measure(args), markdown, args.json)


if __name__ == "__main__":
    main()
