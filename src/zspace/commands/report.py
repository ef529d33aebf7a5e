"""``zspace report``: one self-contained HTML file for one or more runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from zspace.analysis import BatteryConfig
from zspace.commands._common import add_device, add_seed, at_least, default_of
from zspace.report import ReportConfig, build_report, prepare_run
from zspace.report.assets import REPORT_TSNE_POINTS


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("report", help="write an offline HTML report for one or more runs",
                       description="Encode the test split, run the analysis battery and draw grids for each run "
                                   "(reusing what is already in the run directory), then write one HTML file.")
    p.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR")
    p.add_argument("--out", default="report.html", help="output HTML (default: %(default)s)")
    p.add_argument("--tsne-n", type=at_least(2), default=REPORT_TSNE_POINTS,
                   help="points per t-SNE map, of z and of the leading PCA components (default: %(default)s)")
    p.add_argument("--max-scatter-points", type=at_least(1), default=default_of(ReportConfig, "max_scatter_points"),
                   help="points per interactive scatter (default: %(default)s)")
    p.add_argument("--samplers", default=",".join(default_of(ReportConfig, "samplers")),
                   help="samplers of the generated grids (default: %(default)s)")
    p.add_argument("--names", default=None, help="comma-separated labels of the runs (default: directory names)")
    add_seed(p, "seed of the encoding, the analyses and the grids", default_of(ReportConfig, "seed"))
    add_device(p)
    return p


def run(args: argparse.Namespace) -> int:
    samplers = tuple(s for s in args.samplers.split(",") if s)
    config = ReportConfig(samplers=samplers, max_scatter_points=args.max_scatter_points, seed=args.seed,
                          device=args.device, battery=BatteryConfig().with_tsne_points(args.tsne_n))
    for run_dir in args.run_dirs:
        prepare_run(run_dir, config)
    names = args.names.split(",") if args.names else None
    path = build_report(args.run_dirs, args.out, samplers, names=names)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0
