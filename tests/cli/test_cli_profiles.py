"""Profiles: the config file, precedence, password sources, validation, ``epmm config``."""

from __future__ import annotations

import sys
import tomllib
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_support import Invoke, SimThread

from epmm_async.cli import profiles
from epmm_async.cli.common import CliError
from epmm_async.cli.connection import ConnectionSettings
from epmm_async.cli.profiles import config_path, load_config
from epmm_async.enums import DeviceStatus

DEAD_URL = "http://127.0.0.1:9"  # nothing listens on the discard port
NO_CONN = ("EPMM_URL", "EPMM_USERNAME", "EPMM_PASSWORD", "EPMM_PROFILE")


def _q(text: str) -> str:
    return profiles.toml_value(text)


def _write(path: Path, body: str) -> Path:
    path.write_text(body, encoding="utf-8")
    return path


def _profile(st: SimThread, name: str = "prod", *, url: str | None = None,
             source: str | None = None, extra: str = "") -> str:
    source = source if source is not None else "password_env = \"PROD_PW\""
    return (f"[profiles.{name}]\nurl = {_q(url or st.sim.url)}\n"
            f"username = {_q(st.sim.username)}\n{source}\n{extra}")


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    return tmp_path / "config.toml"


def _run(cli: Invoke, cfg: Path, *args: str, env: dict[str, str] | None = None,
         unset: tuple[str, ...] = NO_CONN, input: str | None = None) -> Any:
    full = {"EPMM_CONFIG": str(cfg), **(env or {})}
    keep = tuple(u for u in unset if u not in full)
    return cli(*args, env=full, unset=keep, input=input)


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[ConnectionSettings]]:
    """The settings a command would build its client from (the command stops there)."""
    seen: list[ConnectionSettings] = []

    def fake_client(self: ConnectionSettings) -> Any:
        seen.append(self)
        raise CliError("captured", 2)

    monkeypatch.setattr(ConnectionSettings, "client", fake_client)
    yield seen


# -- the file's place -----------------------------------------------------------------------


def test_config_path_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EPMM_CONFIG", str(tmp_path / "x.toml"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert config_path() == tmp_path / "x.toml"
    monkeypatch.delenv("EPMM_CONFIG")
    assert config_path() == tmp_path / "xdg" / "epmm" / "config.toml"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert config_path() == tmp_path / "home" / ".config" / "epmm" / "config.toml"


# -- precedence -----------------------------------------------------------------------------


def test_profile_supplies_the_connection(cli: Invoke, shared: SimThread, cfg: Path) -> None:
    _write(cfg, _profile(shared))
    r = _run(cli, cfg, "--profile", "prod", "labels", "-o", "json",
             env={"PROD_PW": shared.sim.password})
    assert r.exit_code == 0, r.output
    r = _run(cli, cfg, "labels", "-o", "json",
             env={"EPMM_PROFILE": "prod", "PROD_PW": shared.sim.password})
    assert r.exit_code == 0, r.output


def test_default_profile_and_no_profile(cli: Invoke, shared: SimThread, cfg: Path) -> None:
    _write(cfg, 'default_profile = "prod"\n\n' + _profile(shared))
    r = _run(cli, cfg, "labels", "-o", "json", env={"PROD_PW": shared.sim.password})
    assert r.exit_code == 0, r.output
    _write(cfg, _profile(shared))  # no default: no profile, nothing to connect to
    r = _run(cli, cfg, "labels", env={"PROD_PW": shared.sim.password})
    assert r.exit_code == 2 and "no server URL" in r.output


