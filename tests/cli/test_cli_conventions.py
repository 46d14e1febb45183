"""What people expect from a command line, driven through ``epmm`` (issue 12, items 4, 10-15):
machine output that carries meanings, streamed and never-silent reads, tables that fit,
errors with their root cause in CLI words, --version/-h/completion/-q/--wire, global options
after the command, and a simulator that does not print tracebacks."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import pty
import re
import select
import shutil
import ssl
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from aiohttp import web
from cli_support import Invoke, SimThread, make_invoke
from rich.console import Console

from epmm_async import __version__
from epmm_async.cli.apps import hoist_global_options
from epmm_async.cli.output import OutputFormat, RecordWriter
from epmm_async.cli.read_cmds import DEVICE_COLUMNS, DEVICE_DROP_ORDER, DEVICE_NO_WRAP
from epmm_async.enums import ComplianceReason, DeviceStatus, UserSource
from epmm_async.models import Device
from epmm_async.simulator.faults import Faults

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def run_epmm(*args: str, env: dict[str, str] | None = None, timeout: float = 60,
             **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """``python -m epmm_async ARGS`` in a subprocess (the console script's path)."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("EPMM_")}
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "epmm_async", *args], capture_output=True,
                          text=True, env=full, timeout=timeout, check=False, **kwargs)


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


# -- 4. machine output carries booleans and names -----------------------------------------


def test_json_and_csv_carry_booleans_and_names(cli: Invoke, shared: SimThread) -> None:
    r = cli("countries", "-o", "jsonl")
    assert r.exit_code == 0 and r.stderr == ""
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert {type(row["enabled_for_registration"]) for row in rows} == {bool}
    assert any(row["enabled_for_registration"] for row in rows)
    r = cli("countries", "-o", "csv")
    assert r.exit_code == 0 and r.stderr == ""
    assert {row["enabled_for_registration"] for row in csv.DictReader(io.StringIO(r.stdout))} \
        <= {"true", "false"}
    r = cli("labels", "-o", "json")
    assert r.exit_code == 0 and r.stderr == ""
    assert {type(label["is_es_search"]) for label in json.loads(r.stdout)} == {bool}

    fleet = shared.sim.fleet
    device = next(d for d in fleet.devices.values()
                  if d.compliance_flags and d.status == DeviceStatus.ACTIVE)
    names = [m.name for m in ComplianceReason(device.compliance_flags).reasons]
    r = cli("devices", "show", device.uuid, "-o", "json")
    assert r.exit_code == 0 and r.stderr == ""
    record = json.loads(r.stdout)
    assert record["user_source"] in ("LOCAL", "LDAP")
    assert record["compliance"] == names
    assert record["compliance_reasons"] == ComplianceReason(device.compliance_flags).describe()
    assert record["quarantined_status"] == [
        m.name for m in ComplianceReason(device.quarantined).reasons]
    assert isinstance(record["block_reason"], list)
    r = cli("devices", "show", device.uuid, "-o", "csv")
    assert r.exit_code == 0 and r.stderr == ""
    row = next(csv.DictReader(io.StringIO(r.stdout)))
    assert row["user_source"] == record["user_source"]
    assert json.loads(row["compliance"]) == names
    r = cli("devices", "show", device.uuid, "-o", "table")
    assert r.exit_code == 0 and r.stderr == ""
    assert re.search(rf"user_source\s+│ {record['user_source']}\s", r.stdout)
    assert f"{names[0]}: " in r.stdout and "│ 0 (none)" not in r.stdout

    r = cli("devices", "list", "--label", "iOS", "-o", "jsonl")
    assert r.exit_code == 0 and r.stderr == ""
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert rows and {row["user_source"] for row in rows} <= {"LOCAL", "LDAP", None}
    assert all(isinstance(row["compliance"], list) for row in rows)
    assert {s.name for s in UserSource} == {"LOCAL", "LDAP"}


