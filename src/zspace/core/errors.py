"""User-facing errors.

A :class:`ZspaceError` is raised for anything the user can fix (a missing file,
a bad option, an incompatible checkpoint). Its message is one line that names
the thing and the fix; the CLI prints it without a traceback and exits 2.
"""


class ZspaceError(Exception):
    """An error caused by user input; the message says what and how to fix it."""


def require(condition: bool, message: str) -> None:
    """Raise :class:`ZspaceError` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise ZspaceError(message)
