"""What an adversarial review of profiles, filters and follow-up jobs found, through ``epmm``."""

from __future__ import annotations

from pathlib import Path

from cli_support import Invoke, SimThread

from epmm_async.enums import DeviceStatus


def test_filters_beside_named_devices_are_refused_not_added(fresh_cli: Invoke,
                                                            fresh: SimThread) -> None:
    uuid = next(d.uuid for d in fresh.sim.fleet.devices.values()
                if d.status == DeviceStatus.ACTIVE)
    before = len(fresh.sim.received.requests)
    result = fresh_cli("lock", "--uuid", uuid, "--platform", "ios", "--reason", "r")
    assert result.exit_code == 2 and result.stdout == ""
    assert "would add devices" in result.stderr
    assert len(fresh.sim.received.requests) == before  # refused before any request
    # With a server-side selection the filters narrow it, and the uuid is added: allowed.
    ok = fresh_cli("lock", "--uuid", uuid, "--label", "Sales", "--platform", "ios",
                   "--reason", "r", "--dry-run", "-o", "json")
    assert ok.exit_code == 0, ok.stderr


def _config(tmp_path: Path, body: str) -> dict[str, str]:
    path = tmp_path / "config.toml"
    path.write_text(body, encoding="utf-8")
    return {"EPMM_CONFIG": str(path)}


def test_a_profile_url_with_an_account_is_refused_without_repeating_it(
    cli: Invoke, tmp_path: Path
) -> None:
    env = _config(tmp_path, '[profiles.p]\nurl = "http://admin:URLSECRET@127.0.0.1:1"\n'
                  'username = "a"\npassword_env = "X"\n')
    for args in (("config", "list"), ("config", "show", "p"), ("--profile", "p", "labels")):
        result = cli(*args, env=env, unset=("EPMM_URL",))
        assert result.exit_code == 2, (args, result.stderr)
        assert "URLSECRET" not in result.stdout + result.stderr
        assert "key 'url'" in result.stderr


def test_an_unbalanced_quote_in_password_command_is_a_config_error(
    cli: Invoke, tmp_path: Path
) -> None:
    env = _config(tmp_path, '[profiles.a]\nurl = "http://127.0.0.1:1"\nusername = "u"\n'
                  "password_command = \"vault 'unterminated secret123\"\n")
    for args in (("config", "show", "a"), ("--profile", "a", "labels")):
        result = cli(*args, env=env, unset=("EPMM_URL", "EPMM_PASSWORD"))
        assert result.exit_code == 2, (args, result.stderr)
        assert "secret123" not in result.stdout + result.stderr
        assert "password_command" in result.stderr


def test_a_password_env_value_is_never_repeated(cli: Invoke, tmp_path: Path) -> None:
    env = _config(tmp_path, '[profiles.a]\nurl = "http://127.0.0.1:1"\nusername = "u"\n'
                  'password_env = "hunter2pw"\n')
    result = cli("--profile", "a", "labels", env=env,
                 unset=("EPMM_URL", "EPMM_PASSWORD", "hunter2pw"))
    assert result.exit_code == 2
    assert "hunter2pw" not in result.stdout + result.stderr


def test_a_huge_duration_is_a_usage_error(cli: Invoke) -> None:
    for value in ("999999d", "99999999999d"):
        result = cli("devices", "list", "--last-seen-before", value)
        assert result.exit_code == 2, result.stderr
        assert "internal error" not in result.stderr
