"""The API v2 query language over plain HTTP (``devices/count`` and ``devices``): every
operator, quoting and escapes, AND/OR precedence and parentheses, the switch for
left-to-right evaluation, and malformed queries. Each expected count is computed from the
fleet's SimDevice data here, never by the simulator's own evaluator."""

from __future__ import annotations

import operator as o
from collections.abc import AsyncIterator

import pytest
from sim_v2_support import count, error_text, search, stamp, total, where

from epmm_async.enums import ComplianceReason, DeviceStatus
from epmm_async.simulator import Quirks, SimDevice, Simulator


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(devices=300, seed=5) as s:
        yield s


def n(sim: Simulator, keep: object) -> int:
    return len(where(sim, keep))  # type: ignore[arg-type]


ACTIVE = DeviceStatus.ACTIVE


# ---------------------------------------------------------------------- the documented example
async def test_documented_examples(sim: Simulator) -> None:
    q = '"common.status"="ACTIVE" AND "common.compliant"=false'
    assert await total(sim, q) == n(sim, lambda d: d.status == ACTIVE and d.compliance != 0)
    ip = where(sim, lambda d: not d.details_empty)[0]
    status, body = await search(
        sim, query='common.ip_address "contains" 10.0.', fields="common.uuid", limit="300"
    )
    assert status == 200 and body["totalCount"] == n(sim, lambda d: not d.details_empty)
    assert ip.uuid in [r["common.uuid"] for r in body["results"]]


async def test_empty_query_selects_every_device(sim: Simulator) -> None:
    assert await total(sim, "") == 300
    assert await total(sim, "   ") == 300


# ---------------------------------------------------------------------- each operator
async def test_equals_is_case_insensitive(sim: Simulator) -> None:
    active = n(sim, lambda d: d.status == ACTIVE)
    for q in ('"common.status"="ACTIVE"', '"common.status"="active"', "common.status = AcTiVe"):
        assert await total(sim, q) == active, q
    user = next(iter(sim.fleet.devices.values())).user
    mine = n(sim, lambda d: d.user.email == user.email)
    assert await total(sim, f'user.email_address = "{user.email.upper()}"') == mine


async def test_not_equals(sim: Simulator) -> None:
    assert await total(sim, '"common.status" != "ACTIVE"') == n(sim, lambda d: d.status != ACTIVE)
    assert await total(sim, "common.compliant != true") == n(sim, lambda d: d.compliance != 0)


@pytest.mark.parametrize(
    ("op", "keep"),
    [
        ("<", lambda d, v: d.id < v),
        ("<=", lambda d, v: d.id <= v),
        (">", lambda d, v: d.id > v),
        (">=", lambda d, v: d.id >= v),
        ("=", lambda d, v: d.id == v),
        ("!=", lambda d, v: d.id != v),
    ],
)
async def test_number_comparisons(sim: Simulator, op: str, keep: object) -> None:
    for value in (1, 150, 300):
        expected = n(sim, lambda d, v=value: keep(d, v))  # type: ignore[operator]
        assert await total(sim, f"common.id {op} {value}") == expected
        assert await total(sim, f'"common.id"{op}{value}') == expected  # no spaces


@pytest.mark.parametrize("op", ["<", "<=", ">", ">=", "=", "!="])
async def test_timestamp_comparisons_take_the_timestamp_text(sim: Simulator, op: str) -> None:
    pivot = sorted(d.last_connected_at for d in sim.fleet.devices.values())[150]
    text = stamp(pivot)
    fn = {"<": o.lt, "<=": o.le, ">": o.gt, ">=": o.ge, "=": o.eq, "!=": o.ne}[op]
    expected = n(sim, lambda d: fn(d.last_connected_at, pivot))
    assert await total(sim, f'"common.last_connected_at" {op} "{text}"') == expected
    # the same instant written without milliseconds or with an offset
    same = text.replace(".000Z", "+00:00")
    assert await total(sim, f'"common.last_connected_at" {op} "{same}"') == expected


async def test_text_operators_on_numbers_and_timestamps_use_the_text(sim: Simulator) -> None:
    month = stamp(next(iter(sim.fleet.devices.values())).last_connected_at)[:7]
    expected = n(sim, lambda d: stamp(d.last_connected_at).startswith(month))
    assert await total(sim, f'common.last_connected_at "starts with" "{month}"') == expected
    assert await total(sim, f'common.last_connected_at "contains" "{month}"') == expected
    assert await total(sim, 'common.id "contains" 12') == n(sim, lambda d: "12" in str(d.id))
    assert await total(sim, 'common.id "starts with" "2"') == n(
        sim, lambda d: str(d.id).startswith("2")
    )