def test_export_keeps_the_servers_codes(cli: Invoke) -> None:
    r = cli("devices", "export")
    assert r.exit_code == 0 and r.stderr == ""
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert rows and all(row["Compliance"].isdigit() for row in rows)


# -- 10. streamed, never silent, tables that fit ---------------------------------------------


@pytest.fixture(scope="module")
def slow() -> Iterator[SimThread]:
    """A simulator that takes 0.6 s for every device page."""
    st = SimThread(devices=1300, seed=3, time_scale=0.02,
                   faults=Faults(latency=0.6, paths=("/devices",)))
    yield st
    st.close()


def test_devices_list_streams_each_page_into_a_pipe(slow: SimThread) -> None:
    env = {**os.environ, **slow.env()}
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "epmm_async", "devices", "list", "-o", "jsonl"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    first_at = time.monotonic() - started
    rest = proc.stdout.read()
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0, stderr
    ended_at = time.monotonic() - started
    active = sum(d.status == DeviceStatus.ACTIVE for d in slow.sim.fleet.devices.values())
    assert active > 500  # more than one page of 500
    assert 1 + rest.count(b"\n") == active and first.startswith(b"{")
    # The first page reached the reader while the next one was still being read.
    assert ended_at - first_at >= 0.5, (first_at, ended_at)
    assert stderr == ""


def read_pty(master: int, proc: subprocess.Popen[bytes]) -> bytes:
    chunks: list[bytes] = []
    while True:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    return b"".join(chunks)


@pytest.mark.slow  # a subprocess of its own, seconds each: make test-all
@pytest.mark.parametrize("quiet", [False, True])
def test_a_long_read_shows_a_spinner_with_a_count_on_a_terminal(
    slow: SimThread, tmp_path: Path, quiet: bool
) -> None:
    # stderr is a terminal and the rows go to a file: the spinner has the terminal to itself.
    master, slave = pty.openpty()
    target = tmp_path / "devices.jsonl"
    env = {**os.environ, **slow.env(), "COLUMNS": "100"}
    args = [sys.executable, "-m", "epmm_async", *(["-q"] if quiet else []), "devices",
            "list", "-o", "jsonl"]
    with target.open("wb") as stdout:
        proc = subprocess.Popen(args, stdout=stdout, stderr=slave, env=env)
        os.close(slave)
        seen = read_pty(master, proc).decode(errors="replace")
        assert proc.wait(timeout=60) == 0, seen
    os.close(master)
    rows = target.read_text().splitlines()
    assert len(rows) > 500 and all(json.loads(row)["uuid"] for row in rows)
    if quiet:
        assert seen == ""
    else:
        assert "reading devices" in seen
        assert re.search(r"reading devices: \d[\d,]* so far", seen), seen
        assert "Traceback" not in seen


def device_rows(st: SimThread) -> list[Device]:
    devices = []
    for d in list(st.sim.fleet.devices.values())[:40]:
        devices.append(Device(uuid=d.uuid, principal=d.user.principal, platform=d.platform,
                              status=d.status, model=d.model, phone_number=d.phone_number,
                              compliance=ComplianceReason(d.compliance_flags)))
    return devices


@pytest.mark.parametrize("width", [80, 160])
def test_the_device_table_never_folds_a_uuid_and_drops_columns_to_fit(
    shared: SimThread, width: int
) -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=False, color_system=None)
    writer = RecordWriter(OutputFormat.TABLE, DEVICE_COLUMNS, title="Devices",
                          console=console, no_wrap=DEVICE_NO_WRAP,
                          drop_order=DEVICE_DROP_ORDER)
    devices = device_rows(shared)
    for device in devices:
        writer.write(device)
    writer.close()
    text = buffer.getvalue()
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= width
    whole = {m for line in lines for m in UUID_RE.findall(line)}
    assert whole == {d.uuid for d in devices}  # every uuid whole, on one line
    header = next(line for line in lines if "uuid" in line)
    if width == 160:
        assert writer.dropped in ([], ["phone"])
        for name in ("user", "platform", "status", "model", "last connected", "compliant"):
            assert name in header
    else:
        assert writer.dropped[:2] == ["phone", "last connected"]
        assert "phone" not in header and "user" in header and "status" in header


