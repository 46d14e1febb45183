"""``epmm label list/show/create/delete`` (API v2 labels) against the simulator."""

from __future__ import annotations

import json

import pytest
from cli_support import Invoke, SimThread

from epmm_async.cli import label_cmds


def _names(st: SimThread) -> list[str]:
    return [label.name for label in st.sim.fleet.labels]


def _deletes(st: SimThread) -> int:
    return sum(r.method == "DELETE" for r in st.sim.received.requests)


def test_label_list(cli: Invoke, shared: SimThread) -> None:
    r = cli("label", "list", "-o", "json", "--page-size", "3")  # paged: 4 requests
    assert r.exit_code == 0, r.output
    listed = json.loads(r.stdout)
    assert [x["name"] for x in listed] == _names(shared)
    sales = next(x for x in listed if x["name"] == "Sales")
    assert sales["is_static"] is True and sales["row_type"] == "ADMIN"
    assert sales["device_count"] == sum(
        shared.sim.fleet.label_named("Sales").matches(d)  # type: ignore[union-attr]
        for d in shared.sim.fleet.devices.values())
    r = cli("label", "list", "-o", "table")
    assert r.exit_code == 0 and "Field Engineers" in r.stdout
    assert cli("label", "list", "--page-size", "201").exit_code == 2


def test_label_show(cli: Invoke) -> None:
    r = cli("label", "show", "Lost Devices", "-o", "json")
    assert r.exit_code == 0, r.output
    shown = json.loads(r.stdout)
    assert shown["name"] == "Lost Devices" and shown["is_static"] is False
    assert cli("label", "show", "Sales", "-o", "table").stdout.count("Sales") >= 1
    r = cli("label", "show", "sales")  # exact names: the server's labels differ by case
    assert r.exit_code == 2 and "did you mean 'Sales'" in r.stderr


def test_label_create(fresh_cli: Invoke, fresh: SimThread) -> None:
    r = fresh_cli("label", "create", "Quarantine", "--description", "held", "-o", "json")
    assert r.exit_code == 0, r.output
    created = json.loads(r.stdout)[0]
    label = fresh.sim.fleet.label_named("Quarantine")
    assert label is not None and label.static and label.description == "held"
    assert created == {"id": label.id, "name": "Quarantine", "static": True}
    posts = sum(r.method == "POST" for r in fresh.sim.received.requests)
    r = fresh_cli("label", "create", "quarantine")  # in any case: refused, never sent
    assert r.exit_code == 2 and "exists already" in r.stderr
    assert sum(r.method == "POST" for r in fresh.sim.received.requests) == posts
    r = fresh_cli("label", "create", "A,B")
    assert r.exit_code == 2 and "comma" in r.stderr


def test_label_delete_needs_confirmation(fresh_cli: Invoke, fresh: SimThread,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    r = fresh_cli("label", "delete", "Sales", "Empty Label", "--reason", "cleanup")
    assert r.exit_code == 2 and "refusing to delete 2 label(s)" in r.stderr
    assert "--yes" in r.stderr
    r = fresh_cli("label", "delete", "Sales", "--reason", "cleanup", "--dry-run", "-o", "jsonl")
    assert r.exit_code == 0 and json.loads(r.stdout)["status"] == "planned"
    assert _deletes(fresh) == 0 and "Sales" in _names(fresh)
    monkeypatch.setattr(label_cmds, "stdin_is_terminal", lambda: True)
    r = fresh_cli("label", "delete", "Sales", "Empty Label", "--reason", "x", input="1\n")
    assert r.exit_code == 2 and "not confirmed" in r.stderr
    assert _deletes(fresh) == 0
    r = fresh_cli("label", "delete", "Sales", "Empty Label", "--reason", "x", "-o", "jsonl",
                  input="2\n")
    assert r.exit_code == 0, r.output
    records = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
    assert [x["status"] for x in records] == ["deleted", "deleted"]
    assert "Sales" not in _names(fresh) and "Empty Label" not in _names(fresh)
    assert _deletes(fresh) == 1  # one request for both


def test_label_delete_refusals(fresh_cli: Invoke, fresh: SimThread) -> None:
    for args, needle in ((("Slaes",), "did you mean 'Sales'"),
                         (("iOS",), "SYSTEM label"),
                         (("Sales", "No Such"), "no label is named 'No Such'")):
        r = fresh_cli("label", "delete", *args, "--reason", "x", "--yes")
        assert r.exit_code == 2 and needle in r.stderr, (args, r.output)
    assert fresh_cli("label", "delete", "Sales", "--yes").exit_code == 2  # --reason required
    assert fresh_cli("label", "delete", "Sales", "--reason", " ", "--yes").exit_code == 2
    assert _deletes(fresh) == 0
    r = fresh_cli("label", "delete", "Field Engineers", "--reason", "x", "--yes")
    assert r.exit_code == 0 and "Field Engineers" not in _names(fresh)
