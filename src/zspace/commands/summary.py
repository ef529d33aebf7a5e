"""``zspace summary``: the Keras-like layer table of a model configuration."""

from __future__ import annotations

import argparse
import json

import torch

from zspace.commands._common import default_of
from zspace.core.errors import ZspaceError
from zspace.models import ModelConfig, build_model, model_kinds, parse_int_list, parse_shape, summarize


def add_model_options(p: argparse.ArgumentParser) -> None:
    """Model-shape options shared by ``summary`` and ``train``; each is None unless given (see :func:`model_options`)."""
    p.add_argument("--model", choices=model_kinds(), default=None,
                   help=f"model kind (default: {default_of(ModelConfig, 'kind')})")
    p.add_argument("--z-dim", type=int, default=None,
                   help=f"latent dimension (default: {default_of(ModelConfig, 'z_dim')})")
    p.add_argument("--filters", default=None, help="channels of the stride-2 convolutions (default: "
                                                   f"{','.join(map(str, default_of(ModelConfig, 'filters')))})")
    p.add_argument("--kernel-size", type=int, default=None,
                   help=f"(default: {default_of(ModelConfig, 'kernel_size')})")
    p.add_argument("--batch-norm", action=argparse.BooleanOptionalAction, default=None,
                   help="BatchNorm after each hidden convolution (default: off)")
    p.add_argument("--extra-dense", type=int, default=None, help="width of an extra Dense layer before the latent head")
    p.add_argument("--eps-clip", type=float, default=None,
                   help=f"VAE: |eps| clip (default: {default_of(ModelConfig, 'eps_clip')})")


#: command-line option -> ModelConfig field, for the options of :func:`add_model_options`
_MODEL_OPTIONS = {"model": "kind", "z_dim": "z_dim", "filters": "filters", "kernel_size": "kernel_size",
                  "batch_norm": "batch_norm", "extra_dense": "extra_dense", "eps_clip": "eps_clip"}


def model_options(args: argparse.Namespace) -> dict:
    """The ModelConfig fields the user gave on the command line (``--filters`` parsed to a tuple)."""
    given = {field: getattr(args, option) for option, field in _MODEL_OPTIONS.items()
             if getattr(args, option) is not None}
    if "filters" in given:
        given["filters"] = parse_int_list(given["filters"], "--filters")
    return given


def model_config_from_args(args: argparse.Namespace, input_shape=None) -> ModelConfig:
    """The ModelConfig of the options given, defaults for the rest."""
    options = model_options(args)
    if input_shape is not None:
        options["input_shape"] = input_shape
    return ModelConfig(**options)


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
