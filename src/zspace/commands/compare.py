"""``zspace compare A B --out DIR``: two latent spaces of the same images compared (CKA, Procrustes, k-NN)."""

from __future__ import annotations

import argparse
from pathlib import Path

from zspace.analysis.compare import MEASURES, CompareConfig
from zspace.commands._common import add_device, add_force, add_precision, add_seed, at_least, default_of
from zspace.data import SPLITS
from zspace.science.compare import COMPARE_FILE, compare

#: how the table names each measure, and its range
LABELS = {"linear_cka": ("linear CKA", "[0, 1], 1 = same"), "rbf_cka": ("RBF CKA", "[0, 1], 1 = same"),
          "procrustes_error": ("Procrustes error", "[0, 2], 0 = same"),
          "knn_overlap": ("k-NN overlap", "[0, 1], 1 = same")}


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{value:g} must be > 0")
    return value


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("compare", help="compare two latent spaces of the same images: CKA, Procrustes, k-NN overlap",
                       description="Compare the codes of two runs (or Z files) whose rows are the same images in "
                                   "the same order: linear CKA, RBF CKA, orthogonal Procrustes error and k-NN "
                                   "overlap. The widths may differ. Writes DIR/compare.json (docs/compare.md) and "
                                   "prints a table.")
    for name in ("a", "b"):
        p.add_argument(name, type=Path, metavar=name.upper(),
                       help="a run directory (its --split encoded; a VAE's mu), a Z file or Z directory (zspace "
                            "encode --out), an .npy array or a directory of .npy shards")
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help=f"output directory (DIR/{COMPARE_FILE})")
    p.add_argument("--split", choices=SPLITS, default="test",
                   help="the data split a run is encoded on; train: the images it was trained on, cached "
                        "(default: %(default)s)")
    p.add_argument("--n", type=at_least(1), default=None,
                   help="compare only the first N rows of each input (a run encodes the first N images of its split)")
    p.add_argument("--k", type=at_least(1), default=default_of(CompareConfig, "k"),
                   help="neighbours per row of the k-NN overlap (default: %(default)s)")
    p.add_argument("--max-rows", type=at_least(3), default=default_of(CompareConfig, "max_rows"), metavar="N",
                   help="rows of the RBF CKA and query rows of the k-NN overlap; beyond, a seeded subsample "
                        "(default: %(default)s)")
    p.add_argument("--bandwidth", type=_positive, default=default_of(CompareConfig, "bandwidth"), metavar="S",
                   help="RBF sigma as a multiple of each space's median pairwise distance (default: %(default)s)")
    add_seed(p, "seed of the subsamples")
    p.add_argument("--epoch-a", type=int, default=None, help="checkpoint epoch of run A (default: latest)")
    p.add_argument("--epoch-b", type=int, default=None, help="checkpoint epoch of run B (default: latest)")
    p.add_argument("--batch-size", type=at_least(1), default=512, help="images per encoding batch (default: 512)")
    add_device(p)
    add_precision(p)
    add_force(p)
    return p


def run(args: argparse.Namespace) -> int:
    result = compare(args.a, args.b, split=args.split, n=args.n, epoch_a=args.epoch_a, epoch_b=args.epoch_b,
                     device=args.device, precision=args.precision, batch_size=args.batch_size, seed=args.seed,
                     out=args.out, force=args.force,
                     config=CompareConfig(k=args.k, max_rows=args.max_rows, bandwidth=args.bandwidth,
                                          knn_search_rows=max(args.max_rows,
                                                              default_of(CompareConfig, "knn_search_rows"))))
    a, b = result.inputs["a"], result.inputs["b"]
    print(f"A: {a['source']} ({a['kind']}, {a['codes']}, d = {a['dim']})")
    print(f"B: {b['source']} ({b['kind']}, {b['codes']}, d = {b['dim']})")
    print(f"{'measure':<20}{'value':>8}{'chance':>8}{'rows':>9}  range")
    for name in MEASURES:
        label, scale = LABELS[name]
        label = f"{label} (k={result.k})" if name == "knn_overlap" else label
        chance = result.chance.get(name)
        print(f"{label:<20}{getattr(result, name):>8.4f}{'' if chance is None else f'{chance:.4f}':>8}"
              f"{result.rows_used[name]:>9}  {scale}")
    for note in result.notes:
        print(f"note: {note}")
    print(f"wrote {args.out / COMPARE_FILE}")
    return 0
