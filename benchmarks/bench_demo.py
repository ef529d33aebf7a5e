"""The demo, stage by stage: where the minutes of `make demo` and `zspace demo --quick` go, before and after.

Runs ``zspace.demo.run_demo`` from a source tree (``--src``, default the
installed zspace) and times it at the same function boundaries whatever the
version: per model the training (``train_stage``), the question
(``_question_stage``), the report assets (``prepare_run``: the test split's
encoding and the analysis battery, each analysis timed by the battery itself)
and, once, the HTML report (``build_report``). Baseline: the same script on
another source tree (e.g. a ``git worktree`` of an older commit), measured on
the same machine; ``--compare A.json B.json`` prints the ratios B / A stage by
stage with both answer tables.

    python benchmarks/bench_demo.py --label after --out /tmp/demo-after [--quick] --json benchmarks/results/demo-after.json
    git worktree add /tmp/old <commit> && python benchmarks/bench_demo.py --src /tmp/old/src --label before ...
    python benchmarks/bench_demo.py --compare before.json after.json
    python benchmarks/bench_demo.py --baseline-commit 996d1ea --out /tmp/bd [--quick]   # both, one after the other

With ``--baseline-commit`` the script checks that commit out into a temporary
``git worktree``, measures it and then this tree, each in a fresh process
(one after the other, never at the same time: the machine has 2 cores), and
prints the comparison.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("ZSPACE_PROGRESS", "0")
os.environ.setdefault("MPLBACKEND", "Agg")


def timed(times: dict[str, float], key: Callable[..., str], fn: Callable) -> Callable:
    """``fn`` that adds its wall time (seconds) to ``times[key(*args)]``."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            times[key(*args, **kwargs)] += time.perf_counter() - start
    return wrapper


def measure(src: str | None, out: Path, quick: bool, label: str) -> dict[str, Any]:
    """Run one demo into ``out`` (emptied first) and return its stage times (s), total and answer table."""
    if src:
        sys.path.insert(0, str(Path(src).resolve()))
    import shutil

    from zspace import demo

    shutil.rmtree(out, ignore_errors=True)
    cache = Path(f"{out}-cache")  # a new user's first run: the feature net is trained, not found in a cache
    shutil.rmtree(cache, ignore_errors=True)
    os.environ["ZSPACE_CACHE"] = str(cache)
    times: dict[str, float] = defaultdict(float)
    demo.train_stage = timed(times, lambda model, *a, **k: f"{model.name}/train", demo.train_stage)
    demo._question_stage = timed(times, lambda config, run_dir, *a, **k: f"{Path(run_dir).name}/question",
                                 demo._question_stage)
    demo.prepare_run = timed(times, lambda run_dir, *a, **k: f"{Path(run_dir).name}/report assets", demo.prepare_run)
    demo.build_report = timed(times, lambda *a, **k: "report", demo.build_report)
    config = demo.DemoConfig.quick() if quick else demo.DemoConfig()
    start = time.perf_counter()
    summary = demo.run_demo(out, config)
    total = time.perf_counter() - start
    analyses: dict[str, dict[str, float]] = {}
    for name in summary["models"]:
        report = out / name / "analysis" / "analysis.json"
        if report.exists():
            analyses[name] = json.loads(report.read_text()).get("seconds", {})
    return {"label": label, "quick": quick, "src": src or "installed", "total_s": round(total, 1),
            "stages_s": {k: round(v, 1) for k, v in times.items()}, "analyses_s": analyses,
            "answer_table": demo.answer_table(summary), "load_average": os.getloadavg(),
            "cpu_count": os.cpu_count(), "summary": {k: v for k, v in summary.items() if k != "config"}}


def stage_rows(result: dict[str, Any]) -> dict[str, float]:
    """Stage name -> seconds, the models' stages summed over models (train, question, report assets, report)."""
    rows: dict[str, float] = defaultdict(float)
    for key, seconds in result["stages_s"].items():
        rows[key.split("/")[-1]] += seconds
    for seconds in result["analyses_s"].values():
        for name, s in seconds.items():
            rows[f"  of which {name}"] += s
    rows["other"] = result["total_s"] - sum(v for k, v in rows.items() if not k.startswith("  "))
    rows["total"] = result["total_s"]
    return rows


def markdown(results: list[dict[str, Any]]) -> str:
    """A table of stages x runs (seconds), with ratios to the first run, then each run's answer table."""
    rows = [stage_rows(r) for r in results]
    names = list(dict.fromkeys(k for r in rows for k in r))
    head = ["stage", *(f"{r['label']} (s)" for r in results), *(f"{r['label']} / {results[0]['label']}"
                                                                 for r in results[1:])]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in names:
        values = [row.get(name) for row in rows]
        ratios = [f"{v / values[0]:.2f}x" if v and values[0] else "-" for v in values[1:]]
        lines.append("| " + " | ".join([name, *(f"{v:.1f}" if v is not None else "-" for v in values), *ratios]) + " |")
    for r in results:
        load = ", ".join(f"{x:.1f}" for x in r["load_average"])
        lines += ["", f"{r['label']} ({'quick' if r['quick'] else 'full'} demo, {r['src']}; load average at the end "
                      f"{load}): FD / floor (void share)", ""]
        table = r["answer_table"]
        lines += ["| " + " | ".join(table[0]) + " |", "|" + "---|" * len(table[0])]
        lines += ["| " + " | ".join(row) + " |" for row in table[1:]]
        verdict = {name: m.get("answer", {}).get("sentence") for name, m in r["summary"].get("models", {}).items()}
        if any(verdict.values()):
            lines.append("")
            lines += [f"- {name}: {v}" for name, v in verdict.items() if v]
    return "\n".join(lines)


def against_commit(commit: str, out: Path, quick: bool) -> list[dict[str, Any]]:
    """The demo of ``commit`` (baseline, label ``before``) and of this tree (``after``), each measured by this
    script in its own process; the worktree is removed afterwards."""
    import subprocess
    import tempfile

    repo = Path(__file__).resolve().parent.parent
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "baseline"
        subprocess.run(["git", "-C", str(repo), "worktree", "add", "--detach", str(tree), commit], check=True,
                       capture_output=True)
        try:
            for label, src in (("before", tree / "src"), ("after", repo / "src")):
                result = Path(tmp) / f"{label}.json"
                cmd = [sys.executable, __file__, "--src", str(src), "--label", label, "--out", f"{out}-{label}",
                       "--json", str(result), *(["--quick"] if quick else [])]
                subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
                results.append(json.loads(result.read_text()))
        finally:
            subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(tree)], check=False)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", default=None, help="source tree to import zspace from (default: the installed one)")
    parser.add_argument("--out", type=Path, default=Path("/tmp/zspace-bench-demo"))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--label", default="demo")
    parser.add_argument("--json", default=None, help="write the raw result here")
    parser.add_argument("--compare", nargs="+", default=None, help="print the table of these result JSONs")
    parser.add_argument("--baseline-commit", default=None,
                        help="measure this commit (a temporary git worktree) and then this tree; print both")
    args = parser.parse_args()
    if args.baseline_commit:
        print(markdown(against_commit(args.baseline_commit, args.out, args.quick)))
        return
    if args.compare:
        print(markdown([json.loads(Path(p).read_text()) for p in args.compare]))
        return
    result = measure(args.src, args.out, args.quick, args.label)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    print(markdown([result]))


if __name__ == "__main__":
    main()
