"""``zspace train``: train a new run, or resume one."""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys

from zspace.commands._common import add_device, add_model_options, default_of, given_fields, model_options
from zspace.core import dist
from zspace.core.errors import ZspaceError
from zspace.pipeline.config import TrainConfig
from zspace.pipeline.losses import RECONSTRUCTION_LOSSES
from zspace.pipeline.precision import CPU_BF16_MIN_FORWARD_GFLOP, PRECISION_CHOICES
from zspace.pipeline.runconfig import RunConfig, effective_run_config
from zspace.pipeline.train import resume, train


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("train", help="train an AE or VAE (or resume a run)",
                       description="Train a convolutional AE/VAE; checkpoints and metrics go to --out.")
    p.add_argument("--config", metavar="FILE", default=None,
                   help="read the options from a TOML, YAML or JSON file with sections model, train (and data), "
                        "the layout of a run's config.json; options given here override the file")
    p.add_argument("--print-config", action="store_true",
                   help="print the effective configuration (defaults < --config < options) as JSON and exit; "
                        "the output is a valid --config")
    p.add_argument("--data", default=None,
                   help="fashion-mnist | mnist | celeba:PATH | folder:PATH | array:FILE.npy | shapes[:96] "
                        f"(default: {default_of(TrainConfig, 'data')})")
    p.add_argument("--out", help="run directory: a new one, or one holding this same run, which then continues from "
                                 "its newest checkpoint (what a restarted job does)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue this run instead of starting one")
    p.add_argument("--from-epoch", type=int, default=None, help="with --resume: restart after this saved epoch")
    add_model_options(p)
    for name, typ, help_text in [
        ("epochs", int, "total epochs"), ("batch_size", int, "images per step"), ("lr", float, "Adam learning rate"),
        ("fact", float, "KL weight: total = reco + fact * KL (VAE)"), ("seed", int, "random seed"),
        ("keep_every", int, "keep every k-th epoch's checkpoint besides the latest (0: latest only)"),
        ("n_train", int, "use at most this many training images"), ("n_val", int, "use at most this many validation images"),
        ("image_size", int, "resize folder/CelebA images to this square size"),
        ("divergence_factor", float, "epoch loss above this x best counts as divergence"),
    ]:
        default = default_of(TrainConfig, name)
        p.add_argument("--" + name.replace("_", "-"), type=typ, default=None,
                       help=f"{help_text} (default: {default})")
    p.add_argument("--loss", choices=RECONSTRUCTION_LOSSES, default=None,
                   help=f"reconstruction loss (default: {default_of(TrainConfig, 'loss')})")
    p.add_argument("--precision", choices=PRECISION_CHOICES, default=None,
                   help=f"autocast dtype: fp32, bf16 (CUDA, MPS, CPUs with native bf16), fp16 (CUDA, MPS) or auto "
                        f"(default: {default_of(TrainConfig, 'precision')}: bf16 on GPUs of compute capability >= 8.0, "
                        f"fp16 on older ones, bf16 on CPUs with native "
                        f"bf16 for models of >= {CPU_BF16_MIN_FORWARD_GFLOP} GFLOP per image; else fp32)")
    p.add_argument("--amp", action="store_const", const="auto", dest="precision",
                   help="the same as --precision auto")
    p.add_argument("--checkpoint-every", metavar="N|TIME", default=None,
                   help="also checkpoint inside an epoch, every N steps (500) or every TIME (30s, 10min, 2h), so a "
                        "killed or preempted run loses at most that much (default: at the end of each epoch). "
                        "SIGTERM or SIGUSR1 always make training finish its step, checkpoint and exit with status "
                        "75; the same command again continues")
    p.add_argument("--tensorboard", action="store_true", default=None,
                   help="also write TensorBoard event files (scalars, reconstruction and sample grids per epoch) "
                        "into RUN_DIR/tensorboard (needs: pip install 'zspace[tensorboard]')")
    add_device(p, default=None)
    p.add_argument("--nproc", type=int, default=None, metavar="N",
                   help="train on N processes on this machine (torchrun + DistributedDataParallel; one GPU each "
                        "on CUDA); the command it runs is printed. For several machines call torchrun yourself "
                        "(see the README)")
    return p


def torchrun_command(nproc: int, argv: list[str]) -> list[str]:
    """The torchrun command line that runs ``zspace train ARGV`` on ``nproc`` local processes."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
            "-m", "zspace", "train", *argv]


def _without_nproc(argv: list[str]) -> list[str]:
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            out.append(arg)
    return out


def effective_config(args: argparse.Namespace) -> RunConfig:
    """Defaults < ``--config`` < the options given on the command line (each named after its TrainConfig field)."""
    return effective_run_config(args.config, model_options(args), given_fields(args, TrainConfig))


def run(args: argparse.Namespace) -> int:
    if args.print_config:
        if args.resume:
            raise ZspaceError("--print-config shows a new run's configuration; a run's own is RUN_DIR/config.json")
        print(json.dumps(effective_config(args).to_dict(), indent=2))
        return 0
    if args.nproc is not None:
        if args.nproc < 1:
            raise ZspaceError(f"--nproc {args.nproc} must be >= 1")
        if dist.world_size() > 1:
            raise ZspaceError("--nproc starts torchrun itself; drop it when you launch zspace with torchrun")
        command = torchrun_command(args.nproc, _without_nproc(args.argv))
        print("running: " + shlex.join(command), flush=True)
        return subprocess.call(command)
    if args.resume:
        if args.out:
            raise ZspaceError("--resume continues an existing run in place; drop --out")
        if args.config:
            raise ZspaceError("--resume continues with the run's own config.json; drop --config (to train it "
                              "again from the start: zspace train --config RUN_DIR/config.json --out NEW_DIR)")
        result = resume(args.resume, from_epoch=args.from_epoch, epochs=args.epochs, tensorboard=args.tensorboard,
                        checkpoint_every=args.checkpoint_every)
    else:
        if not args.out:
            raise ZspaceError("zspace train needs --out RUN_DIR (a new directory) or --resume RUN_DIR")
        config = effective_config(args)
        result = train(config.train, config.model, args.out)
    last = result.history[-1] if result.history else None
    if last and dist.is_main_process():
        print(f"trained {result.run.root}: epoch {last['epoch']}, train total {last['train']['total']:.4g}, "
              f"val total {last['val']['total']:.4g}")
    return 0
