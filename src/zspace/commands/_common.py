"""Argument helpers shared by the subcommands: one definition per option."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any, Mapping

from zspace.models import MODELS, ModelConfig, parse_int_list
from zspace.pipeline.precision import PRECISION_CHOICES
from zspace.science.quality.standard import INCEPTION_FILE, WEIGHTS_ENV


def default_of(cls, name: str):
    """The default of field ``name`` of config dataclass ``cls`` (one place for each fact)."""
    for f in dataclasses.fields(cls):
        if f.name == name:
            return f.default
    raise KeyError(name)


def given_fields(args: argparse.Namespace, cls, options: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The fields of config dataclass ``cls`` that the user gave on the command line, by field name.

    A field's option is the field's own name (``--batch-size`` -> ``batch_size``) unless ``options``
    maps the field to another (``{"kind": "model"}``); a field without an option, or whose option was
    not given (None), is left out, so defaults and config files decide it.
    """
    options = options or {}
    given = {}
    for f in dataclasses.fields(cls):
        value = getattr(args, options.get(f.name, f.name), None)
        if value is not None:
            given[f.name] = value
    return given


#: seeds reach numpy, torch and scikit-learn; this is the range all three accept
SEED_LIMIT = 2 ** 32


def seed_value(text: str) -> int:
    """argparse type of ``--seed``: an integer in [0, 2**32)."""
    value = _integer(text)
    if not 0 <= value < SEED_LIMIT:
        raise argparse.ArgumentTypeError(f"{value} is out of range; a seed is an integer from 0 to {SEED_LIMIT - 1}")
    return value


def at_least(minimum: int):
    """argparse type: an integer >= ``minimum``."""
    def check(text: str) -> int:
        value = _integer(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is too small; give an integer >= {minimum}")
        return value
    check.__name__ = f"integer >= {minimum}"
    return check


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        shown = text if len(text) <= 30 else text[:27] + "..."
        raise argparse.ArgumentTypeError(f"{shown!r} is not an integer") from None


def add_seed(p: argparse.ArgumentParser, help_text: str, default: int = 0) -> None:
    p.add_argument("--seed", type=seed_value, default=default, help=f"{help_text} (default: %(default)s)")


def add_device(p: argparse.ArgumentParser, default: str | None = "auto") -> None:
    """``--device``; ``default=None`` where a config file may set it (the help still shows auto)."""
    p.add_argument("--device", default=default, help="auto | cpu | cuda | cuda:N | mps (default: auto)")


def add_precision(p: argparse.ArgumentParser) -> None:
    p.add_argument("--precision", choices=PRECISION_CHOICES, default=None,
                   help="autocast dtype of the model's forward passes (default: the run's training precision, "
                        "float32 where that one cannot run)")


def add_epoch(p: argparse.ArgumentParser) -> None:
    p.add_argument("--epoch", type=int, default=None, help="checkpoint epoch to use (default: latest)")


def add_run_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="directory written by zspace train --out")


def add_force(p: argparse.ArgumentParser) -> None:
    p.add_argument("--force", action="store_true", help="replace an existing output file")


def add_model_options(p: argparse.ArgumentParser) -> None:
    """Model-shape options of ``summary`` and ``train``; each is None unless given (see :func:`model_options`)."""
    p.add_argument("--model", choices=MODELS, default=None,
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


def model_options(args: argparse.Namespace) -> dict:
    """The ModelConfig fields given by :func:`add_model_options`' options (``--filters`` parsed to a tuple).

    Every option is named after its field but ``--model`` (the field ``kind``).
    """
    given = given_fields(args, ModelConfig, {"kind": "model"})
    if "filters" in given:
        given["filters"] = parse_int_list(given["filters"], "--filters")
    return given


def model_config_from_args(args: argparse.Namespace, input_shape=None) -> ModelConfig:
    """The ModelConfig of the options given, defaults for the rest."""
    options = model_options(args)
    if input_shape is not None:
        options["input_shape"] = input_shape
    return ModelConfig(**options)


def add_model_use_options(p: argparse.ArgumentParser, force: bool = False) -> None:
    """--epoch, --device and --precision for commands that load a run's model; --force for those that write one file."""
    add_epoch(p)
    add_device(p)
    add_precision(p)
    if force:
        add_force(p)


def add_inception_weights(p: argparse.ArgumentParser) -> None:
    """--inception-weights FILE: the standard scores (FID, KID, ...) in Inception-v3 features from this local file."""
    p.add_argument("--inception-weights", metavar="FILE", default=None,
                   help=f"torch-fidelity's Inception-v3 weights ({INCEPTION_FILE}, fetched by you, checked by its "
                        "SHA-256): adds the standard scores FID, KID, precision/recall and density/coverage "
                        f"(default: ${WEIGHTS_ENV}; neither: zspace's own scores only; see docs/question.md)")
