"""``epmm config``: list, show, add and choose server profiles; keep a password in the keyring.

The file and its rules are in :mod:`.profiles`. No command here ever prints a password.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from .apps import app
from .common import EXIT_USAGE, CliError, err, out
from .profiles import (
    KEYRING_SERVICE,
    PROFILE_ENV,
    Config,
    Profile,
    add_profile,
    config_path,
    keyring_module,
    load_config,
    set_default_profile,
)
from .runner import guarded

__all__ = ["config_app"]

config_app = typer.Typer(
    help="Server profiles in the config file ($EPMM_CONFIG, else "
    "$XDG_CONFIG_HOME/epmm/config.toml, else ~/.config/epmm/config.toml).",
    no_args_is_help=True, context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(config_app, name="config")


def _config() -> Config:
    config = load_config()
    if config is None:
        raise CliError(f"there is no config file at {config_path()} (create one with: epmm "
                       "config add NAME --url URL --username NAME --password-env VAR)",
                       EXIT_USAGE)
    return config


def _line(text: str) -> None:
    out.print(escape(text), highlight=False)


@config_app.command("list")
def list_cmd() -> None:
    """The profiles in the config file; * marks the default."""

    def body() -> int:
        config = load_config()
        if config is None:
            err.print(f"no config file at {escape(str(config_path()))}", highlight=False)
            return 0
        err.print(f"{escape(str(config.path))}:", highlight=False)
        rows = [("", "NAME", "URL", "USERNAME", "PASSWORD")] + [
            ("*" if p.name == config.default_profile else "", p.name, p.url or "-",
             p.username or "-", p.source_kind)
            for p in config.profiles.values()
        ]
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        for row in rows:
            _line("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        return 0

    guarded(body)


def _show(profile: Profile, default: str | None) -> None:
    _line(f"profile: {profile.name}" + (" (default)" if profile.name == default else ""))
    _line(f"file: {profile.path}")
    for key in ("url", "username", "ca_bundle", "insecure", "wire", "concurrency", "rate"):
        value = getattr(profile, key)
        if value is not None:
            if isinstance(value, bool):
                value = str(value).lower()
            _line(f"{key}: {value}")
    _line(f"password: {profile.password_source()}")


@config_app.command("show")
def show_cmd(
    name: Annotated[str | None, typer.Argument(
        help="The profile (default: EPMM_PROFILE, else the file's default_profile).")] = None,
) -> None:
    """A profile's settings, and where its password comes from (never the password)."""

    def body() -> int:
        config = _config()
        chosen = name or os.environ.get(PROFILE_ENV) or config.default_profile
        if not chosen:
            raise CliError("which profile? epmm config show NAME (no default_profile in "
                           f"{config.path})", EXIT_USAGE)
        _show(config.get(chosen), config.default_profile)
        return 0

    guarded(body)


@config_app.command("add")
def add_cmd(
    name: Annotated[str, typer.Argument(help="The new profile's name (letters, digits, - _).")],
    url: Annotated[str | None, typer.Option(help="Server root URL.")] = None,
    username: Annotated[str | None, typer.Option(help="API account.")] = None,
    password_env: Annotated[str | None, typer.Option(
        help="Password source: this environment variable.")] = None,
    password_file: Annotated[Path | None, typer.Option(
        help="Password source: this file's first line.")] = None,
    password_command: Annotated[str | None, typer.Option(
        help="Password source: this command's first output line (run without a shell), "
        "e.g. 'vault kv get -field=password secret/epmm'.")] = None,
    password_keyring: Annotated[bool, typer.Option(
        "--password-keyring", help="Password source: the system keyring (then: epmm config "
        "set-password NAME).")] = False,
    ca_bundle: Annotated[Path | None, typer.Option(help="CA bundle (PEM).")] = None,
    insecure: Annotated[bool | None, typer.Option(
        "--insecure/--no-insecure", help="Skip TLS verification (dangerous).")] = None,
    wire: Annotated[str | None, typer.Option(metavar="json|xml", help="Wire format.")] = None,
    concurrency: Annotated[int | None, typer.Option(help="Requests in flight at most.")] = None,
    rate: Annotated[float | None, typer.Option(help="Requests per second at most.")] = None,
    default: Annotated[bool, typer.Option(
        "--default", help="Make it the default profile.")] = False,
) -> None:
    """Add a profile to the config file (the file's other lines and comments are kept)."""

    def body() -> int:
        values: dict[str, str | bool | int | float] = {}
        for key, value in (("url", url), ("username", username)):
            if value is not None:
                values[key] = value
        if ca_bundle is not None:
            values["ca_bundle"] = str(ca_bundle.expanduser().absolute())
        if insecure is not None:
            values["insecure"] = insecure
        if wire is not None:
            values["wire"] = wire.strip().lower()
        if concurrency is not None:
            values["concurrency"] = concurrency
        if rate is not None:
            values["rate"] = rate
        sources: dict[str, str | bool] = {}
        if password_env is not None:
            sources["password_env"] = password_env
        if password_file is not None:
            sources["password_file"] = str(password_file.expanduser().absolute())
        if password_command is not None:
            sources["password_command"] = password_command
        if password_keyring:
            sources["password_keyring"] = True
        if len(sources) != 1:
            raise CliError("give exactly one password source: --password-env VAR, "
                           "--password-file FILE, --password-command CMD or "
                           "--password-keyring (a password is never kept in the file)",
                           EXIT_USAGE)
        values.update(sources)
        path = config_path()
        add_profile(path, name, values)
        if default:
            set_default_profile(path, name)
        err.print(f"added profile {escape(name)} to {escape(str(path))}"
                  + (" (the default)" if default else ""), highlight=False)
        if password_keyring:
            err.print(f"store its password with: epmm config set-password {escape(name)}",
                      highlight=False)
        return 0

    guarded(body)


@config_app.command("use")
def use_cmd(name: Annotated[str, typer.Argument(help="The profile.")]) -> None:
    """Make a profile the default (default_profile in the file)."""

    def body() -> int:
        path = _config().path
        set_default_profile(path, name)
        err.print(f"default profile: {escape(name)} ({escape(str(path))})", highlight=False)
        return 0

    guarded(body)


@config_app.command("set-password")
def set_password_cmd(name: Annotated[str, typer.Argument(help="The profile.")]) -> None:
    """Store a profile's password in the system keyring (asked for, hidden, twice)."""

    def body() -> int:
        profile = _config().get(name)
        if profile.source_kind != "keyring":
            raise CliError(f"{profile.path}: profile {name!r} takes its password from its "
                           f"{profile.password_source()}, not the keyring; set "
                           "password_keyring = true (and remove the other source) first",
                           EXIT_USAGE)
        keyring = keyring_module()
        value: str = typer.prompt(f"Password for profile {name}", hide_input=True,
                                  confirmation_prompt=True, err=True)
        if not value:
            raise CliError("empty password: nothing stored", EXIT_USAGE)
        try:
            keyring.set_password(KEYRING_SERVICE, name, value)
        except Exception as exc:
            raise CliError(f"the keyring failed: {type(exc).__name__}: {exc}",
                           EXIT_USAGE) from None
        err.print(f"stored the password of profile {escape(name)} in the keyring (service "
                  f"{KEYRING_SERVICE}, entry {escape(name)})", highlight=False)
        return 0

    guarded(body)
