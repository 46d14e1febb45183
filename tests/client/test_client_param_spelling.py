"""Each parameter is sent once, under one spelling (DESIGN.md, "registration country
parameter" and "reason parameter name").

Servers most likely match names case-insensitively (field notes: one public client registers
with all-lower-case names, another with camelCase, both work), so ``countryCode`` and
``countrycode`` would be one parameter sent twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qsl

import bodies as b
import pytest
from aiohttp import web
from loopback import serve

from epmm_async import ClientConfig, EpmmClient, RetryPolicy
from epmm_async.core import requests
from epmm_async.core.requests import ApiRequest

# Names a request repeats by design: one per device of a bulk request.
REPEATED = {"deviceuuids", "deviceuuid", "devicewifimacaddress"}

REGISTER: dict[str, Any] = dict(
    user_id="jdoe", platform="A", country_code=33, phone_number="4155551212",
    operator="Verizon", employee_owned=True, user_first_name="Joe", user_last_name="Doe",
    user_email_address="jdoe@example.com", notify_user=True, notify_user_by_sms=False,
)

BUILDERS: dict[str, Callable[[], ApiRequest]] = {
    "register": lambda: requests.register(**REGISTER),
    "register ldap": lambda: requests.register(
        user_id="jdoe", platform="I", country_code="1", device_type="PDA",
        import_user_from_ldap=True),
    "list": lambda: requests.list_devices("ACTIVE", 0, 500),
    "lock": lambda: requests.device_action("lock", b.UUID1, "lost"),
    "unlock": lambda: requests.device_action("unlock", b.UUID1, "forgot"),
    "wipe": lambda: requests.device_action("wipe", b.UUID1, "stolen"),
    "retire": lambda: requests.device_action("retire", b.UUID1, "replaced"),
    "locate now": lambda: requests.locate(b.UUID1, True),
    "roaming": lambda: requests.enable_roaming(b.UUID1, voice=True, data=False),
    "repush": lambda: requests.repush_profile(b.UUID1, 7, "APP"),
    "bulk": lambda: requests.bulk_action("LOCK", [b.UUID1, b.UUID2]),
    "message": lambda: requests.send_message([b.UUID1, b.UUID2], message="hi", mode="email",
                                             subject="s"),
}


def names(query: str) -> list[str]:
    return [k for k, _ in parse_qsl(query, keep_blank_values=True)]


def sent_twice(query: str) -> dict[str, int]:
    counts = Counter(k.lower() for k in names(query))
    return {k: n for k, n in counts.items() if n > 1 and k not in REPEATED}


@pytest.mark.parametrize("what", list(BUILDERS))
def test_every_built_request_names_each_parameter_once(what: str) -> None:
    req = BUILDERS[what]()
    assert sent_twice(req.query) == {}
    assert sent_twice(req.form or "") == {}


def test_register_spells_country_code_as_the_table_does() -> None:
    query = requests.register(**REGISTER).query
    assert names(query).count("countryCode") == 1
    assert "countrycode" not in names(query)
    assert dict(parse_qsl(query))["countryCode"] == "33"
    # The table's spellings, one each.
    assert names(query) == [
        "phoneNumber", "userId", "platform", "deviceType", "countryCode",
        "importUserFromLdap", "operator", "userFirstName", "userLastName",
        "userEmailAddress", "isEmployeeOwned", "notifyUser", "notifyuserbysms",
    ]


@pytest.mark.parametrize("action", ["lock", "unlock", "wipe", "retire"])
def test_actions_send_reason_once_as_reason(action: str) -> None:
    assert names(requests.device_action(action, b.UUID1, "why").query) == ["Reason"]


# -- what a server receives ------------------------------------------------------------------


@pytest.fixture
async def raw_queries() -> AsyncIterator[tuple[EpmmClient, list[str]]]:
    """A client on a loopback server that keeps every raw query string it receives."""
    received: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        received.append(request.query_string)
        if request.path.endswith("/register"):
            return web.json_response(b.registration_tree())
        return web.json_response(b.action_tree("ok"))

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    async with serve(app) as url, EpmmClient(
        url,
        username="u",
        password="p",
        config=ClientConfig(retry=RetryPolicy.none()),
    ) as epmm:
        yield epmm, received


async def test_the_server_receives_each_parameter_once(
    raw_queries: tuple[EpmmClient, list[str]],
) -> None:
    epmm, received = raw_queries
    await epmm.devices.register(**REGISTER)
    await epmm.devices.lock(b.UUID1, reason="lost")
    await epmm.devices.unlock(b.UUID1, reason="forgot")
    await epmm.devices.wipe(b.UUID1, reason="stolen")
    await epmm.devices.retire(b.UUID1, reason="replaced")
    assert len(received) == 5
    for raw in received:
        lowered = Counter(k.lower() for k in names(raw))
        assert all(n == 1 for n in lowered.values()), raw
    register = names(received[0])
    assert [k for k in register if k.lower() == "countrycode"] == ["countryCode"]
    for raw in received[1:]:
        assert names(raw) == ["Reason"]
