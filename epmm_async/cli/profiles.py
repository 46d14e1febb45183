"""Named server profiles: the TOML config file, its validation, and the password sources.

The file is ``$EPMM_CONFIG``, else ``$XDG_CONFIG_HOME/epmm/config.toml``, else
``~/.config/epmm/config.toml``::

    default_profile = "prod"

    [profiles.prod]
    url = "https://epmm.example.com"
    username = "api-admin"
    password_keyring = true

A profile holds ``url``, ``username``, ``ca_bundle``, ``insecure``, ``wire``, ``concurrency``,
``rate`` and exactly one password source (``password_env``, ``password_file``,
``password_command``, ``password_keyring``); never the password itself. Reading the file
validates all of it: a mistake is a :class:`CliError` (exit 2) naming the file, the profile
and the key.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import re
import shlex
import subprocess
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .common import EXIT_USAGE, CliError

__all__ = [
    "CONFIG_ENV",
    "KEYRING_SERVICE",
    "PASSWORD_KEYS",
    "PROFILE_ENV",
    "Config",
    "Profile",
    "add_profile",
    "config_path",
    "keyring_module",
    "load_config",
    "resolve_password",
    "set_default_profile",
]

CONFIG_ENV = "EPMM_CONFIG"
PROFILE_ENV = "EPMM_PROFILE"
KEYRING_SERVICE = "epmm-async"
"""The keyring service name; the entry is the profile's name."""
COMMAND_TIMEOUT = 30.0
"""Seconds a ``password_command`` may take."""

PASSWORD_KEYS = ("password_env", "password_file", "password_command", "password_keyring")
_TYPES: dict[str, tuple[type, ...]] = {
    "url": (str,),
    "username": (str,),
    "ca_bundle": (str,),
    "insecure": (bool,),
    "wire": (str,),
    "concurrency": (int,),
    "rate": (int, float),
    "password_env": (str,),
    "password_file": (str,),
    "password_command": (str,),
    "password_keyring": (bool,),
}
_TYPE_WORDS = {str: "a string", bool: "true or false", int: "an integer",
               float: "a number"}
_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True, slots=True)
class Profile:
    """One ``[profiles.NAME]`` table, validated."""

    name: str
    path: Path
    """The config file it came from (relative paths in it are relative to its folder)."""
    source_kind: str
    """``env``, ``file``, ``command`` or ``keyring``."""
    password_ref: str
    """The variable name, the file, the command; the profile name for the keyring."""
    url: str | None = None
    username: str | None = None
    ca_bundle: Path | None = None
    insecure: bool | None = None
    wire: str | None = None
    concurrency: int | None = None
    rate: float | None = None

    def password_source(self) -> str:
        """The password's source in words, never the password: ``keyring (epmm-async/prod)``."""
        if self.source_kind == "command":
            words = shlex.split(self.password_ref)
            return f"command ({words[0] if words else ''} ...)"
        if self.source_kind == "keyring":
            return f"keyring (service {KEYRING_SERVICE}, entry {self.name})"
        if self.source_kind == "env":
            return f"environment variable {self.password_ref}"
        return f"file {self.password_ref}"


@dataclass(frozen=True, slots=True)
class Config:
    """The config file, read and validated."""

    path: Path
    default_profile: str | None
    profiles: dict[str, Profile]

    def get(self, name: str) -> Profile:
        """The profile ``name``, or a usage error listing the known ones."""
        try:
            return self.profiles[name]
        except KeyError:
            known = ", ".join(sorted(self.profiles)) or "none"
            raise CliError(f"{self.path}: no profile {name!r} (profiles: {known}); add one "
                           f"with: epmm config add {name} --url URL --username NAME ...",
                           EXIT_USAGE) from None


def config_path() -> Path:
    """``$EPMM_CONFIG``, else ``$XDG_CONFIG_HOME/epmm/config.toml``, else ``~/.config/...``."""
    explicit = os.environ.get(CONFIG_ENV)
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CONFIG_HOME")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".config"
    return base / "epmm" / "config.toml"


def _problem(path: Path, profile: str | None, key: str | None, what: str) -> CliError:
    where = str(path)
    if profile is not None:
        where += f": profile {profile!r}"
    if key is not None:
        where += f": key {key!r}"
    return CliError(f"{where}: {what}", EXIT_USAGE)


def _check_type(path: Path, name: str, key: str, value: Any) -> None:
    allowed = _TYPES[key]
    ok = isinstance(value, allowed) and not (bool not in allowed and isinstance(value, bool))
    if not ok:
        words = " or ".join(_TYPE_WORDS[t] for t in allowed)
        raise _problem(path, name, key, f"expected {words}, got {type(value).__name__} "
                       f"{value!r}" if key not in PASSWORD_KEYS else
                       f"expected {words}, got {type(value).__name__}")


