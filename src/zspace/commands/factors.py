"""``zspace factors``: which axes and directions encode which known factors; traversals decoded."""

from __future__ import annotations

import argparse
from pathlib import Path

from zspace.commands._common import add_device, add_epoch, add_seed
from zspace.core import io
from zspace.core.errors import ZspaceError


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
    p.add_argument("--max-points", type=int, default=None, help="seeded subsample for the measures (default 50000)")
    p.add_argument("--importance", choices=["gbt", "lasso"], default=None,
                   help="importance model of DCI (default: see docs/factors.md)")
    p.add_argument("--no-figures", action="store_true", help="write factors.json only")
    add_seed(p, "seed of subsamples, traversal points and pairs")
    add_epoch(p)
    add_device(p)
    return p


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from zspace.science.factors import FactorsConfig, factors

    config = FactorsConfig()
    overrides = {k: v for k, v in (("max_points", args.max_points), ("importance", args.importance)) if v is not None}
    if overrides:
        config = dataclasses.replace(config, analysis=dataclasses.replace(config.analysis, **overrides))
    outcome = factors(args.input, config, seed=args.seed, epoch=args.epoch, device=args.device,
                      decode=not args.no_figures)
    if args.out is None and not (Path(args.input) / "config.json").exists():
        raise ZspaceError("zspace factors Z_FILE needs --out DIR (only a run directory has a default)")
    out = Path(args.out) if args.out else Path(args.input) / "factors"
    summary = outcome.to_json()
    if not args.no_figures:
        summary["figures"] = _draw(outcome, out)
    io.write_json(out / "factors.json", summary)
    result = outcome.result
    print(f"wrote {out}/factors.json: {len(outcome.data.factor_names)} factors, {result.n_points} points; "
          + ", ".join(f"{k} {v:.3g}" for k, v in result.headline().items()))
    return 0


def _draw(outcome, out: Path) -> list[str]:
    from zspace.plots.factor_figures import mi_heatmap, save_path_grid, save_traversal_grids

    files = []
    names = list(outcome.result.factor_names)
    for scores in (outcome.result.axes, outcome.result.pca):
        fig = mi_heatmap(scores.mi, names, f"MI with each factor, {scores.basis} ({outcome.data.source})")
        path = out / f"mi-{scores.basis}.png"
        with io.atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=110)
        files.append(path.name)
    images, plan = outcome.images, outcome.plan
    if "axis" in images:
        files += save_traversal_grids(images["axis"], [f"axis{a}" for a in plan.axes], out, "traverse")
    if "direction" in images:
        files += save_traversal_grids(images["direction"], plan.direction_factors, out, "direction")
    if "attribute" in images:
        files += save_traversal_grids(images["attribute"], plan.attribute_factors, out, "attribute")
    for kind in ("straight", "data"):
        if f"path_{kind}" in images:
            files.append(save_path_grid(images[f"path_{kind}"], out / f"paths-{kind}.png"))
    return files
