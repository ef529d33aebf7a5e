"""The ``zspace`` command line: arguments -> API calls, user errors -> one line.

Each subcommand lives in :mod:`zspace.commands` as a module with
``add_parser(subparsers)`` and ``run(args) -> int``; :data:`COMMANDS` is the
registry. A :class:`~zspace.core.errors.ZspaceError` is printed as
``zspace: error: ...`` with exit status 2 and no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from zspace.core import dist
from zspace.core.errors import ZspaceError, Preempted
from zspace.core.registry import Registry
from zspace.core.version import __version__

#: subcommand name -> module under zspace.commands, in the order of ``zspace --help``
COMMANDS: Registry[str] = Registry("command", {
    "summary": "summary",
    "train": "train",
    "encode": "encode",
    "generate": "generate",
    "reconstruct": "reconstruct",
    "analyze": "analyze",
    "demo": "demo",
    "fit-sampler": "fit_sampler",
    "score": "score",
    "question": "question",
    "holes": "holes",
    "factors": "factors",
    "report": "report",
    "projector": "projector",
    "compare": "compare",
    "explore": "explore",
})


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The argument parser with every registered subcommand, or with subcommand ``only`` alone.

    ``main`` builds the one-command parser when the command line names a
    command: its module alone is imported (``zspace train`` does not load the
    analysis and plotting stack, which saves ~3 s at every start, per process
    under torchrun); the parsing and the messages of that command are the same.
    """
    parser = argparse.ArgumentParser(prog="zspace", description="A latent-space laboratory for autoencoders.")
    parser.add_argument("--version", action="version", version=f"zspace {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module in COMMANDS.items():
        if only is not None and name != only:
            continue
        mod = importlib.import_module(f"zspace.commands.{module}")
        p = mod.add_parser(sub)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``zspace`` console script; returns the exit status."""
    raw = sys.argv[1:] if argv is None else [str(a) for a in argv]
    if raw == ["--version"]:  # answered before the subcommands (and torch) are imported
        print(f"zspace {__version__}")
        return 0
    parser = build_parser(raw[0] if raw and raw[0] in COMMANDS.names() else None)
    args = parser.parse_args(raw)
    args.argv = raw[1:]  # the subcommand's own arguments, for commands that relaunch themselves (train --nproc)
    try:
        dist.adopt_slurm_environment()  # srun's tasks form one job (before anything reads RANK or WORLD_SIZE)
        return int(args._run(args) or 0)
    except ZspaceError as exc:
        print(f"zspace: error: {exc}", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"zspace: error: {args.command} ran out of memory; use a smaller input, --n or batch size, or a "
              "machine with more memory", file=sys.stderr)
        return 2
    except Preempted as exc:
        print(f"zspace: {exc}", file=sys.stderr)
        return Preempted.EXIT_STATUS
    except KeyboardInterrupt:
        print("zspace: interrupted; finished files are kept, partial ones were not written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