def test_url_precedence(cli: Invoke, shared: SimThread, cfg: Path) -> None:
    _write(cfg, _profile(shared, url=DEAD_URL))
    env = {"PROD_PW": shared.sim.password}
    # the profile's (dead) URL is used when nothing else gives one
    r = _run(cli, cfg, "--profile", "prod", "labels", env=env)
    assert r.exit_code == 3, r.output
    # EPMM_URL beats the profile (and says so)
    r = _run(cli, cfg, "--profile", "prod", "labels", "-o", "json",
             env={**env, "EPMM_URL": shared.sim.url})
    assert r.exit_code == 0, r.output
    assert "EPMM_URL" in r.stderr and "overrides profile prod" in r.stderr
    # --url beats EPMM_URL
    r = _run(cli, cfg, "--profile", "prod", "--url", shared.sim.url, "labels", "-o", "json",
             env={**env, "EPMM_URL": DEAD_URL})
    assert r.exit_code == 0, r.output
    r = _run(cli, cfg, "--profile", "prod", "--url", DEAD_URL, "labels",
             env={**env, "EPMM_URL": shared.sim.url})
    assert r.exit_code == 3, r.output


def test_option_precedence(cli: Invoke, shared: SimThread, cfg: Path,
                           captured: list[ConnectionSettings], tmp_path: Path) -> None:
    ca = _write(tmp_path / "ca.pem", "x")
    _write(cfg, _profile(shared, extra="concurrency = 3\nrate = 2.5\nwire = \"xml\"\n"
                         "insecure = true\nca_bundle = \"ca.pem\"\n"))
    r = _run(cli, cfg, "--profile", "prod", "labels")
    assert "captured" in r.output
    s = captured[-1]
    assert (s.profile, s.concurrency, s.rate, s.response_format, s.insecure) == (
        "prod", 3, 2.5, "xml", True)
    assert s.ca_bundle == ca  # relative to the config file's folder
    assert (s.url, s.username) == (shared.sim.url, shared.sim.username)
    r = _run(cli, cfg, "--profile", "prod", "--concurrency", "7", "--rate", "9",
             "--wire", "json", "--no-insecure", "--ca-bundle", "/other.pem",
             "--username", "cli-user", "labels")
    s = captured[-1]
    assert (s.concurrency, s.rate, s.response_format, s.insecure, s.username) == (
        7, 9.0, "json", False, "cli-user")
    assert s.ca_bundle == Path("/other.pem")
    # the environment beats the profile; the command line beats the environment
    _run(cli, cfg, "--profile", "prod", "labels", env={"EPMM_USERNAME": "env-user"})
    assert captured[-1].username == "env-user"
    _run(cli, cfg, "--profile", "prod", "--username", "cli-user", "labels",
         env={"EPMM_USERNAME": "env-user"})
    assert captured[-1].username == "cli-user"
    # no profile: built-in defaults
    _run(cli, cfg, "labels", env={"EPMM_URL": shared.sim.url})
    s = captured[-1]
    assert (s.profile, s.concurrency, s.rate, s.response_format, s.insecure) == (
        None, None, None, "json", False)


def test_profile_after_the_command(cli: Invoke, shared: SimThread, cfg: Path,
                                   captured: list[ConnectionSettings]) -> None:
    _write(cfg, _profile(shared) + "\n" + _profile(shared, "test", extra="concurrency = 2\n"))
    _run(cli, cfg, "labels", "--profile", "test", env={"EPMM_PROFILE": "prod"})
    assert (captured[-1].profile, captured[-1].concurrency) == ("test", 2)
    _run(cli, cfg, "labels", env={"EPMM_PROFILE": "prod"})
    assert captured[-1].profile == "prod"


def test_unknown_profile_and_missing_file(cli: Invoke, shared: SimThread, cfg: Path) -> None:
    r = _run(cli, cfg, "--profile", "prod", "labels")
    assert r.exit_code == 2 and "no config file" in r.output and str(cfg) in r.output
    _write(cfg, _profile(shared))
    r = _run(cli, cfg, "--profile", "nope", "labels")
    assert r.exit_code == 2 and "no profile 'nope'" in r.output and "prod" in r.output


# -- password sources -----------------------------------------------------------------------


