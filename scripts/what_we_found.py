"""Write README.md's "What we found" section from a full demo's summary.json, so it cannot drift from the demo.

    python scripts/what_we_found.py demo-out/summary.json

copies the summary to docs/demo-summary.json (the record the section is made from; a test renders it again and
compares with README.md) and rewrites the text between the section's two marker comments in README.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from zspace.core import io  # noqa: E402
from zspace.demo import findings_markdown  # noqa: E402

START, END = "<!-- what-we-found: start (scripts/what_we_found.py) -->", "<!-- what-we-found: end -->"
RECORD = ROOT / "docs" / "demo-summary.json"


def rewrite(readme: str, section: str) -> str:
    """``readme`` with the text between the markers replaced by ``section``."""
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{section}\n{END}{tail}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("summary", type=Path, help="summary.json of a full demo")
    args = parser.parse_args()
    summary = json.loads(args.summary.read_text())
    if args.summary.resolve() != RECORD.resolve():
        shutil.copyfile(args.summary, RECORD)
    readme = ROOT / "README.md"
    io.write_text(readme, rewrite(readme.read_text(), findings_markdown(summary)))
    print(f"README.md: What we found, from {args.summary}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
