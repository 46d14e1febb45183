"""The ``epmm`` typer applications and the global options (the commands live in their own
modules and register themselves here).

Global options may come before the command or after it (``epmm labels --url URL``): the
top-level group moves those found after the command to before it, in the order given, before
parsing (:func:`hoist_global_options`), so ``epmm`` and typer's test runner read the same
command line. An option the command itself defines is the command's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from typer import _click as click
from typer._click.exceptions import BadOptionUsage
from typer.core import TyperGroup, TyperOption

from .. import __version__
from .common import EXIT_USAGE, CliError, err
from .connection import ConnectionSettings, configure_logging
from .profiles import PROFILE_ENV, Profile, load_config, resolve_password

__all__ = ["EpmmGroup", "app", "devices_app", "hoist_global_options", "label_app",
           "settings_of"]

HELP_OPTIONS = ["-h", "--help"]


def _option_table(params: Iterable[click.Parameter]) -> dict[str, bool]:
    """Every spelling of the options in ``params`` -> whether it takes a value."""
    table: dict[str, bool] = {}
    for param in params:
        if isinstance(param, TyperOption):
            takes_value = not (param.is_flag or param.count)
            for name in (*param.opts, *param.secondary_opts):
                table[name] = takes_value
    return table


def _global_spelling(token: str, table: dict[str, bool]) -> tuple[bool, bool] | None:
    """If ``token`` is a global option: (takes a value, the value is in the token)."""
    if token.startswith("--"):
        name, eq, _ = token.partition("=")
        return (table[name], bool(eq)) if name in table else None
    if token.startswith("-") and len(token) > 1:
        name = token[:2]
        if name not in table:
            return None
        if table[name]:
            return True, len(token) > 2  # -xVALUE
        # -vv, -vq: every letter a global flag
        if all(table.get(f"-{c}") is False for c in token[1:]):
            return False, False
    return None


def _local_spelling(token: str, table: dict[str, bool]) -> tuple[bool, bool] | None:
    """If ``token`` is an option of the command: (takes a value, the value is in it)."""
    if token.startswith("--"):
        name, eq, _ = token.partition("=")
        return (table[name], bool(eq)) if name in table else None
    if token.startswith("-") and len(token) > 1 and token[:2] in table:
        return table[token[:2]], len(token) > 2
    return None


def hoist_global_options(
    group: click.Command, ctx: click.Context, args: Sequence[str]
) -> list[str]:
    """``args`` with the global options that follow the command moved before it.

    Option values move with their option; ``--`` ends the scan (what follows is arguments);
    an option the command defines stays with the command, and so do the help options; a
    command that passes its arguments through (``epmm simulator``) is left alone.
    """
    args = list(args)
    helps = set(ctx.help_option_names)
    glob = {k: v for k, v in _option_table(group.get_params(ctx)).items() if k not in helps}
    # The leading global options, up to the command name.
    i = 0
    while i < len(args) and args[i] != "--" and args[i].startswith("-") and len(args[i]) > 1:
        spelled = _global_spelling(args[i], glob)
        i += 2 if spelled is not None and spelled[0] and not spelled[1] else 1
    if i >= len(args) or args[i] == "--" or not isinstance(group, TyperGroup):
        return args
    command: click.Command | None = group.get_command(ctx, args[i])
    moved: list[str] = []
    kept: list[str] = [args[i]]
    j = i + 1
    while j < len(args):
        token = args[j]
        if command is None or command.context_settings.get("ignore_unknown_options"):
            kept.extend(args[j:])
            break
        if token == "--":  # noqa: S105 (the end of options, not a password)
            kept.extend(args[j:])
            break
        local = _option_table(command.get_params(ctx))
        mine = _local_spelling(token, local)
        if mine is not None:
            takes, inline = mine
            step = 2 if takes and not inline else 1
            kept.extend(args[j:j + step])
            j += step
            continue
        spelled = _global_spelling(token, glob)
        if spelled is not None:
            takes, inline = spelled
            if takes and not inline:
                if j + 1 >= len(args):
                    raise BadOptionUsage(
                        token, f"Option '{token}' requires an argument.", ctx)
                moved.extend(args[j:j + 2])
                j += 2
            else:
                moved.append(token)
                j += 1
            continue
        if not token.startswith("-") and isinstance(command, TyperGroup):
            command = command.get_command(ctx, token)  # a subcommand (devices list)
        kept.append(token)
        j += 1
    return args[:i] + moved + kept


class EpmmGroup(TyperGroup):
    """The top-level group: global options are accepted after the command as well."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Move global options found after the command before it, then parse."""
        if not ctx.resilient_parsing:  # shell completion parses as typed
            args = hoist_global_options(self, ctx, args)
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=EpmmGroup,
    name="epmm",
    help="Ivanti EPMM V1 Device Management from the command line. Global options may go "
    "before or after the command (epmm --url URL devices list, epmm devices list -q).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
    rich_markup_mode=None,
    context_settings={"help_option_names": HELP_OPTIONS},
)
devices_app = typer.Typer(help="Read devices: list, show, export; search, count, fields (API v2).",
                          no_args_is_help=True,
                          context_settings={"help_option_names": HELP_OPTIONS})