def test_a_narrow_terminal_table_through_epmm(shared: SimThread) -> None:
    proc = run_epmm("devices", "list", "--label", "Sales", "-o", "table",
                    env={**shared.env(), "COLUMNS": "80"})
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    expected = {d.uuid for d in shared.sim.fleet.devices.values()
                if d.status != DeviceStatus.RETIRED
                and any(lb.name == "Sales" and lb.matches(d)
                        for lb in shared.sim.fleet.labels)}
    assert {m for line in lines for m in UUID_RE.findall(line)} == expected
    assert "left out to fit 80 columns" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_devices_list_takes_repeated_selection_options(cli: Invoke, shared: SimThread) -> None:
    one = cli("devices", "list", "--label", "iOS", "-o", "jsonl")
    two = cli("devices", "list", "--label", "Android", "-o", "jsonl")
    both = cli("devices", "list", "--label", "iOS", "--label", "Android", "-o", "jsonl")
    assert one.exit_code == two.exit_code == both.exit_code == 0
    uuids = [{json.loads(x)["uuid"] for x in r.stdout.splitlines()} for r in (one, two, both)]
    assert uuids[0] and uuids[1] and uuids[2] == uuids[0] | uuids[1]
    r = cli("devices", "list", "--status", "LOST", "--status", "EXPIRED", "-o", "jsonl")
    assert r.exit_code == 0
    assert {json.loads(x)["status"] for x in r.stdout.splitlines()} == {"LOST", "EXPIRED"}
    r = cli("devices", "list", "--label", "Slaes")
    assert r.exit_code == 2 and r.stdout == ""
    assert one_error_line(r.stderr) == 'error: unknown label "Slaes" (did you mean "Sales"?)'


# -- 11. errors keep their root cause ------------------------------------------------------


class LoopThread:
    """An event loop in a thread, for servers the CLI (with its own loop) talks to."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def call(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[int]]]:
    """A loopback https server with a self-signed certificate, behind a proxy that counts
    the connections made to it."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("no openssl CLI to make a self-signed certificate")
    where = tmp_path_factory.mktemp("tls")
    cert, key = where / "cert.pem", where / "key.pem"
    made = subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)], capture_output=True, check=False, timeout=60)
    if made.returncode != 0:
        pytest.skip("openssl could not make a certificate")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    accepted: list[int] = []
    lt = LoopThread()

    async def start() -> tuple[web.AppRunner, asyncio.Server, int]:
        runner = web.AppRunner(web.Application())
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
        await site.start()
        port = runner.addresses[0][1]

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            except OSError:
                pass
            finally:
                writer.close()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            accepted.append(1)
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

        proxy = await asyncio.start_server(handle, "127.0.0.1", 0)
        return runner, proxy, proxy.sockets[0].getsockname()[1]

    runner, proxy, proxy_port = lt.call(start())
    yield f"https://127.0.0.1:{proxy_port}", accepted

    async def stop() -> None:
        proxy.close()
        await runner.cleanup()

    lt.call(stop())
    lt.close()


def test_a_refused_certificate_says_why_and_is_sent_once(
    cli: Invoke, tls_server: tuple[str, list[int]]
) -> None:
    url, accepted = tls_server
    before = len(accepted)
    r = cli("--url", url, "labels")
    assert r.exit_code == 3 and r.stdout == ""
    line = one_error_line(r.stderr)
    assert line.startswith(f"error: TLS: the TLS certificate of {url.removeprefix('https://')} "
                           "was refused: self-signed certificate")
    assert "--ca-bundle FILE" in line and "verify=" not in line
    assert len(accepted) - before == 1  # not retried


