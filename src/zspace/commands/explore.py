"""``zspace explore``: a local web page that decodes any point of the latent space the user picks."""

from __future__ import annotations

import argparse
from pathlib import Path

from zspace.commands._common import add_model_use_options, at_least
from zspace.data import SPLITS


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("explore", help="a live explorer: click a point of the latent space, see it decoded",
                       description="Serve one page on this machine for one or several runs side by side: the map "
                                   "of every code (PCA planes, any two axes), a click decodes the point, sliders "
                                   "walk along directions, two picks interpolate, samplers overlay their points. "
                                   "Prints http://127.0.0.1:PORT/?token=...; Ctrl-C stops it "
                                   "(needs: pip install 'zspace[explore]'). See docs/explore.md.")
    p.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR", help="run directories (zspace train --out)")
    p.add_argument("--split", choices=SPLITS, default="test", help="the split whose codes are shown (default: test)")
    p.add_argument("--n", type=at_least(1), default=None, help="show at most this many images of the split")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: 127.0.0.1, this machine only; another one prints a warning)")
    p.add_argument("--port", type=int, default=0, help="port (default: 0, a free one)")
    p.add_argument("--batch-decodes", action="store_true",
                   help="decode concurrent requests in shared forward passes: more decodes per second for many "
                        "clients, but a pixel may differ by one level from a lone decode (default: off, "
                        "every image equals zspace.open_run(d).decode of its own z)")
    add_model_use_options(p)
    return p


def run(args: argparse.Namespace) -> int:
    from zspace.core.errors import ZspaceError

    try:
        from zspace.explore.server import serve
    except ImportError as exc:
        raise ZspaceError(f"zspace explore needs its web server ({exc.name} is missing): "
                          "pip install 'zspace[explore]'") from None
    try:
        serve(args.run_dirs, host=args.host, port=args.port, split=args.split, n=args.n, epoch=args.epoch,
              device=args.device, precision=args.precision, batch_decodes=args.batch_decodes)
    except KeyboardInterrupt:
        print("zspace explore: stopped")
    return 0