def _profile(path: Path, name: str, table: Any) -> Profile:
    if not isinstance(table, dict):
        raise _problem(path, name, None, "expected a table [profiles." + name + "]")
    if "password" in table:
        raise _problem(path, name, "password", "a password is never kept in the config file "
                       "(anyone who can read the file, or a backup of it, would have it); "
                       "use password_env, password_file, password_command or "
                       "password_keyring = true (epmm config set-password " + name + ")")
    for key, value in table.items():
        if key not in _TYPES:
            known = ", ".join(_TYPES)
            raise _problem(path, name, key, f"unknown key (known: {known})")
        _check_type(path, name, key, value)
    sources = [k for k in PASSWORD_KEYS if k in table]
    if not sources:
        raise _problem(path, name, None, "no password source: give exactly one of "
                       + ", ".join(PASSWORD_KEYS))
    if len(sources) > 1:
        raise _problem(path, name, sources[1], "more than one password source ("
                       + ", ".join(sources) + "): give exactly one")
    kind = sources[0]
    ref: Any = table[kind]
    if kind == "password_keyring":
        if ref is not True:
            raise _problem(path, name, kind, "password_keyring can only be true (leave it out "
                           "to use another source)")
        ref = name
    elif not str(ref).strip():
        raise _problem(path, name, kind, "is empty")
    if kind == "password_command":
        try:
            words = shlex.split(str(ref))
        except ValueError as exc:  # an unbalanced quote: never show the command itself
            raise _problem(path, name, kind, f"cannot be split into words ({exc})") from None
        if not words:
            raise _problem(path, name, kind, "is empty")
    wire = table.get("wire")
    if wire is not None and wire.strip().lower() not in ("json", "xml"):
        raise _problem(path, name, "wire", f"expected json or xml, got {wire!r}")
    concurrency = table.get("concurrency")
    if concurrency is not None and concurrency < 1:
        raise _problem(path, name, "concurrency", "must be at least 1")
    rate = table.get("rate")
    if rate is not None and not (math.isfinite(rate) and rate > 0):
        raise _problem(path, name, "rate", "must be a positive number")
    url = table.get("url")
    if url is not None and not url.strip():
        raise _problem(path, name, "url", "is empty")
    if url is not None and "@" in url.split("//", 1)[-1].split("/", 1)[0]:
        # Never repeat the URL: its user info may hold a password.
        raise _problem(path, name, "url", "holds an account (user@ or user:password@); put "
                       "the account in 'username' and the password in a password source")
    ca = table.get("ca_bundle")
    return Profile(
        name=name, path=path, source_kind=kind.removeprefix("password_"),
        password_ref=str(ref), url=url, username=table.get("username"),
        ca_bundle=_relative(path, ca) if ca is not None else None,
        insecure=table.get("insecure"),
        wire=wire.strip().lower() if wire is not None else None,
        concurrency=concurrency, rate=float(rate) if rate is not None else None,
    )


def _relative(path: Path, value: str) -> Path:
    """A path from the file: ``~`` expanded, relative to the file's folder."""
    p = Path(value).expanduser()
    return p if p.is_absolute() else path.parent / p


def parse_config(path: Path, text: str) -> Config:
    """Validate the text of a config file (``path`` names it in errors)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _problem(path, None, None, f"not valid TOML: {exc}") from None
    for key in data:
        if key not in ("default_profile", "profiles"):
            raise _problem(path, None, key, "unknown key (known: default_profile, "
                           "[profiles.NAME] tables)")
    default = data.get("default_profile")
    if default is not None and not isinstance(default, str):
        raise _problem(path, None, "default_profile", "expected a string (a profile name)")
    tables = data.get("profiles", {})
    if not isinstance(tables, dict):
        raise _problem(path, None, "profiles", "expected [profiles.NAME] tables")
    profiles = {name: _profile(path, name, table) for name, table in tables.items()}
    if default is not None and default not in profiles:
        known = ", ".join(sorted(profiles)) or "none"
        raise _problem(path, None, "default_profile",
                       f"names no profile: {default!r} (profiles: {known})")
    return Config(path, default, profiles)


def load_config(path: Path | None = None) -> Config | None:
    """The config file, validated; None when there is none."""
    path = path or config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise _problem(path, None, None, f"cannot read the config file: {why}") from None
    return parse_config(path, text)


# -- passwords ------------------------------------------------------------------------------


def keyring_module(where: str = "") -> Any:
    """The ``keyring`` package, imported only when a profile uses it."""
    try:
        return importlib.import_module("keyring")
    except ImportError:
        raise CliError(f"{where}password_keyring needs the keyring package: "
                       "pip install 'epmm-async[keyring]'", EXIT_USAGE) from None


def resolve_password(profile: Profile) -> str:
    """The password from the profile's source (never echoed in an error)."""
    where = f"{profile.path}: profile {profile.name!r}"
    kind, ref = profile.source_kind, profile.password_ref
    if kind == "env":
        value = os.environ.get(ref)
        if not value:
            # The variable's name is not repeated: a password put there by mistake would be.
            raise CliError(f"{where}: the environment variable password_env names is not set "
                           "or empty", EXIT_USAGE)
        return value
    if kind == "file":
        file = _relative(profile.path, ref)
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise CliError(f"{where}: cannot read password_file {file}: {why}",
                           EXIT_USAGE) from None
        first = text.splitlines()[0] if text.strip() else ""
        if not first:
            raise CliError(f"{where}: password_file {file} is empty", EXIT_USAGE)
        return first
    if kind == "command":
        return _run_password_command(where, ref)
    keyring = keyring_module(f"{where}: ")
    try:
        value = keyring.get_password(KEYRING_SERVICE, profile.name)
    except Exception as exc:
        raise CliError(f"{where}: the keyring failed: {type(exc).__name__}: {exc}",
                       EXIT_USAGE) from None
    if not value:
        raise CliError(f"{where}: no password in the keyring (service {KEYRING_SERVICE}, "
                       f"entry {profile.name}); store one with: epmm config set-password "
                       f"{profile.name}", EXIT_USAGE)
    return str(value)