def test_https_to_a_plain_http_port(cli: Invoke, shared: SimThread) -> None:
    url = shared.sim.url.replace("http://", "https://")
    r = cli("--url", url, "labels")
    assert r.exit_code == 3 and r.stdout == ""
    line = one_error_line(r.stderr)
    assert "did not speak TLS" in line and "plain-http port" in line


def test_a_404_page_on_the_first_call_points_at_the_url(cli: Invoke, shared: SimThread) -> None:
    r = cli("--url", shared.sim.url + "/api/v1/dm", "labels")
    assert r.exit_code == 1 and r.stdout == ""
    line = one_error_line(r.stderr)
    assert ("--url is probably wrong; it should be the server root, without /api/v1/dm: "
            f"{shared.sim.url} (check --url / EPMM_URL)") in line
    assert "base_url" not in line


def test_running_out_of_file_descriptors_says_so(shared: SimThread, tmp_path: Path) -> None:
    script = tmp_path / "few_fds.py"
    script.write_text(textwrap.dedent("""
        import os, resource, sys
        import anyio._backends._asyncio  # imported lazily: import it while files can be opened
        from epmm_async.client import EpmmClient

        opened = EpmmClient.__aenter__

        async def aenter(self):
            client = await opened(self)
            hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
            resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
            try:
                while True:
                    os.open(os.devnull, os.O_RDONLY)
            except OSError:
                pass
            return client

        EpmmClient.__aenter__ = aenter
        from epmm_async.cli import main
        sys.argv = ["epmm", "labels"]
        main()
    """))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          env={**os.environ, **shared.env()}, timeout=60, check=False)
    assert proc.returncode == 3 and proc.stdout == ""
    line = one_error_line(proc.stderr)
    assert "ran out of file descriptors (EMFILE)" in line
    assert "at most 64 open files" in line and "a smaller --concurrency" in line
    assert "unreachable" not in line


# -- 12. CLI words -------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "said", "unsaid"), [
    (("--url", "http://192.0.2.10"), "use https:// or pass --insecure", "allow_insecure_http"),
    (("--url", "ftp://epmm.example.com"), "--url must be an http(s) URL", "base_url"),
    (("--url", "https://epmm.example.com/?x=1"), "--url must not have a query string",
     "base_url"),
    (("--url", "https://u:pw@epmm.example.com"), "put the account in --username",
     "base_url"),
    (("--username", "a:b"), "--username must not contain ':'", "username must not"),
])
def test_messages_use_option_names(cli: Invoke, args: tuple[str, ...], said: str,
                                   unsaid: str) -> None:
    r = cli(*args, "labels")
    assert r.exit_code == 2 and r.stdout == ""
    line = one_error_line(r.stderr)
    assert said in line and unsaid not in line.replace(said, "")
    assert "pw@" not in line


# -- 14. --version, -h, completion, -q, --wire, global options anywhere --------------------


def test_version_help_and_examples(cli: Invoke) -> None:
    r = cli("--version")
    assert r.exit_code == 0 and r.stdout == f"epmm {__version__}\n" and r.stderr == ""
    r = cli("-h")
    assert r.exit_code == 0 and r.stdout.startswith("Usage: epmm") and r.stderr == ""
    assert "--wire" in r.stdout and "-q, --quiet" in r.stdout and "--format" not in r.stdout
    assert "--install-completion" in r.stdout
    for command in (("labels",), ("operators",), ("countries",), ("profiles",),
                    ("devices", "list"), ("devices", "show"), ("devices", "export")):
        r = cli(*command, "-h")
        assert r.exit_code == 0 and r.stderr == "", command
        assert r.stdout.startswith(f"Usage: epmm {' '.join(command)}"), r.stdout
        assert "Examples:" in r.stdout and f"epmm {' '.join(command)}" in r.stdout.split(
            "Examples:")[1], command
    r = cli("devices", "-h")
    assert r.exit_code == 0 and "list" in r.stdout


