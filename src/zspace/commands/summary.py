"""``zspace summary``: the Keras-like layer table of a model configuration."""

from __future__ import annotations

import argparse
import json

import torch

from zspace.commands._common import default_of
from zspace.core.errors import ZspaceError
from zspace.models import ModelConfig, build_model, model_kinds, parse_int_list, parse_shape, summarize


def add_model_options(p: argparse.ArgumentParser) -> None:
    """Model-shape options shared by ``summary`` and ``train``."""
    p.add_argument("--model", choices=model_kinds(), default=default_of(ModelConfig, "kind"), help="model kind")
    p.add_argument("--z-dim", type=int, default=default_of(ModelConfig, "z_dim"), help="latent dimension")
    p.add_argument("--filters", default=",".join(map(str, default_of(ModelConfig, "filters"))),
                   help="channels of the stride-2 convolutions (default: %(default)s)")
    p.add_argument("--kernel-size", type=int, default=default_of(ModelConfig, "kernel_size"))
    p.add_argument("--batch-norm", action="store_true", help="BatchNorm after each hidden convolution")
    p.add_argument("--extra-dense", type=int, default=None, help="width of an extra Dense layer before the latent head")
    p.add_argument("--eps-clip", type=float, default=default_of(ModelConfig, "eps_clip"), help="VAE: |eps| clip")


def model_config_from_args(args: argparse.Namespace, input_shape=None) -> ModelConfig:
    return ModelConfig(kind=args.model, input_shape=input_shape or default_of(ModelConfig, "input_shape"),
                       z_dim=args.z_dim,
                       filters=parse_int_list(args.filters, "--filters"), kernel_size=args.kernel_size,
                       batch_norm=args.batch_norm, extra_dense=args.extra_dense, eps_clip=args.eps_clip)


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
