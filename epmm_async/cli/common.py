"""What every part of the CLI shares: consoles, exit codes, the CLI error, terminal checks."""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO

from rich.console import Console

from ..core.redact import redact_urls
from ..errors import (
    AuthenticationError,
    ConnectError,
    EpmmError,
    ForbiddenError,
    JournalError,
    TransportError,
    ValidationError,
)

__all__ = [
    "EXIT_CONNECTION",
    "EXIT_OK",
    "EXIT_SOME_FAILED",
    "EXIT_USAGE",
    "CliError",
    "err",
    "exit_code_for",
    "out",
    "stdin_is_terminal",
]

EXIT_OK = 0
"""Every device succeeded (or the read worked)."""
EXIT_SOME_FAILED = 1
"""Some devices did not succeed, or the server refused a request."""
EXIT_USAGE = 2
"""Bad input: unknown option or status, malformed uuid, missing password..."""
EXIT_CONNECTION = 3
"""Connection, TLS or authentication failure (or a job aborted for one)."""

# Rich resolves sys.stdout/sys.stderr on every write, so these follow redirections
# (test runners, rich's own progress redirection).


class _Console(Console):
    """Word-wraps on a terminal; never wraps in a pipe (a message stays one line)."""

    def print(self, *objects: Any, **kwargs: Any) -> None:
        kwargs.setdefault("soft_wrap", not self.is_terminal)
        super().print(*objects, **kwargs)


def _pipe_width(stream: TextIO) -> int | None:
    # Rich squeezes tables to 80 columns in a pipe; a log file or CI console is wider.
    if stream.isatty() or os.environ.get("COLUMNS"):
        return None
    return 120


out = _Console(width=_pipe_width(sys.stdout))
"""Results: tables, JSON, summaries."""
err = _Console(stderr=True, width=_pipe_width(sys.stderr))
"""Messages for the person at the terminal: warnings, progress, errors."""


class CliError(Exception):
    """A failure the CLI reports as one line and an exit code (no traceback)."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        """Keep the message and the exit code."""
        super().__init__(message)
        self.message = message
        self.code = code


def stdin_is_terminal() -> bool:
    """Whether someone can answer a prompt (stdin and stderr are terminals)."""
    try:
        return sys.stdin.isatty() and sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def exit_code_for(error: BaseException) -> int:
    """The exit code of an error that ended a command."""
    if isinstance(error, CliError):
        return error.code
    if isinstance(error, ValidationError | JournalError):
        return EXIT_USAGE
    if isinstance(error, AuthenticationError | ForbiddenError | ConnectError | TransportError):
        return EXIT_CONNECTION
    if isinstance(error, EpmmError):
        return EXIT_SOME_FAILED
    return EXIT_SOME_FAILED


def describe_error(error: BaseException) -> str:
    """One line saying what went wrong, with a hint for the usual causes."""
    text = str(error).strip() or type(error).__name__
    text = " ".join(text.split())
    if isinstance(error, AuthenticationError):
        return f"authentication failed ({text}); check --username and the password"
    if isinstance(error, ForbiddenError):
        return f"access denied ({text}); the account needs the API role"
    if isinstance(error, ConnectError):
        return f"cannot connect: {text}"
    if isinstance(error, TransportError):
        return f"connection failure: {text}"
    return redact_urls(text)