def test_password_env(cli: Invoke, shared: SimThread, cfg: Path) -> None:
    _write(cfg, _profile(shared))
    r = _run(cli, cfg, "--profile", "prod", "labels", "-o", "json",
             env={"PROD_PW": shared.sim.password})
    assert r.exit_code == 0, r.output
    r = _run(cli, cfg, "--profile", "prod", "labels")
    assert r.exit_code == 2 and "the environment variable password_env names is not set" in r.output
    # EPMM_PASSWORD beats the profile's source
    r = _run(cli, cfg, "--profile", "prod", "labels", "-o", "json",
             env={"PROD_PW": "wrong", "EPMM_PASSWORD": shared.sim.password})
    assert r.exit_code == 0, r.output


def test_password_file(cli: Invoke, shared: SimThread, cfg: Path, tmp_path: Path) -> None:
    _write(tmp_path / "pw.txt", shared.sim.password + "\nsecond line\n")
    _write(cfg, _profile(shared, source='password_file = "pw.txt"'))
    r = _run(cli, cfg, "--profile", "prod", "labels", "-o", "json")
    assert r.exit_code == 0, r.output
    _write(tmp_path / "pw.txt", "")
    r = _run(cli, cfg, "--profile", "prod", "labels")
    assert r.exit_code == 2 and "is empty" in r.output


def _script(tmp_path: Path, body: str) -> str:
    script = _write(tmp_path / "vault.py", body)
    return f"{sys.executable} {script}"


def test_password_command(cli: Invoke, shared: SimThread, cfg: Path, tmp_path: Path) -> None:
    command = _script(tmp_path, f"print({shared.sim.password!r}); print('ignored')\n")
    _write(cfg, _profile(shared, source=f"password_command = {_q(command)}"))
    r = _run(cli, cfg, "--profile", "prod", "labels", "-o", "json")
    assert r.exit_code == 0, r.output
    # a failing command: a clear error, and nothing it printed is echoed
    command = _script(tmp_path, "import sys\nprint('leaked-secret')\n"
                      "print('oops leaked-stderr', file=sys.stderr)\nsys.exit(4)\n")
    _write(cfg, _profile(shared, source=f"password_command = {_q(command)}"))
    r = _run(cli, cfg, "--profile", "prod", "labels")
    assert r.exit_code == 2
    assert "failed with exit status 4" in r.output and "profile 'prod'" in r.output
    assert "leaked" not in r.output
    _write(cfg, _profile(shared, source='password_command = "no-such-vault-cli get pw"'))
    r = _run(cli, cfg, "--profile", "prod", "labels")
    assert r.exit_code == 2 and "no-such-vault-cli: command not found" in r.output


def test_password_command_timeout(cli: Invoke, shared: SimThread, cfg: Path, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(profiles, "COMMAND_TIMEOUT", 0.5)
    command = _script(tmp_path, "import time\ntime.sleep(10)\n")
    _write(cfg, _profile(shared, source=f"password_command = {_q(command)}"))
    r = _run(cli, cfg, "--profile", "prod", "labels")
    assert r.exit_code == 2 and "did not finish within 0.5 s" in r.output


@pytest.fixture
def fake_keyring(monkeypatch: pytest.MonkeyPatch) -> dict[tuple[str, str], str]:
    store: dict[tuple[str, str], str] = {}
    module = types.ModuleType("keyring")
    module.get_password = lambda service, user: store.get((service, user))  # type: ignore[attr-defined]
    module.set_password = lambda service, user, pw: store.__setitem__((service, user), pw)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "keyring", module)
    return store


def test_password_keyring(cli: Invoke, shared: SimThread, cfg: Path,
                          fake_keyring: dict[tuple[str, str], str]) -> None:
    _write(cfg, _profile(shared, source="password_keyring = true"))
    r = _run(cli, cfg, "--profile", "prod", "labels")
    assert r.exit_code == 2 and "epmm config set-password prod" in r.output
    pw = shared.sim.password
    r = _run(cli, cfg, "config", "set-password", "prod", input=f"{pw}\n{pw}\n")
    assert r.exit_code == 0, r.output
    assert fake_keyring == {("epmm-async", "prod"): pw}
    r = _run(cli, cfg, "--profile", "prod", "labels", "-o", "json")
    assert r.exit_code == 0, r.output