app.add_typer(devices_app, name="devices")
label_app = typer.Typer(help="Static labels through API v2: add and remove devices, create, "
                        "delete, list, show.", no_args_is_help=True,
                        context_settings={"help_option_names": HELP_OPTIONS})
app.add_typer(label_app, name="label")


def settings_of(ctx: typer.Context) -> ConnectionSettings:
    """The global options of the command line ``ctx`` belongs to."""
    found: Any = ctx.find_object(ConnectionSettings)
    return found if isinstance(found, ConnectionSettings) else ConnectionSettings()


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"epmm {__version__}")
        raise typer.Exit()


def _wire_format(wire: str | None, legacy: str | None) -> str:
    if legacy is not None:
        err.print("[yellow]warning:[/] --format is deprecated and will be removed: it is the "
                  "server's wire format, now --wire (the output format is -o/--output)",
                  highlight=False)
        if wire is not None and wire.strip().lower() != legacy.strip().lower():
            raise CliError("--wire and --format disagree; give --wire only", EXIT_USAGE)
    fmt = (wire if wire is not None else legacy if legacy is not None else "json")
    fmt = fmt.strip().lower()
    if fmt not in ("json", "xml"):
        hint = "--wire" if wire is not None or legacy is None else "--format"
        raise typer.BadParameter("expected json or xml", param_hint=hint)
    return fmt


_NO_PROFILE_COMMANDS = frozenset({"config", "simulator", "demo", "jobs"})
"""Commands that do not read a profile (``config`` reads the file itself; ``jobs`` reads
journals only)."""


def _given(ctx: click.Context, name: str) -> bool:
    """Whether option ``name`` came from the command line or its environment variable."""
    source = ctx.get_parameter_source(name)
    return source in (click.core.ParameterSource.COMMANDLINE,
                      click.core.ParameterSource.ENVIRONMENT)


def _from_env(ctx: click.Context, name: str) -> bool:
    return ctx.get_parameter_source(name) is click.core.ParameterSource.ENVIRONMENT


def _active_profile(ctx: click.Context, name: str | None) -> Profile | None:
    """The profile ``--profile``/``EPMM_PROFILE`` names, else the file's default, else None."""
    if ctx.resilient_parsing or ctx.invoked_subcommand in _NO_PROFILE_COMMANDS:
        return None
    config = load_config()
    if config is None:
        if name is not None:
            from .profiles import config_path

            raise CliError(f"--profile {name}: there is no config file at {config_path()} "
                           f"(create one with: epmm config add {name} ...)", EXIT_USAGE)
        return None
    chosen = name if name is not None else config.default_profile
    return config.get(chosen) if chosen is not None else None


