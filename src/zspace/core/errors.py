"""User-facing errors.

A :class:`ZspaceError` is raised for anything the user can fix (a missing file,
a bad option, an incompatible checkpoint). Its message is one line that names
the thing and the fix; the CLI prints it without a traceback and exits 2.
:class:`Preempted` is not an error: training was asked to stop and can go on.
"""


class ZspaceError(Exception):
    """An error caused by user input; the message says what and how to fix it."""


def require(condition: bool, message: str) -> None:
    """Raise :class:`ZspaceError` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise ZspaceError(message)


class Preempted(Exception):
    """Training stopped on SIGTERM or SIGUSR1 (SLURM's warning before a time limit or a preemption) after
    writing a checkpoint; running the same command again continues from it.

    The command line exits with :attr:`EXIT_STATUS`, 75 (``EX_TEMPFAIL`` of
    sysexits.h, "try again later"), so a job script can tell a preempted run
    (requeue it) from a failed one (exit 1 or 2) and a finished one (0).
    """

    EXIT_STATUS = 75
