"""Every validation rule raises ValidationError (a ValueError) before any request is sent."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import bodies as b
import pytest
from client_support import MockServer

from epmm_async import ClientConfig, EpmmClient, MacAddress, ValidationError

REG = {
    "user_id": "jdoe",
    "platform": "A",
    "country_code": "1",
    "phone_number": "4155551212",
    "user_first_name": "Joe",
    "user_last_name": "Doe",
    "user_email_address": "jdoe@example.com",
}


def reg(**changes: Any) -> Callable[[EpmmClient], Awaitable[Any]]:
    kwargs = {**REG, **changes}
    return lambda e: e.devices.register(**kwargs)


async def _collect(aiter: Any) -> list[Any]:
    return [x async for x in aiter]


CASES: dict[str, Callable[[EpmmClient], Awaitable[Any]]] = {
    "get malformed uuid": lambda e: e.devices.get("not-a-uuid"),
    "get uuid with slash": lambda e: e.devices.get(b.UUID1 + "/../x"),
    "lock malformed uuid": lambda e: e.devices.lock("12345", reason="x"),
    "profiles malformed uuid": lambda e: e.devices.profiles("zzzzzzzz-0000-0000-0000-000000000000"),
    "by_mac malformed": lambda e: e.devices.by_mac("38:AA:3C:62:BF"),
    "by_mac non hex": lambda e: e.devices.by_mac("38AA3C62BFAG"),
    "lock reason too long": lambda e: e.devices.lock(b.UUID1, reason="x" * 513),
    "wipe reason too long": lambda e: e.devices.wipe(b.UUID1, reason="x" * 513),
    "retire reason too long": lambda e: e.devices.retire(b.UUID1, reason="x" * 513),
    "lock no reason": lambda e: e.devices.lock(b.UUID1, reason=None),
    "lock empty reason": lambda e: e.devices.lock(b.UUID1, reason="  "),
    "unlock no reason": lambda e: e.devices.unlock(b.UUID1, reason=None),
    "list unknown status": lambda e: e.devices.list(status="SLEEPING"),
    "iter unknown status": lambda e: _collect(e.devices.iter("SLEEPING")),
    "iter bad page size": lambda e: _collect(e.devices.iter(page_size=0)),
    "bulk unknown action": lambda e: e.bulk.action("REBOOT", [b.UUID1]),
    "bulk malformed uuid": lambda e: e.bulk.action("LOCK", [b.UUID1, "nope"]),
    "bulk empty": lambda e: e.bulk.action("LOCK", []),
    "message unknown mode": lambda e: e.bulk.send_message([b.UUID1], message="x", mode="fax"),
    "message subject without email": lambda e: e.bulk.send_message(
        [b.UUID1], message="x", mode="sms", subject="s"
    ),
    "message empty text": lambda e: e.bulk.send_message([b.UUID1], message=" ", mode="sms"),
    "message no devices": lambda e: e.bulk.send_message([], message="x", mode="sms"),
    "message mixed mac and uuid": lambda e: e.bulk.send_message(
        [b.UUID1, MacAddress(b.MAC)], message="x", mode="sms"
    ),
    "register no phone for phone": reg(phone_number=None),
    "register blank phone": reg(phone_number="  "),
    "register local no first name": reg(user_first_name=None),
    "register local no last name": reg(user_last_name=""),
    "register local no email": reg(user_email_address=None),
    "register local bad email": reg(user_email_address="not-an-email"),
    "register unknown platform": reg(platform="Symbian"),
    "register unknown device type": reg(device_type="Tablet"),
    "register non-numeric country": reg(country_code="US"),
    "register empty user": reg(user_id=""),
    "roaming without bools": lambda e: e.devices.set_roaming(b.UUID1, voice=1, data=0),  # type: ignore[arg-type]
    "roaming string bools": lambda e: e.devices.set_roaming(b.UUID1, voice="true", data=True),  # type: ignore[arg-type]
    "repush bad type": lambda e: e.devices.repush_profile(b.UUID1, 3, "CONFIG"),
    "repush bad id": lambda e: e.devices.repush_profile(b.UUID1, "abc", "APP"),
    "by_user empty": lambda e: e.devices.by_user(""),
    "by_label empty": lambda e: e.devices.by_label("   "),
    "by_phone none": lambda e: e.devices.by_phone(),
    "by_phone comma": lambda e: e.devices.by_phone("123,456"),
    "wakeup with non-device": lambda e: e.devices.wakeup(42),  # type: ignore[arg-type]
}


@pytest.mark.parametrize("name", list(CASES))
async def test_rejected_before_sending(mock: MockServer, epmm: EpmmClient, name: str) -> None:
    with pytest.raises(ValidationError) as info:
        await CASES[name](epmm)
    assert isinstance(info.value, ValueError)
    assert str(info.value)
    assert mock.count() == 0


async def test_register_pda_may_omit_phone(mock: MockServer, epmm: EpmmClient) -> None:
    mock.reply("PUT", b.jettison(b.registration_tree()))
    await reg(phone_number=None, device_type="PDA")(epmm)
    assert mock.count() == 1


async def test_reason_of_512_is_accepted(mock: MockServer, epmm: EpmmClient) -> None:
    mock.reply("PUT", b.jettison(b.action_tree("ok")))
    await epmm.devices.lock(b.UUID1, reason="x" * 512)
    assert mock.count() == 1


@pytest.mark.parametrize(
    "text", ["38AA3C62BFAD", "38:aa:3c:62:bf:ad", "38-AA-3C-62-BF-AD", "38aa.3c62.bfad"]
)
def test_mac_notations(text: str) -> None:
    assert MacAddress(text) == b.MAC


@pytest.mark.parametrize("text", ["", "38AA3C62BF", "38AA3C62BFADFF", "zz:aa:3c:62:bf:ad"])
def test_mac_rejected(text: str) -> None:
    with pytest.raises(ValidationError):
        MacAddress(text)


def test_client_options_validated() -> None:
    with pytest.raises(ValidationError):
        EpmmClient(
            "https://x.test",
            username="u",
            password="p",
            config=ClientConfig(response_format="yaml"),
        )  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        EpmmClient("https://x.test", username="", password="p")
    with pytest.raises(ValidationError):
        EpmmClient("https://x.test", username="u", password="")
    with pytest.raises(ValidationError):
        EpmmClient("https://u:p@x.test", username="u", password="p")
    with pytest.raises(ValidationError):
        EpmmClient("ftp://x.test", username="u", password="p")
