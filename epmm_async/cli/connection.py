"""Global options -> an :class:`EpmmClient`: URL, account, password sources, TLS, timeouts."""

from __future__ import annotations

import contextvars
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TextIO

import structlog
import typer

from ..client import EpmmClient
from ..config import ClientConfig, Timeouts
from ..retry import RetryPolicy
from .common import EXIT_USAGE, CliError, err, stdin_is_terminal

__all__ = ["ConnectionSettings", "configure_logging", "profile_note", "read_password"]

PASSWORD_ENV = "EPMM_PASSWORD"  # noqa: S105 (a variable name, not a password)

_ACTIVE_PROFILE: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "epmm_active_profile", default=None)


def profile_note() -> str:
    """`` (profile prod)`` when the client in use was built from a profile, else ``""``.

    Confirmation prompts and job summaries add it after the server's URL.
    """
    name = _ACTIVE_PROFILE.get()
    return f" (profile {name})" if name else ""


@dataclass(slots=True)
class ConnectionSettings:
    """Everything the global options say about reaching the server and pacing a job."""

    url: str | None = None
    username: str | None = None
    password_file: Path | None = None
    response_format: Literal["json", "xml"] = "json"
    ca_bundle: Path | None = None
    insecure: bool = False
    timeout: float | None = 300.0
    connect_timeout: float | None = 10.0
    read_timeout: float | None = 60.0
    concurrency: int | None = None
    rate: float | None = None
    password: str | None = None
    """Set directly (the demo); otherwise read by :func:`read_password`."""
    retry: RetryPolicy | None = None
    quiet: bool = False
    """``-q``: print only results and errors."""
    profile: str | None = None
    """The config-file profile the settings came from (named in prompts and summaries)."""
    profile_password: Callable[[], str] | None = None
    """The profile's password source, after ``--password-file`` and ``EPMM_PASSWORD``."""

    def client(self) -> EpmmClient:
        """A configured (not yet opened) client; asks for the password if needed."""
        _ACTIVE_PROFILE.set(self.profile)
        if not self.url:
            raise CliError("no server URL: pass --url, set EPMM_URL or use a profile "
                           "(--profile NAME; epmm config add)", EXIT_USAGE)
        if not self.username:
            raise CliError("no username: pass --username, set EPMM_USERNAME or use a "
                           "profile (--profile NAME)", EXIT_USAGE)
        password = self.password or read_password(self.password_file, self.profile_password)
        verify: bool | str = True
        if self.ca_bundle is not None:
            if not self.ca_bundle.is_file():
                raise CliError(f"CA bundle {self.ca_bundle} does not exist", EXIT_USAGE)
            verify = str(self.ca_bundle)
        if self.insecure:
            err.print(
                "[bold red]WARNING: --insecure: TLS certificates are NOT verified and plain "
                "http:// is allowed. Anyone on the path can read the password and the "
                "answers. Use --ca-bundle instead.[/]"
            )
            verify = False
        if self.concurrency is not None and self.concurrency < 1:
            raise CliError("--concurrency must be at least 1", EXIT_USAGE)
        if self.rate is not None and self.rate <= 0:
            raise CliError("--rate must be positive", EXIT_USAGE)
        return EpmmClient(self.url, username=self.username, password=password,
                          config=self.config(verify))

    def config(self, verify: bool | str = True) -> ClientConfig:
        """The client options these settings say (the same object a library user builds)."""
        return ClientConfig(
            response_format=self.response_format,
            timeouts=Timeouts(
                connect=self.connect_timeout, read=self.read_timeout, total=self.timeout
            ),
            verify=verify,
            allow_insecure_http=self.insecure,
            rate_limit=self.rate,
            retry=self.retry or RetryPolicy(),
            connection_limit=max(100, self.concurrency or 0),
            user_agent="epmm-cli",
        )


def read_password(password_file: Path | None,
                  profile_source: Callable[[], str] | None = None) -> str:
    """The password from ``--password-file``, else ``EPMM_PASSWORD``, else the profile's
    source (``profile_source``), else a terminal prompt.

    Never from a command-line flag: flags show in process listings and shell history.
    """
    if password_file is not None:
        try:
            text = password_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise CliError(
                f"cannot read --password-file {password_file}: {exc.strerror}", EXIT_USAGE
            ) from None
        password = text.splitlines()[0] if text.strip() else ""
        if not password:
            raise CliError(f"--password-file {password_file} is empty", EXIT_USAGE)
        return password
    env = os.environ.get(PASSWORD_ENV)
    if env:
        return env
    if profile_source is not None:
        return profile_source()
    if stdin_is_terminal():
        value: str = typer.prompt("EPMM password", hide_input=True, err=True)
        if value:
            return value
    raise CliError(
        f"no password: set {PASSWORD_ENV}, pass --password-file FILE, "
        "or run on a terminal to be prompted",
        EXIT_USAGE,
    )


class _Stderr:
    """Writes to whatever ``sys.stderr`` is now (rich's progress display redirects it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(verbosity: int = 0, *, json_logs: bool = False) -> None:
    """Route structlog to stderr: readable on a terminal, JSON lines with ``--log-json``.

    ERROR by default: the command says itself what went wrong (an abort, a failed device),
    and a library warning repeating it would be said twice; WARNING and INFO with ``-v``,
    DEBUG with ``-vv``.
    """
    level = logging.ERROR if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    stream: TextIO = _Stderr()  # type: ignore[assignment]
    renderer: Any
    if json_logs:
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
