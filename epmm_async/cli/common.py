"""What every part of the CLI shares: consoles, exit codes, the CLI error, terminal checks."""

from __future__ import annotations

import errno
import os
import re
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
    NotFoundError,
    TlsError,
    TransportError,
    ValidationError,
)
from ..transport import open_files_limit

__all__ = [
    "EXIT_CONNECTION",
    "EXIT_OK",
    "EXIT_PIPE_CLOSED",
    "EXIT_SOME_FAILED",
    "EXIT_USAGE",
    "CliError",
    "cli_words",
    "describe_error",
    "describe_os_error",
    "err",
    "examples",
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
EXIT_PIPE_CLOSED = 141
"""stdout's reader closed the pipe (``| head``): 128 + SIGPIPE, as Unix tools exit."""

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


# emoji=False: no ":name:" codes are meant, and rich would import its emoji table lazily at
# the first message, which fails when the process has run out of file descriptors (EMFILE)
# just as the message saying so is printed.
out = _Console(width=_pipe_width(sys.stdout), emoji=False)
"""Results: tables, JSON, summaries."""
err = _Console(stderr=True, width=_pipe_width(sys.stderr), emoji=False)
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


# The library names its keyword arguments; the CLI's user knows the options. Longest first.
_CLI_WORDS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p), r) for p, r in [
        (r"pass allow_insecure_http=True", "pass --insecure"),
        (r"allow_insecure_http(=True)?", "--insecure"),
        (r"put credentials in username/password, not in base_url",
         "put the account in --username and the password in EPMM_PASSWORD or "
         "--password-file, not in the URL"),
        (r"\bthe base_url\b", "--url"),
        (r"\bbase_url\b", "--url"),
        (r"\busername must be a non-empty string", "--username must not be empty"),
        (r"\busername must not contain", "--username must not contain"),
        (r"\bpassword must be a non-empty string", "the password must not be empty"),
        (r"\bresponse_format\b", "--wire"),
        (r"cannot load CA bundle", "cannot load --ca-bundle"),
        (r"\(trust the CA that signed it: verify='ca\.pem'\)",
         "(pass --ca-bundle FILE: the CA that signed it, in PEM)"),
        (r"verify='ca\.pem'", "--ca-bundle FILE"),
        (r"\bconnection_limit\b", "--concurrency"),
        (r"\(a lower concurrency\)", "(a smaller --concurrency)"),
        (r"\brate limit must\b", "--rate must"),
        (r"\brate_limit\b", "--rate"),
        (r"\bsubject is valid only with mode=email", "--subject is valid only with --via email"),
        (r"\bmode=email\b", "--via email"),
        (r"interval must be positive and deadline non-negative",
         "--interval must be positive and --deadline non-negative"),
        (r"\bby_phone needs at least one phone number", "--phone needs a number"),
    ]
]


def cli_words(text: str) -> str:
    """A library message in the CLI's words: ``--insecure``, not ``allow_insecure_http=True``;
    ``--url``, not ``base_url``; option names, not keyword arguments."""
    for pattern, replacement in _CLI_WORDS:
        text = pattern.sub(replacement, text)
    return text


def examples(*lines: str) -> str:
    """The examples part of a command's ``--help`` epilog, kept as written."""
    # "\b" keeps click from re-flowing the example lines into one paragraph.
    return "Examples:\n\n\b\n" + "\n".join(f"  {line}" for line in lines)


def _fd_limit_hint(limit: int | None) -> str:
    said = f"this process may have {limit:,} open files (ulimit -n)" if limit else (
        "the process's open-file limit (ulimit -n) is reached")
    return f"{said}: use a smaller --concurrency, or raise the limit"


def describe_os_error(error: OSError) -> str:
    """An operating-system error the CLI hit itself (a file it could not open...)."""
    where = f" ({error.filename})" if error.filename else ""
    text = f"{error.strerror or error}{where}"
    if error.errno in (errno.EMFILE, errno.ENFILE):
        text = f"out of file descriptors: {text}; {_fd_limit_hint(open_files_limit())}"
    return text


def describe_error(error: BaseException) -> str:
    """One line saying what went wrong, in the CLI's words, with its root cause and a hint
    for the usual causes."""
    text = str(error).strip() or type(error).__name__
    text = cli_words(" ".join(text.split()))
    if isinstance(error, AuthenticationError):
        return f"authentication failed ({text}); check --username and the password"
    if isinstance(error, ForbiddenError):
        return f"access denied ({text}); the account needs the API role"
    if isinstance(error, TlsError):
        return f"TLS: {text}"
    if isinstance(error, ConnectError):
        if error.errno in (errno.EMFILE, errno.ENFILE):
            return text  # says it all: the limit, and a smaller --concurrency
        return f"cannot connect: {text}"
    if isinstance(error, TransportError):
        return f"connection failure: {text}"
    if isinstance(error, NotFoundError) and error.wrong_base_url:
        return f"{redact_urls(text)} (check --url / EPMM_URL)"
    return redact_urls(text)
