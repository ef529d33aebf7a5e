"""``zspace analyze``: the latent-space analysis battery on a Z.npz or any (N, d) array."""

from __future__ import annotations

import argparse
import dataclasses

from zspace.analysis.battery import ANALYSES, BatteryConfig, run_battery
from zspace.analysis.inputs import DEFAULT_KEY, load_latents
from zspace.commands._common import add_seed, at_least
from zspace.plots.analysis_figures import draw


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``analyze`` and its options; defaults are read from the config dataclasses."""
    defaults = BatteryConfig()
    p = subparsers.add_parser(
        "analyze", help="analyse z-points: axes, radius, k-means, t-SNE, PCA, planes, VAE statistics",
        description="Run the latent-space analyses of SPEC section 4 on z-points and write DIR/analysis.json "
                    "(schema in docs/analysis.md) and one PNG per figure. Existing files in DIR are replaced.")
    p.add_argument("input", metavar="INPUT",
                   help="Z.npz from 'zspace encode', or any .npy/.npz holding an (N, d) array")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    p.add_argument("--only", metavar="NAMES",
                   help=f"comma-separated subset of: {', '.join(ANALYSES)} (default: all that apply)")
    p.add_argument("--key", metavar="NAME",
                   help=f"array name inside an .npz (default {DEFAULT_KEY!r}, or the only array in the file)")
    p.add_argument("--tsne-n", type=at_least(2), metavar="N",
                   help=f"points embedded by t-SNE (default {defaults.tsne.sample_size})")
    add_seed(p, "seed of subsamples, k-means and t-SNE")
    p.add_argument("--no-figures", action="store_true", help="write analysis.json only")
    return p


def run(args: argparse.Namespace) -> int:
    """Load and check INPUT, run the battery, write the results; return the exit status."""
    config = BatteryConfig(figures=not args.no_figures)
    if args.tsne_n is not None:
        config = dataclasses.replace(config, tsne=dataclasses.replace(config.tsne, sample_size=args.tsne_n))
    only = [name.strip() for name in args.only.split(",") if name.strip()] if args.only else None
    latents = load_latents(args.input, key=args.key)
    run_battery(latents, args.out, config, only=only, draw=draw, seed=args.seed)
    print(f"wrote {args.out}/analysis.json")
    return 0