def test_keyring_not_installed(cli: Invoke, shared: SimThread, cfg: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "keyring", None)  # import keyring -> ImportError
    _write(cfg, _profile(shared, source="password_keyring = true"))
    r = _run(cli, cfg, "--profile", "prod", "labels")
    assert r.exit_code == 2 and "pip install 'epmm-async[keyring]'" in r.output


def test_set_password_needs_a_keyring_profile(cli: Invoke, shared: SimThread, cfg: Path,
                                              fake_keyring: dict[tuple[str, str], str]) -> None:
    _write(cfg, _profile(shared))
    r = _run(cli, cfg, "config", "set-password", "prod", input="a\na\n")
    assert r.exit_code == 2 and "not the keyring" in r.output and not fake_keyring


# -- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "words"), [
    ('[profiles.prod]\nurl = "https://x"\npassword = "hunter2"\n',
     ["profile 'prod'", "key 'password'", "never kept in the config file"]),
    ('[profiles.prod]\nurll = "https://x"\npassword_env = "X"\n',
     ["profile 'prod'", "key 'urll'", "unknown key"]),
    ('[profiles.prod]\nconcurrency = "4"\npassword_env = "X"\n',
     ["profile 'prod'", "key 'concurrency'", "expected an integer"]),
    ('[profiles.prod]\ninsecure = 1\npassword_env = "X"\n',
     ["profile 'prod'", "key 'insecure'", "expected true or false"]),
    ('[profiles.prod]\nwire = "yaml"\npassword_env = "X"\n',
     ["profile 'prod'", "key 'wire'", "json or xml"]),
    ('[profiles.prod]\nurl = "https://x"\n',
     ["profile 'prod'", "no password source"]),
    ('[profiles.prod]\npassword_env = "X"\npassword_keyring = true\n',
     ["profile 'prod'", "key 'password_keyring'", "more than one password source"]),
    ('[profiles.prod]\npassword_keyring = false\n',
     ["profile 'prod'", "key 'password_keyring'", "only be true"]),
    ('default_profile = "test"\n[profiles.prod]\npassword_env = "X"\n',
     ["key 'default_profile'", "names no profile: 'test'"]),
    ('colour = "red"\n', ["key 'colour'", "unknown key"]),
    ('[profiles.prod\n', ["not valid TOML"]),
])
def test_invalid_file(cli: Invoke, cfg: Path, body: str, words: list[str]) -> None:
    _write(cfg, body)
    r = _run(cli, cfg, "labels", env={"EPMM_URL": "http://127.0.0.1:9"})
    assert r.exit_code == 2, r.output
    for word in [str(cfg), *words]:
        assert word in r.output
    assert "hunter2" not in r.output
    r = _run(cli, cfg, "config", "list")
    assert r.exit_code == 2 and str(cfg) in r.output


# -- epmm config ----------------------------------------------------------------------------


