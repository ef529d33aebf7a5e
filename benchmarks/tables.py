"""What every benchmark script does last: print its markdown table, optionally save the raw results as JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable


def emit(results: Any, markdown: Callable[[Any], str], json_path: str | Path | None) -> Any:
    """Print ``markdown(results)``; write ``results`` to ``json_path`` when given; return ``results``."""
    print(markdown(results))
    if json_path:
        Path(json_path).write_text(json.dumps(results, indent=1))
    return results