def _run_password_command(where: str, command: str) -> str:
    """The first stdout line of ``command``, run without a shell."""
    argv = shlex.split(command)
    shown = argv[0] if argv else command
    try:
        done = subprocess.run(  # noqa: S603 (the user's own command, no shell)
            argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT,
            stdin=subprocess.DEVNULL, check=False,
        )
    except FileNotFoundError:
        raise CliError(f"{where}: password_command: {shown}: command not found",
                       EXIT_USAGE) from None
    except subprocess.TimeoutExpired:
        raise CliError(f"{where}: password_command {shown} did not finish within "
                       f"{COMMAND_TIMEOUT:g} s", EXIT_USAGE) from None
    except OSError as exc:
        raise CliError(f"{where}: password_command {shown} cannot run: {exc.strerror}",
                       EXIT_USAGE) from None
    if done.returncode != 0:
        raise CliError(f"{where}: password_command {shown} failed with exit status "
                       f"{done.returncode} (its output is not shown, since it may hold the "
                       "password; run the command yourself to see why)", EXIT_USAGE)
    lines = done.stdout.splitlines()
    if not lines or not lines[0]:
        raise CliError(f"{where}: password_command {shown} printed no password on its "
                       "first line", EXIT_USAGE)
    return lines[0]


# -- writing --------------------------------------------------------------------------------


def toml_value(value: str | bool | int | float) -> str:
    """A simple value as TOML (strings as basic strings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def check_name(name: str) -> None:
    """A profile name ``config add`` accepts: letters, digits, ``-`` and ``_``."""
    if not _NAME.match(name):
        raise CliError(f"profile name {name!r}: use letters, digits, - and _ only",
                       EXIT_USAGE)


def _write(path: Path, text: str) -> None:
    """Validate ``text`` as a config file, then replace ``path`` with it atomically (0600)."""
    parse_config(path, text)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".config-", suffix=".toml")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""


def add_profile(path: Path, name: str, values: dict[str, str | bool | int | float]) -> None:
    """Append ``[profiles.NAME]`` to the file (the rest of it, comments included, is kept)."""
    check_name(name)
    text = _read_text(path)
    config = parse_config(path, text)
    if name in config.profiles:
        raise CliError(f"{path}: profile {name!r} exists already; edit the file to change "
                       "it", EXIT_USAGE)
    block = f"[profiles.{name}]\n" + "".join(
        f"{key} = {toml_value(value)}\n" for key, value in values.items())
    if text and not text.endswith("\n"):
        text += "\n"
    _write(path, text + ("\n" if text else "") + block)


_DEFAULT_LINE = re.compile(r"^[ \t]*default_profile[ \t]*=.*$", re.MULTILINE)
_TABLE_LINE = re.compile(r"^[ \t]*\[", re.MULTILINE)


def set_default_profile(path: Path, name: str) -> None:
    """Set ``default_profile`` (its line is replaced; the rest of the file is kept)."""
    text = _read_text(path)
    parse_config(path, text).get(name)
    line = f"default_profile = {toml_value(name)}"
    first_table = _TABLE_LINE.search(text)
    head_end = first_table.start() if first_table else len(text)
    found = _DEFAULT_LINE.search(text, 0, head_end)
    if found:
        text = text[:found.start()] + line + text[found.end():]
    else:
        text = line + "\n\n" + text if text else line + "\n"
    _write(path, text)
