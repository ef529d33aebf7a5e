"""Rank-aware logging: messages from rank 0 only, one format for the package."""

from __future__ import annotations

import logging
import sys

from zspace.core.dist import is_main_process, rank


class _RankFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.rank = rank()
        return is_main_process() or record.levelno >= logging.WARNING


def get_logger(name: str = "zspace") -> logging.Logger:
    """The package logger; configured once, writing to stderr."""
    logger = logging.getLogger(name if name.startswith("zspace") else f"zspace.{name}")
    root = logging.getLogger("zspace")
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("zspace: %(message)s"))
        handler.addFilter(_RankFilter())
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        root.propagate = False
    return logger
