"""Text that cannot be encoded (a lone surrogate) is a ValidationError before anything is sent.

Python decodes undecodable bytes of command-line arguments and file names to lone surrogates
("\\udcff"); such a string has no UTF-8 form, and building a request with it used to raise
``UnicodeEncodeError`` (and a fan-out, an ``ExceptionGroup`` with no outcomes).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import bodies as b
import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st
from loopback import serve

from epmm_async import EpmmClient, ValidationError
from epmm_async.validation import validate_encodable, validate_reason, validate_text

BAD = "lost \udcff phone"  # position 5
SURROGATES = ["\udcff", "\ud800", "\udfff", "a\udc80", "\ud83d"]  # the last: half an emoji


# -- the validators --------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", "plain", "Zürich 日本 🚀", "a\u0000b", "\uffff"])
def test_encodable_text_passes(value: str) -> None:
    assert validate_encodable(value, what="user id") == value


@pytest.mark.parametrize("value", SURROGATES)
def test_lone_surrogate_is_a_validation_error(value: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate_encodable(value, what="user id")
    message = str(info.value)
    assert message.startswith("user id ")
    assert f"position {len(value) - 1}" in message
    assert f"U+{ord(value[-1]):04X}" in message
    assert value[-1] not in message  # the raw text is never echoed
    message.encode("utf-8")  # and the message itself can be printed anywhere


def test_error_names_parameter_and_position() -> None:
    with pytest.raises(ValidationError, match=r"^subject .* at position 5 \(U\+DCFF"):
        validate_encodable(BAD, what="subject")


@given(st.text())
def test_encodable_exactly_when_utf8_encodes(value: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        with pytest.raises(ValidationError, match=f"at position {exc.start} "):
            validate_encodable(value, what="message")
    else:
        assert validate_encodable(value, what="message") is value


def test_validate_text_and_reason_check_encoding() -> None:
    with pytest.raises(ValidationError, match=r"^label name .*position 5"):
        validate_text(BAD, what="label name")
    with pytest.raises(ValidationError, match=r"^lock reason .*position 5"):
        validate_reason(BAD, required=True, action="lock")
    with pytest.raises(ValidationError, match=r"^wipe reason "):
        validate_reason("\udcff", required=False, action="wipe")
    assert validate_reason("Zürich", required=True, action="lock") == "Zürich"


# -- through the client: refused before anything leaves ------------------------------------


class Counter:
    def __init__(self) -> None:
        self.received: list[str] = []


@pytest.fixture
async def counted() -> AsyncIterator[tuple[EpmmClient, Counter]]:
    """A client on a loopback server that counts every request it receives."""
    counter = Counter()

    async def handler(request: web.Request) -> web.StreamResponse:
        counter.received.append(f"{request.method} {request.raw_path}")
        return web.json_response(b.action_tree("ok"))

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    async with serve(app) as url, EpmmClient(url, username="u", password="p") as epmm:
        yield epmm, counter


def _register(**overrides: Any) -> Callable[[EpmmClient], Awaitable[object]]:
    kwargs: dict[str, Any] = {
        "user_id": "jdoe",
        "platform": "A",
        "country_code": 1,
        "phone_number": "4085551212",
        "operator": "AT&T",
        "user_first_name": "Joe",
        "user_last_name": "Doe",
        "user_email_address": "jdoe@example.com",
    }
    kwargs.update(overrides)
    return lambda epmm: epmm.devices.register(**kwargs)


CALLS: dict[str, Callable[[EpmmClient], Awaitable[object]]] = {
    "lock reason": lambda e: e.devices.lock(b.UUID1, reason=BAD),
    "unlock reason": lambda e: e.devices.unlock(b.UUID1, reason=BAD),
    "wipe reason": lambda e: e.devices.wipe(b.UUID1, reason=BAD),
    "retire reason": lambda e: e.devices.retire(b.UUID1, reason=BAD),
    "user id": lambda e: e.devices.by_user(BAD),
    "label name": lambda e: e.devices.by_label(BAD),
    "phone number": lambda e: e.devices.by_phone("4085551212", BAD),
    "message": lambda e: e.bulk.send_message([b.UUID1], message=BAD, mode="sms"),
    "subject": lambda e: e.bulk.send_message(
        [b.UUID1], message="hi", mode="email", subject=BAD
    ),
    "profile id": lambda e: e.devices.repush_profile(b.UUID1, profile_id="1\udcff"),
    "register user_id": _register(user_id=BAD),
    "register phone_number": _register(phone_number="408\udcff"),
    "register operator": _register(operator=BAD),
    "register user_first_name": _register(user_first_name=BAD),
    "register user_last_name": _register(user_last_name=BAD),
    "register user_email_address": _register(user_email_address="j\udcff@example.com"),
    "fan-out reason": lambda e: e.ops.fan_out("lock", [b.UUID1, b.UUID2], reason=BAD),
    "fan-out wipe reason": lambda e: e.ops.fan_out("wipe", [b.UUID1], reason=BAD),
    "ops message": lambda e: e.ops.send_message([b.UUID1], message=BAD, mode="pns"),
}


@pytest.mark.parametrize("name", list(CALLS))
async def test_nothing_sent_for_unencodable_text(
    counted: tuple[EpmmClient, Counter], name: str
) -> None:
    epmm, counter = counted
    with pytest.raises(ValidationError) as info:
        await CALLS[name](epmm)
    assert not isinstance(info.value.__cause__, UnicodeError)
    assert "\udcff" not in str(info.value)
    assert counter.received == []
    # The client still works afterwards.
    await epmm.devices.lock(b.UUID1, reason="lost")
    assert counter.received == [f"PUT /api/v1/dm/devices/lock/{b.UUID1}?Reason=lost"]


async def test_encodable_unicode_still_sent(counted: tuple[EpmmClient, Counter]) -> None:
    epmm, counter = counted
    await epmm.devices.lock(b.UUID1, reason="perdu à Zürich 🚀")
    assert counter.received == [
        f"PUT /api/v1/dm/devices/lock/{b.UUID1}"
        "?Reason=perdu%20%C3%A0%20Z%C3%BCrich%20%F0%9F%9A%80"
    ]
