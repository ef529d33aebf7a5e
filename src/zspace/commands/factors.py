"""``zspace factors``: which axes and directions encode which known factors; traversals decoded."""

from __future__ import annotations

import argparse
import dataclasses

from zspace.analysis.factors import IMPORTANCE_MODELS, FactorConfig
from zspace.commands._common import add_model_use_options, add_seed, default_of
from zspace.factors import FactorsConfig, write_factors
from zspace.plots.factor_figures import save_factor_figures


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("factors", help="MI, MIG, DCI, SAP of the codes against the known factors; traversals",
                       description="Measure how the latent codes encode the data's known factors (shapes' kind, "
                                   "x, y, size, rotation, ...; class labels; CelebA's 40 attributes): mutual "
                                   "information per axis and factor, MIG, DCI, SAP, on the axes and on the PCA "
                                   "directions, and each factor's linear direction. For a run, also decode axis "
                                   "traversals, factor directions and interpolations. Writes DIR/factors.json "
                                   "(docs/factors.md) and PNGs.")
    p.add_argument("input", metavar="INPUT", help="a run directory (its encoded training split, cached) or a Z "
                                                  "file with factors and/or labels")
    p.add_argument("--out", default=None, help="output directory (default for a run: RUN_DIR/factors, which "
                                                "zspace report shows)")
    p.add_argument("--max-points", type=int, default=None, help="seeded subsample for the measures (default "
                                                                f"{default_of(FactorConfig, 'max_points')})")
    p.add_argument("--importance", choices=IMPORTANCE_MODELS, default=None,
                   help=f"importance model of DCI (default: {default_of(FactorConfig, 'importance')}; "
                        "see docs/factors.md)")
    p.add_argument("--no-figures", action="store_true", help="write factors.json only")
    add_seed(p, "seed of subsamples, traversal points and pairs")
    add_model_use_options(p)
    return p


def run(args: argparse.Namespace) -> int:
    config = FactorsConfig()
    overrides = {k: v for k, v in (("max_points", args.max_points), ("importance", args.importance)) if v is not None}
    if overrides:
        config = dataclasses.replace(config, analysis=dataclasses.replace(config.analysis, **overrides))
    outcome = write_factors(args.input, args.out, config, seed=args.seed, epoch=args.epoch, device=args.device,
                            precision=args.precision, figures=not args.no_figures, draw=save_factor_figures)
    result = outcome.result
    print(f"wrote {outcome.summary_path}: {len(outcome.data.factor_names)} factors, {result.n_points} points; "
          + ", ".join(f"{k} {v:.3g}" for k, v in result.headline().items()))
    return 0
