"""Running a command: validate, build the client, run the job in an event loop, exit."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from typing import NoReturn

import typer
from rich.markup import escape

from ..client import EpmmClient
from ..errors import EpmmError
from .common import (
    EXIT_PIPE_CLOSED,
    EXIT_SOME_FAILED,
    EXIT_USAGE,
    CliError,
    describe_error,
    describe_os_error,
    err,
    exit_code_for,
)
from .connection import ConnectionSettings

__all__ = ["guarded", "run_with_client", "usage_error"]


def _print_error(message: str) -> None:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)


def usage_error(message: str) -> NoReturn:
    """Refuse the command line before anything runs: the message on stderr, exit 2."""
    _print_error(message)
    raise typer.Exit(EXIT_USAGE)


def guarded(body: Callable[[], int]) -> NoReturn:
    """Run a command body; turn every error into one line on stderr and an exit code."""
    try:
        code = body()
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]")
        raise typer.Exit(130) from None
    except asyncio.CancelledError:
        err.print("[yellow]interrupted[/]")
        raise typer.Exit(130) from None
    except (CliError, EpmmError) as exc:
        _print_error(exc.message if isinstance(exc, CliError) else describe_error(exc))
        raise typer.Exit(exit_code_for(exc)) from None
    except BrokenPipeError:
        # The reader went away (`epmm devices list | head`): stop quietly, as Unix tools do,
        # and keep the interpreter's final flush from complaining.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(EXIT_PIPE_CLOSED) from None
    except OSError as exc:
        _print_error(describe_os_error(exc))
        raise typer.Exit(EXIT_SOME_FAILED) from None
    except Exception as exc:
        if os.environ.get("EPMM_DEBUG"):
            raise
        err.print(f"[bold red]internal error:[/] {type(exc).__name__}: {escape(str(exc))} "
                  "(set EPMM_DEBUG=1 for a traceback)", highlight=False)
        raise typer.Exit(EXIT_SOME_FAILED) from None
    raise typer.Exit(code)


def run_with_client(
    ctx: typer.Context,
    job: Callable[[EpmmClient], Awaitable[int]],
    *,
    prepare: Callable[[], object] | None = None,
) -> NoReturn:
    """Validate input (``prepare``), build the client, run ``job`` in an event loop, exit."""
    settings: ConnectionSettings = ctx.obj

    def body() -> int:
        if prepare is not None:
            prepare()
        client = settings.client()

        async def main() -> int:
            async with client as epmm:
                return await job(epmm)

        return asyncio.run(main())

    guarded(body)