@pytest.mark.slow  # a subprocess of its own, seconds each: make test-all
def test_shell_completion(tmp_path: Path) -> None:
    # Take "bash" as the shell asked for, whatever shell runs the tests (typer otherwise
    # detects the parent process's shell: "sh" under a CI runner's subshell).
    asked = {"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    proc = run_epmm("--show-completion", "bash", env=asked)
    assert proc.returncode == 0 and "_EPMM_COMPLETE" in proc.stdout and proc.stderr == ""
    home = tmp_path / "home"
    home.mkdir()
    proc = run_epmm("--install-completion", "bash", env={**asked, "HOME": str(home)})
    assert proc.returncode == 0, proc.stderr
    installed = "".join(p.read_text() for p in home.rglob("*") if p.is_file())
    assert "_EPMM_COMPLETE" in installed or "epmm" in installed
    for words, cword, expected in (("epmm dev", "1", "devices"),
                                   ("epmm devices list --sta", "3", "--status"),
                                   ("epmm --url x devices l", "4", "list")):
        proc = run_epmm(env={"_EPMM_COMPLETE": "complete_bash", "COMP_WORDS": words,
                             "COMP_CWORD": cword})
        assert proc.returncode == 0 and proc.stdout.split() == [expected], (words, proc)


def test_global_options_after_the_command(cli: Invoke, shared: SimThread) -> None:
    sim = shared.sim
    r = cli("labels", "--url", sim.url, "-o", "jsonl", unset=("EPMM_URL",))
    assert r.exit_code == 0 and r.stderr == "", r.stderr
    assert "All-Smartphones" in r.stdout
    r = cli("devices", "list", "--status", "LOST", "-o", "jsonl", "--url=" + sim.url,
            "--wire", "xml", unset=("EPMM_URL",))
    assert r.exit_code == 0 and r.stderr == ""
    assert {json.loads(x)["status"] for x in r.stdout.splitlines()} == {"LOST"}
    r = cli("devices", "--username", sim.username, "show",
            next(iter(sim.fleet.devices)), "-o", "json", unset=("EPMM_USERNAME",))
    assert r.exit_code == 0 and json.loads(r.stdout)["uuid"] == next(iter(sim.fleet.devices))
    # An option of the command stays the command's; a missing value is a usage error.
    r = cli("labels", "--url")
    assert r.exit_code == 2 and "requires an argument" in r.stderr
    proc = run_epmm("labels", "--url", sim.url, "-q", "-o", "jsonl",
                    env={k: v for k, v in shared.env().items() if k != "EPMM_URL"})
    assert proc.returncode == 0 and proc.stderr == "" and "All-Smartphones" in proc.stdout


def test_hoisting_respects_values_and_double_dash() -> None:
    import typer.main

    from epmm_async.cli import app

    group = typer.main.get_command(app)
    ctx = group.make_context("epmm", ["--help"], resilient_parsing=True)
    cases = {
        ("labels", "--url", "U", "-o", "json"): ["--url", "U", "labels", "-o", "json"],
        ("devices", "list", "--label", "-q", "-qv"): ["-qv", "devices", "list", "--label",
                                                      "-q"],
        ("lock", "--uuid", "X", "--", "--url", "U"): ["lock", "--uuid", "X", "--", "--url",
                                                     "U"],
        ("--url", "A", "labels", "--url=B"): ["--url", "A", "--url=B", "labels"],
        ("labels", "-h", "--insecure"): ["--insecure", "labels", "-h"],
        ("simulator", "--port", "0", "-v"): ["simulator", "--port", "0", "-v"],
    }
    for given, expected in cases.items():
        assert hoist_global_options(group, ctx, list(given)) == expected, given


def test_quiet_prints_only_results(cli: Invoke, tmp_path: Path) -> None:
    loud = cli("devices", "list", "--label", "iOS", "-o", "table")
    assert loud.exit_code == 0 and "rows" in loud.stderr
    quiet = cli("-q", "devices", "list", "--label", "iOS", "-o", "table")
    assert quiet.exit_code == 0 and quiet.stderr == "" and quiet.stdout == loud.stdout
    target = tmp_path / "devices.csv"
    r = cli("devices", "export", "--to", str(target))
    assert r.exit_code == 0 and "devices exported to" in r.stderr
    r = cli("devices", "export", "--to", str(target), "-q")
    assert r.exit_code == 0 and r.stderr == "" and r.stdout == ""
    r = cli("-q", "labels", "--label", "x")  # errors still print
    assert r.exit_code == 2 and "No such option" in r.stderr


def test_wire_and_the_deprecated_format(cli: Invoke) -> None:
    wire = cli("--wire", "xml", "labels", "-o", "jsonl")
    assert wire.exit_code == 0 and wire.stderr == ""
    old = cli("--format", "xml", "labels", "-o", "jsonl")
    assert old.exit_code == 0 and old.stdout == wire.stdout
    assert old.stderr.startswith("warning: --format is deprecated") and "--wire" in old.stderr
    assert len(old.stderr.splitlines()) == 1
    r = cli("--wire", "yaml", "labels")
    assert r.exit_code == 2 and r.stdout == "" and "json or xml" in r.stderr
    r = cli("--wire", "json", "--format", "xml", "labels")
    assert r.exit_code == 2 and "disagree" in r.stderr


# -- 13. the simulator and Device's repr ---------------------------------------------------


@pytest.mark.slow  # a subprocess of its own, seconds each: make test-all
def test_the_standalone_simulator_does_not_print_a_traceback_when_a_reader_leaves() -> None:
    env = {**os.environ, "EPMM_SIM_PASSWORD": "secret"}
    sim = subprocess.Popen(
        [sys.executable, "-m", "epmm_async.simulator", "--devices", "8000", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    try:
        assert sim.stdout is not None
        url = ""
        for line in sim.stdout:
            if line.startswith("url="):
                url = line.strip().removeprefix("url=")
                break
        assert url
        client_env = {**os.environ, "EPMM_URL": url, "EPMM_USERNAME": "admin",
                      "EPMM_PASSWORD": "secret"}
        for _ in range(3):
            proc = subprocess.run(
                ["bash", "-c", f'"{sys.executable}" -m epmm_async devices export | head -n 2;'
                 ' echo "rc=${PIPESTATUS[0]}" >&2'],
                capture_output=True, text=True, env=client_env, timeout=60, check=False)
            assert len(proc.stdout.splitlines()) == 2
            assert proc.stderr.strip() == "rc=141", proc.stderr
        time.sleep(0.5)
    finally:
        sim.terminate()
        try:
            _, stderr = sim.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            sim.kill()
            _, stderr = sim.communicate()
    assert "Traceback" not in stderr and "Error handling request" not in stderr, stderr


def test_a_device_repr_is_short_and_the_full_record_one_call_away(shared: SimThread) -> None:
    invoke = make_invoke(shared)
    uuid = next(u for u, d in shared.sim.fleet.devices.items() if d.status == DeviceStatus.LOST)
    r = invoke("devices", "show", uuid, "-o", "json")
    record = json.loads(r.stdout)
    raw = {k: v for k, v in record.items() if not k.endswith("_reasons")}
    body = msgspec.json.encode({
        "uuid": raw["uuid"], "principal": raw["principal"], "platform": raw["platform"],
        "status": raw["status"], "model": raw["model"], "details": raw["details"]})
    device = msgspec.json.decode(body, type=Device)
    assert repr(device) == (f"Device(uuid={uuid!r}, principal={raw['principal']!r}, "
                            f"platform={raw['platform']!r}, status='LOST')")
    assert str(device) == repr(device) and len(repr(device)) < 150
    full = device.as_dict()
    assert full["model"] == raw["model"] and full["details"] == raw["details"]
    assert set(full) == {f.name for f in msgspec.structs.fields(Device)}
