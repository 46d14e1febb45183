"""The plain-answer fast path of ``decode_action`` reads every body as the general route does.

``decode_action`` reads the usual JSON answer (``{"messages": {"message": ...},
"deviceUuid": ...}``, nothing else) with a small struct and sends every other body down the
general route. The two must never disagree: for each body, the same ``ActionResult`` or the
same ``DecodeError``. Bodies are generated around the plain shape (whitespace, blanks, nulls,
numbers, lists, every message key, unknown and duplicate keys, a root element, passcodes,
malformed bytes), so a fast path that read any of them differently fails here.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from epmm_async import DecodeError
from epmm_async.core import decode
from epmm_async.core.decode_routes import ROOT_ELEMENT
from epmm_async.models import ActionResult

SETTINGS = settings(max_examples=600, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])

TEXTS = st.one_of(
    st.sampled_from(["", " ", "Device is locked successfully.", "  padded  ", "\t\n",
                     "727afb16-327f-40cf-bf34-fd2fee389193", "é ünïcode", "\u2028"]),
    st.text(max_size=12),
)
SCALARS = st.one_of(TEXTS, st.none(), st.integers(-5, 10**12), st.booleans(),
                    st.floats(allow_nan=False, allow_infinity=False))
MESSAGE_KEYS = st.sampled_from(["message", "uuid", "macAddress", "deviceWiFiMacAddress",
                                "#text", "localizedMessage", "messageKey", "other", ""])
MESSAGES = st.one_of(
    st.none(),
    TEXTS,
    st.dictionaries(MESSAGE_KEYS, st.one_of(TEXTS, st.lists(TEXTS, max_size=2), SCALARS),
                    max_size=3),
    st.lists(st.one_of(TEXTS, st.dictionaries(MESSAGE_KEYS, TEXTS, max_size=2)), max_size=2),
)
FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "messages": MESSAGES,
        "deviceUuid": SCALARS,
        "unlockpasscode": SCALARS,
        "passcodes": st.just({"passcode": {"type": "DEVICE", "value": "1234"}}),
        "unknownField": SCALARS,
    },
)


def _json(obj: object, wrap: bool) -> bytes:
    return json.dumps({ROOT_ELEMENT: obj} if wrap else obj).encode()


def _both(body: bytes) -> tuple[ActionResult | str, ActionResult | str]:
    def run(fn: object) -> ActionResult | str:
        try:
            return fn(body, "json")  # type: ignore[operator, no-any-return]
        except DecodeError as exc:
            return f"DecodeError: {exc}"
    return run(decode.decode_action), run(decode._decode_action_answer)


@SETTINGS
@given(FIELDS, st.booleans())
def test_fast_path_and_general_route_agree_on_generated_answers(
    fields: dict[str, object], wrap: bool
) -> None:
    fast, general = _both(_json(fields, wrap))
    assert fast == general


@SETTINGS
@given(FIELDS, st.integers(0, 200), st.binary(min_size=1, max_size=3))
def test_fast_path_and_general_route_agree_on_damaged_bodies(
    fields: dict[str, object], cut: int, junk: bytes
) -> None:
    body = _json(fields, False)
    for damaged in (body[:cut], body[:cut] + junk + body[cut:], body.replace(b'"', b"", 1)):
        fast, general = _both(damaged)
        assert fast == general


@pytest.mark.parametrize(
    "body",
    [
        b'{"messages":{"message":"Device is locked successfully."},'
        b'"deviceUuid":"727afb16-327f-40cf-bf34-fd2fee389193"}',
        b'{"messages":{"message":"a"},"messages":{"message":"b"}}',  # a repeated key
        b'{"deviceUuid":"  x  "}',
        b"{}",
        b'{"messages":{}}',
        b'{"messages":null,"deviceUuid":""}',
        b'{"messages":{"message":"a"},"deviceUuid":"u","extra":1}',
    ],
)
def test_fast_path_and_general_route_agree_on_known_shapes(body: bytes) -> None:
    fast, general = _both(body)
    assert fast == general


def test_the_plain_answer_takes_the_fast_path() -> None:
    # The point of the fast path: the usual answer never reaches the general route.
    body = (b'{"messages":{"message":"Device is locked successfully."},'
            b'"deviceUuid":"727afb16-327f-40cf-bf34-fd2fee389193"}')
    original = decode._decode_action_answer
    calls: list[bytes] = []

    def counting(b: bytes, fmt: decode.ResponseFormat) -> ActionResult:
        calls.append(b)
        return original(b, fmt)

    decode._decode_action_answer = counting  # type: ignore[assignment]
    try:
        result = decode.decode_action(body, "json")
        decode.decode_action(b'{"messages":{"message":"x"},"deviceUuid":"u","extra":1}', "json")
    finally:
        decode._decode_action_answer = original  # type: ignore[assignment]
    assert result.device_uuid == "727afb16-327f-40cf-bf34-fd2fee389193"
    assert result.messages == ("Device is locked successfully.",)
    assert len(calls) == 1  # only the body with an unknown field went the general way
