"""``zspace summary``: the Keras-like layer table of a model configuration."""

from __future__ import annotations

import argparse
import json

import torch

from zspace.commands._common import add_model_options, default_of, model_config_from_args
from zspace.core.errors import ZspaceError
from zspace.models import ModelConfig, build_model, parse_shape, summarize


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("summary", help="print the layer table and parameter counts of a model",
                       description="Print a Keras-like layer table with output shapes and parameter counts.")
    p.add_argument("--input", default="x".join(map(str, default_of(ModelConfig, "input_shape"))),
                   help="image shape HxWxC (default: %(default)s)")
    add_model_options(p)
    p.add_argument("--json", action="store_true", help="print only the parameter counts as JSON")
    return p


def run(args: argparse.Namespace) -> int:
    config = model_config_from_args(args, parse_shape(args.input))
    try:
        with torch.device("meta"):  # shapes and counts only: a huge --z-dim or --input allocates nothing
            summary = summarize(build_model(config))
    except RuntimeError as exc:  # a layer with more weights than torch can count
        raise ZspaceError(f"no model can have these sizes ({' '.join(str(exc).split())}); use smaller --filters, "
                          "--kernel-size, --z-dim, --extra-dense or --input") from None
    print(json.dumps(summary.to_dict()) if args.json else summary.format())
    return 0
