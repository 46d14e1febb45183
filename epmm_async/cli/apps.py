"""The ``epmm`` typer applications and the global options (the commands live in their own
modules and register themselves here)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .connection import ConnectionSettings, configure_logging

__all__ = ["app", "devices_app"]

app = typer.Typer(
    name="epmm",
    help="Ivanti EPMM V1 Device Management from the command line "
    "(global options go before the command: epmm --url URL devices list).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)
devices_app = typer.Typer(help="Read devices: list, show, export.", no_args_is_help=True)
app.add_typer(devices_app, name="devices")


@app.callback()
def _global(
    ctx: typer.Context,
    url: Annotated[str | None, typer.Option(envvar="EPMM_URL", help="Server base URL "
                   "(https://epmm.example.com); env EPMM_URL.")] = None,
    username: Annotated[str | None, typer.Option(envvar="EPMM_USERNAME",
                        help="API account; env EPMM_USERNAME.")] = None,
    password_file: Annotated[Path | None, typer.Option(
        help="Read the password from this file's first line (else EPMM_PASSWORD, else a "
        "prompt on a terminal).")] = None,
    response_format: Annotated[str, typer.Option("--format", help="Response format asked "
                               "of the server: json or xml.")] = "json",
    ca_bundle: Annotated[Path | None, typer.Option(help="CA bundle (PEM) to verify the "
                         "server's certificate.")] = None,
    insecure: Annotated[bool, typer.Option(help="Do NOT verify TLS and allow plain http:// "
                        "(dangerous).")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds for one whole attempt.")] = 300.0,
    connect_timeout: Annotated[float, typer.Option(help="Seconds to connect.")] = 10.0,
    read_timeout: Annotated[float, typer.Option(help="Seconds between reads.")] = 60.0,
    concurrency: Annotated[int | None, typer.Option(help="Requests in flight at most "
                           "(per device: 16, bulk: 4).")] = None,
    rate: Annotated[float | None, typer.Option(help="Requests per second at most.")] = None,
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True,
                       help="More logs: -v info, -vv debug.")] = 0,
    log_json: Annotated[bool, typer.Option(help="Logs as JSON lines on stderr.")] = False,
) -> None:
    configure_logging(verbose, json_logs=log_json)
    fmt = response_format.strip().lower()
    if fmt not in ("json", "xml"):
        raise typer.BadParameter("expected json or xml", param_hint="--format")
    ctx.obj = ConnectionSettings(
        url=url, username=username, password_file=password_file,
        response_format="xml" if fmt == "xml" else "json", ca_bundle=ca_bundle,
        insecure=insecure, timeout=timeout or None, connect_timeout=connect_timeout or None,
        read_timeout=read_timeout or None, concurrency=concurrency, rate=rate,
    )
