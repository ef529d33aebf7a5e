"""Helpers of the reliability tests: the case counter and the checks of the error contract.

Importable as ``fuzzkit`` (conftest.py puts this directory on ``sys.path``).
"""

from __future__ import annotations

import contextlib
import io
import resource
import tracemalloc

from hypothesis import event
from hypothesis.control import currently_in_test_context

from zspace.core.errors import ZspaceError


class CaseCounter:
    """How many generated cases the tests of this directory ran (``tick()`` once per case)."""

    def __init__(self) -> None:
        self.total = 0

    def tick(self) -> None:
        self.total += 1


#: the one counter, printed by conftest.py's terminal summary
CASES = CaseCounter()


def assert_user_error(exc: BaseException, *fragments: str) -> str:
    """``exc`` is a one-line ZspaceError containing every fragment (e.g. the file name); return its text."""
    assert isinstance(exc, ZspaceError), f"{type(exc).__name__} instead of ZspaceError: {exc}"
    text = str(exc)
    assert text and "\n" not in text, f"not one line: {text!r}"
    for fragment in fragments:
        assert fragment in text, f"{fragment!r} not in {text!r}"
    return text


#: address space a call under test may add to the process (see :func:`address_space_limit`)
HEADROOM_BYTES = 6 << 30


@contextlib.contextmanager
def address_space_limit(extra_bytes: int = HEADROOM_BYTES):
    """Cap the process's address space at its current size plus ``extra_bytes`` (Linux).

    A runaway allocation then fails with MemoryError inside the test instead
    of waking the kernel's OOM killer; the old limit is restored afterwards.
    """
    try:
        with open("/proc/self/status") as fh:
            size_kb = next(int(line.split()[1]) for line in fh if line.startswith("VmSize:"))
    except (OSError, StopIteration, ValueError):
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = size_kb * 1024 + extra_bytes
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def outcome(fn, *args, **kwargs):
    """(result, None) or (None, ZspaceError); any other exception propagates and fails the test.

    The call runs under :func:`address_space_limit`. Inside a hypothesis test
    the outcome is recorded as an event ("accepted" or "refused"), so that
    ``--hypothesis-show-statistics`` shows how the generated cases split.
    """
    try:
        with address_space_limit():
            result = fn(*args, **kwargs), None
    except ZspaceError as exc:
        result = None, exc
    if currently_in_test_context():
        event("refused" if result[1] is not None else "accepted")
    return result


def read_back(reader, name: str, data: bytes):
    """Write ``data`` to a temporary file ``name``, read it with ``reader``; the result, or None when refused.

    A refusal must be one user line naming the file (checked here).
    """
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        result, error = outcome(reader, path)
    if error is not None:
        assert_user_error(error, str(path))
    return result


@contextlib.contextmanager
def peak_memory(limit_bytes: int):
    """Fail when the Python and numpy allocations inside the block peak above ``limit_bytes``."""
    tracemalloc.start()
    try:
        yield
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak <= limit_bytes, f"allocated {peak} bytes, more than {limit_bytes}"


def run_cli(argv) -> tuple[int, str, str]:
    """``zspace.cli.main(argv)`` -> (exit code, stdout, stderr), under :func:`address_space_limit`.

    argparse's own exits become their codes.
    """
    from zspace.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), address_space_limit():
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 2
    return code, out.getvalue(), err.getvalue()


def assert_cli_user_error(code: int, err: str, *fragments: str) -> str:
    """Exit status 2 with one ``zspace: error:`` line (or argparse's usage error); return the error line."""
    assert "Traceback" not in err, err
    assert code == 2, f"exit {code}: {err}"
    lines = [line for line in err.splitlines() if line.startswith("zspace: error:") or
             (line.startswith("zspace ") and ": error: " in line)]
    assert len(lines) == 1, err
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"
    return lines[0]
