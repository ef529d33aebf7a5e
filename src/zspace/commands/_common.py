"""Argument helpers shared by the subcommands: one definition per option."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from zspace.pipeline.precision import PRECISION_CHOICES


def default_of(cls, name: str):
    """The default of field ``name`` of config dataclass ``cls`` (one place for each fact)."""
    for f in dataclasses.fields(cls):
        if f.name == name:
            return f.default
    raise KeyError(name)


def add_device(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N | mps (default: auto)")


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


def add_model_use_options(p: argparse.ArgumentParser, force: bool = False) -> None:
    """--epoch, --device and --precision for commands that load a run's model; --force for those that write one file."""
    add_epoch(p)
    add_device(p)
    add_precision(p)
    if force:
        add_force(p)