async def test_string_ordering_is_case_insensitive(sim: Simulator) -> None:
    expected = n(sim, lambda d: d.user.principal.casefold() < "m")
    assert await total(sim, 'user.user_id < "M"') == expected
    assert await total(sim, 'user.user_id < "m"') == expected


async def test_contains_does_not_contain_starts_with(sim: Simulator) -> None:
    has = n(sim, lambda d: "son" in d.user.email.lower())
    assert await total(sim, 'user.email_address "contains" "SON"') == has
    assert await total(sim, 'user.email_address "does not contain" "son"') == 300 - has
    starts = n(sim, lambda d: d.user.principal.lower().startswith("j"))
    assert await total(sim, '"user.user_id" "starts with" "J"') == starts
    # operator words in any case and spacing
    assert await total(sim, 'user.email_address "CONTAINS" "son"') == has
    assert await total(sim, 'user.email_address "Does  Not Contain" "son"') == 300 - has


async def test_is_empty_and_is_not_empty(sim: Simulator) -> None:
    lacking = n(sim, lambda d: not d.details.get("imei"))
    assert lacking and lacking < 300
    assert await total(sim, '"common.imei" "is empty"') == lacking
    assert await total(sim, 'common.imei "is not empty"') == 300 - lacking
    compliant = n(sim, lambda d: d.compliance == 0)
    assert await total(sim, 'common.noncompliance_reasons "is empty"') == compliant


async def test_an_absent_field_matches_only_negative_operators(sim: Simulator) -> None:
    lacking = n(sim, lambda d: not d.details.get("imei"))
    assert await total(sim, 'common.imei = "x"') == 0
    assert await total(sim, 'common.imei != "x"') == 300
    assert await total(sim, 'common.imei "does not contain" "35"') == lacking + n(
        sim, lambda d: bool(d.details.get("imei")) and "35" not in d.details["imei"]
    )


async def test_booleans_bare_numbers_bare(sim: Simulator) -> None:
    q = n(sim, lambda d: d.quarantined != 0)
    assert await total(sim, "common.quarantined = true") == q
    assert await total(sim, "common.quarantined = TRUE") == q
    assert await total(sim, '"common.quarantined"="true"') == q  # quoted text accepted too
    assert await total(sim, "common.employee_owned=false") == n(sim, lambda d: not d.employee_owned)
    assert await total(sim, "common.id = 7") == 1 and await total(sim, "common.id = 7.0") == 1


def _reasons(d: SimDevice) -> list[str]:
    return [str(r.name) for r in ComplianceReason(d.compliance).reasons]


async def test_array_field(sim: Simulator) -> None:
    name = next(r for d in sim.fleet.devices.values() for r in _reasons(d))
    expected = n(sim, lambda d: name in _reasons(d))
    assert expected
    assert await total(sim, f'common.noncompliance_reasons = "{name}"') == expected
    assert await total(sim, f'common.noncompliance_reasons = "{name.lower()}"') == expected
    assert await total(sim, f'common.noncompliance_reasons != "{name}"') == 300 - expected
    part = name[:4].lower()
    has_part = n(sim, lambda d: any(part in r.lower() for r in _reasons(d)))
    assert await total(sim, f'common.noncompliance_reasons "contains" "{part}"') == has_part
    assert await total(sim, f'common.noncompliance_reasons "does not contain" "{part}"') == (
        300 - has_part
    )


# ---------------------------------------------------------------------- quoting and escapes
async def test_field_names_quoted_or_bare(sim: Simulator) -> None:
    ios = n(sim, lambda d: d.kind == "ios")
    for q in ('"common.platform"="iOS"', 'common.platform="iOS"', "common.platform=iOS"):
        assert await total(sim, q) == ios, q


async def test_escaped_quote_and_backslash_in_a_value(sim: Simulator) -> None:
    d = where(sim, lambda d: d.model != "")[0]
    d.model = 'Pixel "8" \\ Pro'
    assert await total(sim, r'common.model = "Pixel \"8\" \\ Pro"') == 1
    assert await total(sim, r'common.model "contains" "\"8\""') == 1
    assert await total(sim, r'common.model "contains" "\\"') == 1
    _status, body = await search(
        sim, query=r'common.model = "Pixel \"8\" \\ Pro"', fields="common.model"
    )
    assert body["results"] == [{"common.model": 'Pixel "8" \\ Pro'}]
    # a backslash before any other character is kept as written
    d.model = r"C:\tmp"
    assert await total(sim, r'common.model = "C:\tmp"') == 1


async def test_values_with_spaces_parentheses_and_keywords(sim: Simulator) -> None:
    d = where(sim, lambda d: d.model != "")[0]
    d.model = "Model (AND) OR x"
    assert await total(sim, 'common.model = "Model (AND) OR x"') == 1