@app.callback()
def _global(
    ctx: typer.Context,
    profile_name: Annotated[str | None, typer.Option(
        "--profile", envvar=PROFILE_ENV, help="Server profile from the config file (epmm "
        "config list); env EPMM_PROFILE; else the file's default_profile.")] = None,
    url: Annotated[str | None, typer.Option(envvar="EPMM_URL", help="Server base URL: the "
                   "server root (https://epmm.example.com); env EPMM_URL.")] = None,
    username: Annotated[str | None, typer.Option(envvar="EPMM_USERNAME",
                        help="API account; env EPMM_USERNAME.")] = None,
    password_file: Annotated[Path | None, typer.Option(
        help="Read the password from this file's first line (else EPMM_PASSWORD, else a "
        "prompt on a terminal).")] = None,
    wire: Annotated[str | None, typer.Option(
        "--wire", metavar="json|xml", help="Format the server answers in: json (default) or "
        "xml.")] = None,
    legacy_format: Annotated[str | None, typer.Option(
        "--format", hidden=True, help="Deprecated spelling of --wire.")] = None,
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
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only results and "
                     "errors (no progress, spinner, summary or notes).")] = False,
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True,
                       help="More logs: -v info, -vv debug.")] = 0,
    log_json: Annotated[bool, typer.Option(help="Logs as JSON lines on stderr.")] = False,
    version: Annotated[bool, typer.Option(
        "--version", callback=_show_version, is_eager=True, expose_value=True,
        help="Print the version and exit.")] = False,
) -> None:
    configure_logging(verbose, json_logs=log_json)
    try:
        fmt = _wire_format(wire, legacy_format)
    except CliError as exc:
        raise typer.BadParameter(exc.message, param_hint="--wire") from None
    try:
        profile = _active_profile(ctx, profile_name)
    except CliError as exc:
        err.print(f"[bold red]error:[/] {escape(exc.message)}", highlight=False)
        raise typer.Exit(exc.code) from None
    settings = ConnectionSettings(
        url=url, username=username, password_file=password_file,
        response_format="xml" if fmt == "xml" else "json", ca_bundle=ca_bundle,
        insecure=insecure, timeout=timeout or None, connect_timeout=connect_timeout or None,
        read_timeout=read_timeout or None, concurrency=concurrency, rate=rate, quiet=quiet,
    )
    if profile is not None:
        _apply_profile(ctx, settings, profile,
                       wire_given=wire is not None or legacy_format is not None)
    ctx.obj = settings


def _apply_profile(ctx: click.Context, settings: ConnectionSettings, profile: Profile, *,
                   wire_given: bool) -> None:
    """Fill what neither the command line nor the environment gave from ``profile``.

    Precedence, strongest first: command line, environment variable, profile, default.
    """
    settings.profile = profile.name
    for key in ("url", "username"):
        mine = getattr(profile, key)
        given = getattr(settings, key)
        if mine is None:
            continue
        if not _given(ctx, key) or given is None:
            setattr(settings, key, mine)
        elif _from_env(ctx, key) and given != mine:
            env = f"EPMM_{key.upper()}"
            err.print(f"[yellow]warning:[/] {env} ({escape(given)}) overrides profile "
                      f"{escape(profile.name)}'s {key} ({escape(mine)})", highlight=False)
    if not _given(ctx, "ca_bundle") and profile.ca_bundle is not None:
        settings.ca_bundle = profile.ca_bundle
    if not _given(ctx, "insecure") and profile.insecure is not None:
        settings.insecure = profile.insecure
    if not wire_given and profile.wire is not None:
        settings.response_format = "xml" if profile.wire == "xml" else "json"
    if not _given(ctx, "concurrency") and profile.concurrency is not None:
        settings.concurrency = profile.concurrency
    if not _given(ctx, "rate") and profile.rate is not None:
        settings.rate = profile.rate
    settings.profile_password = lambda: resolve_password(profile)
