"""The analysis battery on latent sets up to larger than memory: time and peak memory from 10k to 10M points.

Issue "latent sets larger than memory: 10 million points on a 24 GB machine". For each N of ``--sizes``
(default 10k, 170k, 1M, 10M, d = 256), an N x d float32 .npy is written chunk by chunk into
``np.lib.format.open_memmap`` (the array is never held in memory; 10M x 256 is a 10 GB file) with the
40-component Gaussian mixture of ``latent_like`` in bench_analysis.py (which fills the map), then

    latents = zspace.analysis.load_latents(path)
    zspace.analysis.run_battery(latents, out_dir, draw=zspace.plots.analysis_figures.draw, seed=0, on_step=...)

runs with default settings (figures on) in a fresh worker process, so each N's peak memory is its own. The
file and the outputs are deleted right after their N is measured; everything lives in a temporary
directory under /tmp or under ``--workdir``.

Memory, read from /proc/self/status by a thread of the worker every 20 ms:

* ``RssAnon``: anonymous memory (numpy/torch buffers, Python objects, copies of rows). It excludes the file
  pages of the memory map, so it is the number the issue's 1.5 GB budget is about.
* ``VmRSS``: everything resident, which includes the pages of the map that the page cache holds at the time
  (the kernel can drop them whenever it needs memory); ``VmHWM`` is the kernel's exact peak of VmRSS.

``on_step(name)`` switches the label under which the sampler keeps its peaks, so RssAnon has a peak per
analysis (its figures included). The libraries (torch, openTSNE, matplotlib, zspace) are imported before the
data; "above imports" is the peak minus RssAnon at that point. The page cache is warm: the file was just
written (nothing here can drop caches).

Baseline in the same run (``--baseline-commit SHA`` or ``--baseline-src DIR``): the same worker with an older
zspace on ``PYTHONPATH`` (``DIR/src``), at one N (``--baseline-n``, default: the measured N nearest 170k) on
the same file. ``--baseline-commit`` makes the checkout itself (``git worktree add --detach`` into the work
directory, ``git worktree remove --force`` after); commit 7c915b7 is the code before this issue, which reads
the .npy fully into memory (np.load), so its RSS includes the whole array. An old ``run_battery`` without
``on_step`` is detected (inspect.signature); then only totals and seconds per analysis are measured. To keep
a checkout between runs::

    git -C /work/main worktree add --detach /tmp/zspace-base 7c915b7
    python benchmarks/bench_scale.py --baseline-src /tmp/zspace-base

Tables: per N (totals and seconds / peak RssAnon per analysis); the growth exponent of each analysis (the
least-squares slope of log(seconds) and of log(peak RssAnon) against log(N), over N >= 170k and over all N);
the baseline comparison (new / old, < 1 = better). Targets from the issue: at 10M x 256 the whole battery in
<= 20 min on 2 cores with peak RssAnon <= 1.5 GB; the 170k battery no slower than before.

    python benchmarks/bench_scale.py [--sizes 10000,170000,1000000,10000000] [--d 256] [--seed 0]
        [--baseline-commit 7c915b7 | --baseline-src DIR] [--baseline-n 170000] [--cores K]
        [--workdir DIR] [--json out.json]
    python benchmarks/bench_scale.py --sizes 2000,10000 --d 16          # smoke run
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from tables import emit  # benchmarks/tables.py

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
from bench_analysis import latent_like  # noqa: E402

MIB = 2**20
GROWTH_FROM = 170_000  # the first N of the "large N" growth exponent
TARGET_N, TARGET_SECONDS, TARGET_RSS_ANON_MIB = 10_000_000, 20 * 60, 1536


# ------------------------------------------------------------------------------------------------------------------
# data

def write_latents(path: Path, n: int, d: int, seed: int, chunk: int = 20000) -> float:
    """Write latent_like(n, d, seed, chunk) to an .npy chunk by chunk through a memory map; return MiB."""
    z = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, d))
    latent_like(n, d, seed, chunk, out=z)
    z.flush()
    del z
    return n * d * 4 / MIB


# ------------------------------------------------------------------------------------------------------------------
# the worker: one battery in a fresh process

class Meter(threading.Thread):
    """Samples RssAnon and VmRSS of this process every ``interval`` s; keeps the peaks per label."""

    def __init__(self, interval: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.interval, self.label, self.samples = interval, "imports", 0
        self.peaks: dict[str, dict[str, float]] = {}
        self.lock, self.stop = threading.Lock(), threading.Event()

    @staticmethod
    def read() -> dict[str, float]:
        """Current RssAnon, VmRSS, RssFile and VmHWM in MiB."""
        values = {}
        with open("/proc/self/status") as fh:
            for line in fh:
                key, _, rest = line.partition(":")
                if key in ("RssAnon", "VmRSS", "RssFile", "VmHWM"):
                    values[key] = int(rest.split()[0]) / 1024  # kB
        return values

    def sample(self) -> None:
        now = self.read()
        with self.lock:
            peak = self.peaks.setdefault(self.label, {"RssAnon": 0.0, "VmRSS": 0.0, "RssFile": 0.0})
            for key in peak:
                peak[key] = max(peak[key], now[key])
            self.samples += 1

    def switch(self, label: str) -> None:
        self.sample()  # the end of the previous label
        with self.lock:
            self.label = label
        self.sample()

    def run(self) -> None:
        while not self.stop.wait(self.interval):
            self.sample()

    def finish(self) -> dict[str, dict[str, float]]:
        self.stop.set()
        self.join()
        self.sample()
        return self.peaks


def worker(npy: Path, out: Path, seed: int, result: Path) -> int:
    os.environ.setdefault("MPLBACKEND", "Agg")
    meter = Meter()
    meter.start()
    import openTSNE  # noqa: F401  (the libraries are loaded before the data, as a CLI run does at start)
    import torch

    import zspace
    import zspace.plots.analysis_figures
    from zspace.analysis import load_latents, run_battery

    before = Meter.read()
    streaming = "on_step" in inspect.signature(run_battery).parameters
    meter.switch("load")
    start = time.perf_counter()
    latents = load_latents(npy)
    loaded = time.perf_counter()
    kwargs = {"on_step": meter.switch} if streaming else {}
    if not streaming:
        meter.switch("battery")
    report = run_battery(latents, out, draw=zspace.plots.analysis_figures.draw, seed=seed, **kwargs)["report"]
    end = time.perf_counter()
    peaks = meter.finish()
    n, d = latents.z.shape
    during = {label: p for label, p in peaks.items() if label != "imports"}
    res = {
        "n": int(n), "d": int(d), "array_mib": n * d * 4 / MIB, "zspace": str(Path(zspace.__file__).parent),
        "on_step": streaming, "cores": len(os.sched_getaffinity(0)), "torch_threads": torch.get_num_threads(),
        "seconds_load": loaded - start, "seconds_battery": end - loaded, "seconds_total": end - start,
        "seconds": report["seconds"], "complete": report["complete"], "skipped": report.get("skipped", {}),
        "rss_anon_before_data_mib": before["RssAnon"], "vm_rss_before_data_mib": before["VmRSS"],
        "peak_rss_anon_mib": max(p["RssAnon"] for p in during.values()),
        "peak_vm_rss_mib": max(p["VmRSS"] for p in during.values()),
        "peak_rss_file_mib": max(p["RssFile"] for p in during.values()),
        "vm_hwm_mib": Meter.read()["VmHWM"], "peaks": peaks, "samples": meter.samples,
    }
    result.write_text(json.dumps(res, indent=1))
    return 0


# ------------------------------------------------------------------------------------------------------------------
# the parent: data, workers, baseline checkout

def run_worker(npy: Path, out: Path, seed: int, src: Path | None, cores: set[int] | None) -> dict:
    """One worker process on ``npy``; ``src``: an older zspace's src/ put first on PYTHONPATH."""
    result = out.with_suffix(".json")
    env = {**os.environ, "ZSPACE_PROGRESS": "0", "MPLBACKEND": "Agg"}
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(src), os.environ.get("PYTHONPATH", "")) if p)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--npy", str(npy), "--out", str(out),
           "--seed", str(seed), "--result", str(result)]
    pin = (lambda: os.sched_setaffinity(0, cores)) if cores else None
    start, load = time.perf_counter(), os.getloadavg()[0]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, preexec_fn=pin)
    wall, loads = time.perf_counter() - start, [load, os.getloadavg()[0]]
    shutil.rmtree(out, ignore_errors=True)
    if done.returncode != 0 or not result.exists():
        return {"error": f"exit {done.returncode}: {done.stderr.strip()[-1500:]}", "process_wall_s": wall}
    res = json.loads(result.read_text())
    result.unlink()
    res["process_wall_s"], res["loadavg_1min_start_end"] = wall, loads
    if src is not None and not Path(res["zspace"]).resolve().is_relative_to(src.resolve()):
        return {"error": f"the baseline worker imported zspace from {res['zspace']}, not from {src}"}
    return res