# ---------------------------------------------------------------------- precedence
def _sets(sim: Simulator) -> tuple[str, str, str, object, object, object]:
    a = 'common.platform = "iOS"'
    b = 'common.platform = "Android"'
    c = "common.employee_owned = true"
    return (
        a,
        b,
        c,
        lambda d: d.kind == "ios",
        lambda d: d.kind == "android",
        lambda d: d.employee_owned,
    )


async def test_and_binds_tighter_than_or(sim: Simulator) -> None:
    a, b, c, fa, fb, fc = _sets(sim)
    tight = n(sim, lambda d: fa(d) or (fb(d) and fc(d)))  # type: ignore[operator]
    loose = n(sim, lambda d: (fa(d) or fb(d)) and fc(d))  # type: ignore[operator]
    assert tight != loose
    assert await total(sim, f"{a} OR {b} AND {c}") == tight
    assert await total(sim, f"{a} or {b} and {c}") == tight  # keywords in any case
    assert await total(sim, f"({a} OR {b}) AND {c}") == loose
    assert await total(sim, f"{c} AND {b} OR {a}") == tight


async def test_left_to_right_switch(sim: Simulator) -> None:
    a, b, c, fa, fb, fc = _sets(sim)
    sim.set_quirks(Quirks(v2_left_to_right=True))
    loose = n(sim, lambda d: (fa(d) or fb(d)) and fc(d))  # type: ignore[operator]
    assert await total(sim, f"{a} OR {b} AND {c}") == loose
    assert await total(sim, f"{a} OR ({b} AND {c})") == n(
        sim,
        lambda d: fa(d) or (fb(d) and fc(d)),  # type: ignore[operator]
    )
    # C AND B OR A, left to right: (C AND B) OR A
    assert await total(sim, f"{c} AND {b} OR {a}") == n(
        sim,
        lambda d: (fc(d) and fb(d)) or fa(d),  # type: ignore[operator]
    )


async def test_nested_parentheses(sim: Simulator) -> None:
    q = (
        '((common.platform = "iOS" OR common.platform = "Android") AND '
        '(common.status = "ACTIVE" OR (common.status = "LOST" AND common.compliant = false)))'
    )
    expected = n(
        sim,
        lambda d: (
            d.kind in ("ios", "android")
            and (d.status == ACTIVE or (d.status == DeviceStatus.LOST and d.compliance != 0))
        ),
    )
    assert await total(sim, q) == expected


# ---------------------------------------------------------------------- malformed queries
@pytest.mark.parametrize(
    "query",
    [
        '"common.status"="ACTIVE',  # unterminated string
        '"common.status"=',  # no value
        '"common.status"',  # no operator
        '"common.status" "like" "A"',  # not an operator
        '"common.status" ~ "A"',  # a stray character
        'common.status ! "A"',
        "AND common.id = 1",
        "common.id = 1 AND",
        "common.id = 1 OR OR common.id = 2",
        "(common.id = 1",
        "common.id = 1)",
        "()",
        "common.id = 1 common.id = 2",  # no connective
        '"common.nonsense" = "x"',  # unknown field
        "common.compliant < true",  # ordering a boolean
        'common.compliant "contains" "t"',
        "common.compliant = maybe",  # not a boolean
        "common.id = abc",  # not a number
        'common.last_connected_at > "yesterday"',  # not a timestamp
        'common.noncompliance_reasons < "A"',  # ordering an array
        '"common.imei" "is empty" "x"',  # a value after is empty
    ],
)
async def test_malformed_query_is_400(sim: Simulator, query: str) -> None:
    status, body = await count(sim, query)
    assert status == 400, query
    assert "query" in error_text(body).lower()
    status, body = await search(sim, query=query, fields="common.uuid")
    assert status == 400


async def test_query_length_cap(sim: Simulator) -> None:
    q = "common.id > 0" + " AND common.id > 0" * 20
    assert len(q) > 255
    status, body = await count(sim, q)
    assert status == 400 and "255" in error_text(body)
    sim.set_quirks(Quirks(v2_max_query_length=None))
    assert await total(sim, q) == 300
    sim.set_quirks(Quirks(v2_max_query_length=10))
    assert (await count(sim, "common.id > 0"))[0] == 400


async def test_numbers_against_timestamps_are_epoch_milliseconds(sim: Simulator) -> None:
    pivot = sorted(d.last_connected_at for d in sim.fleet.devices.values())[100]
    expected = n(sim, lambda d: d.last_connected_at < pivot)
    assert await total(sim, f"common.last_connected_at < {pivot * 1000}") == expected


async def test_retired_and_default_label_criteria(sim: Simulator) -> None:
    retired = n(sim, lambda d: d.status == DeviceStatus.RETIRED)
    assert await total(sim, '"common.retired"=true') == retired
    counts = sim.fleet.label_counts()
    for label in sim.fleet.labels:
        if not label.static:
            assert await total(sim, label.query) == counts[label.id], label.name
