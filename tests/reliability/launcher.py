"""``zspace`` commands as real processes that start in milliseconds: forked from one process that imported zspace.

``python -m zspace train`` spends ~8 s of a 2-core machine importing torch,
torch._dynamo and scikit-learn before it trains for a fraction of a second, so
a test that starts a dozen commands (the kill soak) would pay minutes for
imports. :class:`WarmLauncher` starts one helper process that imports all of
that once (what ``python -m zspace`` imports: every command module, plus the
torch._dynamo that Adam imports on first use) and then forks one child per
command. Each child is a process of its own: it has its own pid, runs
``zspace.cli.main(argv)`` exactly as ``python -m zspace`` does, dies of SIGKILL
like any process, and writes stdout and stderr to a log file. Nothing has run
in the helper but imports, so a child starts where a fresh ``python -m
zspace`` would be after its imports (no torch thread pool, no zspace state).

Importable as ``launcher`` (conftest.py puts this directory on ``sys.path``);
run as a script it is the helper process.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path


def _serve() -> None:
    """The helper: import zspace once, then fork one command per request line on stdin; report on stdout.

    A request is ``{"argv": [...], "env": {name: value or null}, "log": path}``; the
    answers are ``started PID`` and, when that child ends, ``exited PID STATUS``
    (STATUS as subprocess reports it: the exit code, or -N for death by signal N).
    The helper and each child die with their parent (PR_SET_PDEATHSIG).
    """
    import torch._dynamo  # noqa: F401  (imported by Adam's constructor on first use)

    from zspace.cli import build_parser, main
    from zspace.data.imagefiles import _die_with_parent

    _die_with_parent(int(sys.argv[1]))
    build_parser()  # imports every command module, as main() does
    os.write(1, b"ready\n")
    for line in sys.stdin:
        request = json.loads(line)
        helper = os.getpid()
        pid = os.fork()
        if pid == 0:  # the child: a zspace command
            code = 1
            try:
                _die_with_parent(helper)
                for name, value in request["env"].items():
                    if value is None:
                        os.environ.pop(name, None)
                    else:
                        os.environ[name] = value
                log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                null = os.open(os.devnull, os.O_RDONLY)
                os.dup2(null, 0)
                os.dup2(log, 1)
                os.dup2(log, 2)
                sys.argv = ["zspace", *request["argv"]]
                code = main(request["argv"])
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            except BaseException:
                import traceback

                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        os.write(1, f"started {pid}\n".encode())
        _, status = os.waitpid(pid, 0)
        os.write(1, f"exited {pid} {os.waitstatus_to_exitcode(status)}\n".encode())


class Command:
    """One command started by :meth:`WarmLauncher.start`: like ``subprocess.Popen``, its output in a log file."""

    def __init__(self, launcher: "WarmLauncher", pid: int, log: Path) -> None:
        self.launcher, self.pid, self.log = launcher, pid, log
        self.returncode: int | None = None

    def output(self) -> str:
        """Everything the command wrote to stdout and stderr so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def poll(self) -> int | None:
        """The exit status if the command has ended (-9: killed by SIGKILL), else None."""
        if self.returncode is None:
            self.returncode = self.launcher._status(block=False)
        return self.returncode

    def wait(self) -> int:
        """Wait for the end; the exit status as subprocess reports it (-9: killed by SIGKILL)."""
        if self.returncode is None:
            self.returncode = self.launcher._status(block=True)
        return self.returncode

    def kill(self) -> None:
        """SIGKILL, unless the command has already ended."""
        if self.poll() is None:
            os.kill(self.pid, signal.SIGKILL)

    def lines_with(self, text: str) -> int:
        """How many lines of the output so far contain ``text``."""
        return sum(text in line for line in self.output().splitlines())

    def wait_for_line(self, text: str, count: int = 1) -> bool:
        """Block until ``count`` lines of the output contain ``text`` (True), or the command ends first (False).

        Polls the log file every 5 ms; a command that neither writes the lines nor ends is
        a hang, which the test's timeout (pytest-timeout) turns into a failure.
        """
        while True:
            ended = self.poll() is not None  # read before the log: a line written before the end is then seen
            if self.lines_with(text) >= count:
                return True
            if ended:
                return False
            time.sleep(0.005)


class WarmLauncher:
    """Starts ``zspace`` commands as forks of one warm helper process; one command at a time.

    Use as a context manager: leaving it kills a command still running and ends the helper.
    """

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._count = 0
        self._running: Command | None = None
        self._proc = subprocess.Popen([sys.executable, __file__, str(os.getpid())], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        first = self._proc.stdout.readline()
        if first != "ready\n":
            self._proc.kill()
            raise RuntimeError(f"the launcher did not start (exit {self._proc.wait()}): {first!r}")
        self._messages: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self._proc.stdout:
            self._messages.put(line.strip())
        self._messages.put("")  # the helper ended

    def _next(self, block: bool) -> str | None:
        try:
            message = self._messages.get(block=block)
        except queue.Empty:
            return None
        if not message:
            raise RuntimeError(f"the launcher process ended (exit {self._proc.wait()})")
        return message

    def _status(self, block: bool) -> int | None:
        message = self._next(block)
        if message is None:
            return None
        kind, pid, status = message.split()
        assert kind == "exited" and self._running is not None and int(pid) == self._running.pid, message
        self._running = None
        return int(status)

    def start(self, argv: list[str], env: dict[str, str | None] | None = None) -> Command:
        """Start ``zspace ARGV`` with these environment changes (None removes a variable)."""
        assert self._running is None, "one command at a time: wait() for the previous one"
        self._count += 1
        log = self.log_dir / f"command-{self._count:03d}.log"
        request = {"argv": [str(a) for a in argv], "env": env or {}, "log": str(log)}
        self._proc.stdin.write(json.dumps(request) + "\n")
        self._proc.stdin.flush()
        message = self._next(block=True)
        kind, pid = message.split()
        assert kind == "started", message
        self._running = Command(self, int(pid), log)
        return self._running

    def __enter__(self) -> "WarmLauncher":
        return self

    def __exit__(self, *exc) -> None:
        try:
            if self._running is not None:
                self._running.kill()
                self._running.wait()
        except RuntimeError:  # the helper is gone already (and its child with it)
            pass
        self._proc.stdin.close()
        self._proc.wait()


if __name__ == "__main__":
    _serve()