def add_worktree(commit: str, where: Path) -> Path:
    done = subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(where), commit],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"--baseline-commit {commit}: git worktree add failed: {done.stderr.strip()}")
    return where


def remove_worktree(where: Path) -> None:
    done = subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(where)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        print(f"note: could not remove the worktree {where}: {done.stderr.strip()}", file=sys.stderr)


def measure(args: argparse.Namespace) -> dict:
    sizes = [int(s) for s in args.sizes.split(",")]
    cores = None
    if args.cores:
        cores = set(sorted(os.sched_getaffinity(0))[:args.cores])
    baseline_n = args.baseline_n or min(sizes, key=lambda n: abs(math.log(n / GROWTH_FROM)))
    results: dict = {"sizes": sizes, "d": args.d, "seed": args.seed,
                     "cores": len(cores) if cores else len(os.sched_getaffinity(0)), "runs": {}, "baseline": None}
    if args.workdir:
        Path(args.workdir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench_scale-", dir=args.workdir) as tmp_name:
        tmp = Path(tmp_name)
        worktree = None
        base_src = None
        try:
            if args.baseline_commit:
                worktree = add_worktree(args.baseline_commit, tmp / "zspace-base")
                base_src = worktree / "src"
            elif args.baseline_src:
                base_src = Path(args.baseline_src) / "src"
            if base_src is not None:
                if not (base_src / "zspace" / "__init__.py").exists():
                    raise SystemExit(f"{base_src}: no zspace package there (give a checkout of the repository)")
                results["baseline"] = {"n": baseline_n, "source": args.baseline_commit or str(args.baseline_src)}
            for n in sizes:
                npy = tmp / f"z_{n}.npy"
                start = time.perf_counter()
                write_latents(npy, n, args.d, args.seed)
                generated = time.perf_counter() - start
                log(f"N={n}: {n * args.d * 4 / MIB:.0f} MiB written in {generated:.1f} s; running the battery")
                run = run_worker(npy, tmp / f"out_{n}", args.seed, None, cores)
                run["seconds_generate"] = generated
                results["runs"][str(n)] = run
                log(f"N={n}: {summary(run)}")
                if base_src is not None and n == baseline_n:
                    old = run_worker(npy, tmp / f"out_{n}_base", args.seed, base_src, cores)
                    results["baseline"]["run"] = old
                    log(f"N={n} baseline: {summary(old)}")
                npy.unlink()
                if args.json:  # what is measured so far survives a later N that fails or is stopped
                    Path(args.json).write_text(json.dumps(results, indent=1))
        finally:
            if worktree is not None:
                remove_worktree(worktree)
    return results


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def summary(run: dict) -> str:
    if "error" in run:
        return f"FAILED {run['error']}"
    return (f"{run['seconds_total']:.1f} s, peak RssAnon {run['peak_rss_anon_mib']:.0f} MiB, "
            f"peak VmRSS {run['peak_vm_rss_mib']:.0f} MiB")


# ------------------------------------------------------------------------------------------------------------------
# tables

def analyses_of(runs: list[dict]) -> list[str]:
    names: list[str] = []
    for run in runs:
        names += [k for k in run["seconds"] if not k.endswith("_figures") and k not in names]
    return names


def slope(ns: list[int], ys: list[float], floor: float) -> float | None:
    """Least-squares slope of log(max(y, floor)) against log(N); None with fewer than 2 distinct N.

    The floor (0.01 s, 1 MiB) keeps what is too small to measure from making up an exponent.
    """
    pairs = [(n, y) for n, y in zip(ns, ys) if y is not None and not math.isnan(y)]
    if len({n for n, _ in pairs}) < 2:
        return None
    x = np.log([n for n, _ in pairs])
    y = np.log([max(y, floor) for _, y in pairs])
    return float(np.polyfit(x, y, 1)[0])


def growth(results: dict) -> dict:
    """Exponents per analysis: {name: {"seconds_large", "seconds_all", "rss_anon_large", ...}}."""
    ok = {int(n): r for n, r in results["runs"].items() if "error" not in r}
    ns = sorted(ok)
    out = {}
    rows = ["load"] + analyses_of([ok[n] for n in ns]) + ["total"]
    for name in rows:
        secs, anon, extra = [], [], []
        for n in ns:
            r = ok[n]
            if name == "load":
                secs.append(r["seconds_load"])
            elif name == "total":
                secs.append(r["seconds_total"])
            else:
                secs.append(r["seconds"].get(name, float("nan")))
            peak = r["peak_rss_anon_mib"] if name == "total" else r["peaks"].get(name, {}).get("RssAnon", float("nan"))
            anon.append(peak)
            extra.append(peak - r["rss_anon_before_data_mib"])
        large = [i for i, n in enumerate(ns) if n >= GROWTH_FROM]
        big_ns = [ns[i] for i in large]
        out[name] = {
            "seconds_large": slope(big_ns, [secs[i] for i in large], 0.01), "seconds_all": slope(ns, secs, 0.01),
            "rss_anon_large": slope(big_ns, [anon[i] for i in large], 1), "rss_anon_all": slope(ns, anon, 1),
            "rss_anon_above_imports_large": slope(big_ns, [extra[i] for i in large], 1),
            "rss_anon_above_imports_all": slope(ns, extra, 1)}
    return out


def loadavg(run: dict) -> str:
    """The machine's 1-min load average at the start and end of a worker (other work colours the times)."""
    loads = run.get("loadavg_1min_start_end")
    return f"{loads[0]:.1f} / {loads[1]:.1f}" if loads else "n/a"


def fmt(value: float | None, spec: str = ".2f") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    text = format(value, spec)
    return text[1:] if text.startswith("-") and float(text) == 0 else text  # no "-0.00"


def markdown(results: dict) -> str:
    runs = {int(n): r for n, r in results["runs"].items()}
    ok = {n: r for n, r in sorted(runs.items()) if "error" not in r}
    ns = list(ok)
    lines = [f"d = {results['d']}, float32 .npy read through a memory map, default settings, figures on, "
             f"{results['cores']} cores; one fresh process per N. RssAnon = anonymous memory (no file pages of the "
             "map), VmRSS = all resident memory (map pages included), VmHWM = the kernel's peak VmRSS.", ""]
    lines += ["| N | array MiB | total s | load s | battery s | peak RssAnon MiB | RssAnon before data MiB "
              "| peak VmRSS MiB | VmHWM MiB | load average |", "|---|---|---|---|---|---|---|---|---|---|"]
    for n, r in sorted(runs.items()):
        if "error" in r:
            lines.append(f"| {n:,} | {n * results['d'] * 4 / MIB:.0f} | failed: {r['error'][-200:]!r} "
                         "| | | | | | | |")
            continue
        lines.append(f"| {n:,} | {r['array_mib']:.0f} | {r['seconds_total']:.1f} | {r['seconds_load']:.2f} "
                     f"| {r['seconds_battery']:.1f} | {r['peak_rss_anon_mib']:.0f} "
                     f"| {r['rss_anon_before_data_mib']:.0f} | {r['peak_vm_rss_mib']:.0f} | {r['vm_hwm_mib']:.0f} "
                     f"| {loadavg(r)} |")
    if not ns:
        return "\n".join(lines)
    names = analyses_of(list(ok.values()))
    header = "| analysis | " + " | ".join(f"N = {n:,}" for n in ns) + " |"
    rule = "|---|" + "---|" * len(ns)
    lines += ["", "Seconds per analysis (report[\"seconds\"]; figures in their own row):", "", header, rule]
    for name in names:
        lines.append(f"| {name} | " + " | ".join(fmt(ok[n]["seconds"].get(name), ".1f") for n in ns) + " |")
    lines.append("| figures (all) | " + " | ".join(
        f"{sum(v for k, v in ok[n]['seconds'].items() if k.endswith('_figures')):.1f}" for n in ns) + " |")
    lines.append("| load_latents | " + " | ".join(f"{ok[n]['seconds_load']:.2f}" for n in ns) + " |")
    if all(r["on_step"] for r in ok.values()):
        lines += ["", "Peak RssAnon MiB during each analysis (its figures included):", "", header, rule]
        for name in ["load"] + names:
            lines.append(f"| {name} | " + " | ".join(
                fmt(ok[n]["peaks"].get(name, {}).get("RssAnon"), ".0f") for n in ns) + " |")
    if len(ns) < 2:
        lines += ["", "Growth exponents: need at least 2 sizes."]
    else:
        k = f"{GROWTH_FROM // 1000}k"
        lines += ["", f"Growth exponent b of y ~ N^b (least-squares slope in log-log) over N >= {k} and over all N "
                  "(n/a: fewer than 2 sizes there); RssAnon both as the peak and as the peak above the process "
                  "before the data:", "",
                  f"| analysis | seconds, N >= {k} | seconds, all N | peak RssAnon, N >= {k} | peak RssAnon, all N "
                  f"| above imports, N >= {k} | above imports, all N |", "|---|---|---|---|---|---|---|"]
        for name, e in growth(results).items():
            lines.append(f"| {name} | {fmt(e['seconds_large'])} | {fmt(e['seconds_all'])} "
                         f"| {fmt(e['rss_anon_large'])} | {fmt(e['rss_anon_all'])} "
                         f"| {fmt(e['rss_anon_above_imports_large'])} | {fmt(e['rss_anon_above_imports_all'])} |")
    big = ok.get(TARGET_N)
    if big:
        lines += ["", f"Targets at N = {TARGET_N:,}: total {big['seconds_total'] / 60:.1f} min (<= "
                  f"{TARGET_SECONDS // 60}: {'met' if big['seconds_total'] <= TARGET_SECONDS else 'MISSED'}), "
                  f"peak RssAnon {big['peak_rss_anon_mib']:.0f} MiB (<= {TARGET_RSS_ANON_MIB}: "
                  f"{'met' if big['peak_rss_anon_mib'] <= TARGET_RSS_ANON_MIB else 'MISSED'}), on "
                  f"{big['cores']} cores."]
    base = results.get("baseline")
    if base:
        lines += ["", *baseline_table(base, runs.get(base["n"]))]
    return "\n".join(lines)


def baseline_table(base: dict, new: dict | None) -> list[str]:
    old = base.get("run")
    title = f"Baseline at N = {base['n']:,}: zspace at {base['source']} on the same file (new / old < 1 = better)"
    if not old or "error" in old or not new or "error" in new:
        why = (old or {}).get("error") or (new or {}).get("error") or "not measured"
        return [title + ":", "", f"failed: {why[-500:]}"]
    rows = [("total s", new["seconds_total"], old["seconds_total"], ".1f"),
            ("load_latents s", new["seconds_load"], old["seconds_load"], ".2f"),
            ("run_battery s", new["seconds_battery"], old["seconds_battery"], ".1f")]
    for name in analyses_of([new, old]):
        rows.append((f"{name} s", new["seconds"].get(name), old["seconds"].get(name), ".1f"))
    rows.append(("figures (all) s", sum(v for k, v in new["seconds"].items() if k.endswith("_figures")),
                 sum(v for k, v in old["seconds"].items() if k.endswith("_figures")), ".1f"))
    rows += [("peak RssAnon MiB", new["peak_rss_anon_mib"], old["peak_rss_anon_mib"], ".0f"),
             ("peak RssAnon above imports MiB", new["peak_rss_anon_mib"] - new["rss_anon_before_data_mib"],
              old["peak_rss_anon_mib"] - old["rss_anon_before_data_mib"], ".0f"),
             ("peak VmRSS MiB", new["peak_vm_rss_mib"], old["peak_vm_rss_mib"], ".0f"),
             ("VmHWM MiB", new["vm_hwm_mib"], old["vm_hwm_mib"], ".0f")]
    lines = [title + f"; old on_step: {'yes' if old['on_step'] else 'no'}; load average new {loadavg(new)}, "
             f"old {loadavg(old)}:", "",
             "| measure | new | old | new / old |", "|---|---|---|---|"]
    for label, a, b, spec in rows:
        too_short = label.endswith(" s") and max(a or 0, b or 0) < 0.1  # a ratio of timer noise
        ratio = a / b if a is not None and b and not too_short else None
        lines.append(f"| {label} | {fmt(a, spec)} | {fmt(b, spec)} | {fmt(ratio)} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,170000,1000000,10000000")
    parser.add_argument("--d", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write every measurement here (rewritten after each N)")
    parser.add_argument("--baseline-commit", help="measure this commit too (a git worktree in the work directory)")
    parser.add_argument("--baseline-src", help="measure the zspace of this checkout too (DIR/src on PYTHONPATH)")
    parser.add_argument("--baseline-n", type=int, help="N of the baseline run (default: the size nearest 170k)")
    parser.add_argument("--cores", type=int, help="pin each worker to this many cores (default: all it may use)")
    parser.add_argument("--workdir", help="where the temporary directory goes (default: the system's, /tmp)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--npy", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(Path(args.npy), Path(args.out), args.seed, Path(args.result))
    if args.baseline_commit and args.baseline_src:
        parser.error("give --baseline-commit or --baseline-src, not both")
    if args.baseline_n and str(args.baseline_n) not in args.sizes.split(","):
        parser.error(f"--baseline-n {args.baseline_n} is not one of --sizes {args.sizes}")
    results = measure(args)
    emit(results, markdown, args.json)
    failed = [n for n, r in results["runs"].items() if "error" in r]
    base = results.get("baseline") or {}
    return 1 if failed or "error" in base.get("run", {}) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