def test_config_add_list_show_use(cli: Invoke, shared: SimThread, cfg: Path,
                                  tmp_path: Path) -> None:
    _write(cfg, "# my servers\n")
    r = _run(cli, cfg, "config", "add", "prod", "--url", shared.sim.url, "--username",
             shared.sim.username, "--password-env", "PROD_PW", "--concurrency", "5",
             "--default")
    assert r.exit_code == 0, r.output
    r = _run(cli, cfg, "config", "add", "test", "--url", "https://test.example.com",
             "--username", "u \"quoted\"", "--password-command", "pass show epmm/test")
    assert r.exit_code == 0, r.output
    text = cfg.read_text()
    assert "# my servers" in text  # the rest of the file is kept
    data = tomllib.loads(text)
    assert data["default_profile"] == "prod"
    assert data["profiles"]["test"]["username"] == "u \"quoted\""
    assert data["profiles"]["prod"]["concurrency"] == 5
    r = _run(cli, cfg, "config", "list")
    assert r.exit_code == 0, r.output
    rows = [line.split() for line in r.stdout.splitlines()]
    assert ["*", "prod", shared.sim.url, shared.sim.username, "env"] in rows
    r = _run(cli, cfg, "config", "use", "test")
    assert r.exit_code == 0, r.output
    config = load_config(cfg)
    assert config is not None and config.default_profile == "test"
    assert cfg.read_text().count("default_profile") == 1
    r = _run(cli, cfg, "config", "show")
    assert r.exit_code == 0 and "profile: test (default)" in r.stdout
    assert "password: command (pass ...)" in r.stdout and "epmm/test" not in r.stdout
    r = _run(cli, cfg, "--profile", "prod", "labels", "-o", "json",
             env={"PROD_PW": shared.sim.password})
    assert r.exit_code == 0, r.output
    r = _run(cli, cfg, "config", "add", "prod", "--url", "x", "--password-env", "Y")
    assert r.exit_code == 2 and "exists already" in r.output
    r = _run(cli, cfg, "config", "add", "other", "--url", "x")
    assert r.exit_code == 2 and "exactly one password source" in r.output
    r = _run(cli, cfg, "config", "add", "bad name", "--password-env", "Y")
    assert r.exit_code == 2 and "letters, digits" in r.output
    r = _run(cli, cfg, "config", "use", "nope")
    assert r.exit_code == 2 and "no profile 'nope'" in r.output


def test_config_show_never_prints_the_password(cli: Invoke, shared: SimThread, cfg: Path,
                                               tmp_path: Path) -> None:
    _write(tmp_path / "pw.txt", "s3cret-from-file\n")
    _write(cfg, _profile(shared) + "\n" + _profile(shared, "f", source='password_file = "pw.txt"'))
    r = _run(cli, cfg, "config", "show", "prod", env={"PROD_PW": "s3cret-from-env"})
    assert r.exit_code == 0, r.output
    assert "password: environment variable PROD_PW" in r.stdout
    assert "s3cret" not in r.output
    r = _run(cli, cfg, "config", "show", "f")
    assert r.exit_code == 0 and "password: file" in r.stdout and "s3cret" not in r.output


def test_config_without_a_file(cli: Invoke, cfg: Path) -> None:
    r = _run(cli, cfg, "config", "list")
    assert r.exit_code == 0 and "no config file" in r.output
    r = _run(cli, cfg, "config", "show", "prod")
    assert r.exit_code == 2 and "no config file" in r.output


def test_broken_file_does_not_stop_the_simulator_help(cli: Invoke, cfg: Path) -> None:
    _write(cfg, "nonsense = 1\n")
    r = _run(cli, cfg, "--version")
    assert r.exit_code == 0


# -- the profile in prompts and summaries ---------------------------------------------------


def _active(st: SimThread, n: int) -> list[str]:
    return [d.uuid for d in st.sim.fleet.devices.values()
            if d.status == DeviceStatus.ACTIVE][:n]


def test_profile_named_in_summary_and_confirmation(fresh_cli: Invoke, fresh: SimThread,
                                                   cfg: Path) -> None:
    _write(cfg, _profile(fresh))
    env = {"PROD_PW": fresh.sim.password}
    uuids = _active(fresh, 2)
    args = [a for u in uuids for a in ("--uuid", u)]
    r = _run(fresh_cli, cfg, "--profile", "prod", "lock", *args, env=env)
    assert r.exit_code == 0, r.output
    assert f"on {fresh.sim.url.rstrip('/')} (profile prod)" in r.stderr
    r = _run(fresh_cli, cfg, "--profile", "prod", "wipe", *args, env=env)
    assert r.exit_code == 2
    assert "(profile prod)" in r.output and "refusing to wipe 2 device(s)" in r.output
    # without a profile, no profile is named
    r = _run(fresh_cli, cfg, "lock", *args, env={"EPMM_URL": fresh.sim.url,
                                                 "EPMM_USERNAME": fresh.sim.username,
                                                 "EPMM_PASSWORD": fresh.sim.password})
    assert r.exit_code == 0, r.output
    assert "lock summary" in r.stderr and "(profile" not in r.stderr
