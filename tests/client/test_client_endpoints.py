"""Every endpoint method, in both response formats, with the request it sends checked."""

from __future__ import annotations

import base64
import datetime as dt

import bodies as b
import pytest
from client_support import ACCEPT, PASSWORD, USER, MockServer

from epmm_async import (
    BulkAction,
    BulkLimits,
    ComplianceReason,
    Device,
    DeviceNotFound,
    DeviceStatus,
    EpmmClient,
    LookupResult,
    MacAddress,
    NotFoundError,
    PasscodeMeaning,
    ProfileType,
    UserSource,
    ValidationError,
)

PREFIX = "/api/v1/dm"


def check_headers(kwargs: dict[str, object], fmt: str) -> None:
    headers = kwargs["headers"]
    assert headers["Accept"] == ACCEPT[fmt]  # type: ignore[index]
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    assert headers["Authorization"] == f"Basic {token}"  # type: ignore[index]


# -- device list and paging -----------------------------------------------------------------


async def test_list_one_device_as_object(mock: MockServer, epmm: EpmmClient, fmt: str) -> None:
    mock.reply("GET", b.render(b.devices_tree(b.device_tree()), fmt), fmt=fmt)
    devices = await epmm.devices.list(status="lost")
    assert [d.uuid for d in devices] == [b.UUID1]
    method, url, kwargs = mock.only_call()
    assert method == "GET"
    assert url.path == f"{PREFIX}/devices"
    assert url.query["status"] == "LOST"
    assert url.query["offset"] == "0"
    assert int(url.query["limit"]) >= 1
    check_headers(kwargs, fmt)


async def test_list_no_status_sends_no_status(
    mock: MockServer, epmm: EpmmClient, fmt: str
) -> None:
    mock.reply("GET", b.render(b.devices_tree(b.device_tree(), b.device_tree(b.UUID2)), fmt),
               fmt=fmt)
    devices = await epmm.devices.list()
    assert [d.uuid for d in devices] == [b.UUID1, b.UUID2]
    _, url, _ = mock.only_call()
    assert "status" not in url.query


async def test_list_404_empty_is_empty_list(mock: MockServer, epmm: EpmmClient, fmt: str) -> None:
    mock.reply("GET", b.render(b.NO_DATA_TREE, fmt), fmt=fmt, status=404)
    assert await epmm.devices.list() == []


async def test_iter_pages_until_an_empty_page(mock: MockServer, epmm: EpmmClient, fmt: str) -> None:
    # totalCount says more: a short page may be a server-side cap, so the next page is asked
    # for, and the 404 "no data" answer ends the listing.
    uuids = [f"00000000-0000-0000-0000-{i:012d}" for i in range(5)]
    trees = [b.device_tree(u, ident=i) for i, u in enumerate(uuids)]
    mock.reply("GET", b.render(b.devices_tree(*trees[0:2], total=99), fmt), fmt=fmt)
    mock.reply("GET", b.render(b.devices_tree(*trees[2:4], total=99), fmt), fmt=fmt)
    mock.reply("GET", b.render(b.devices_tree(trees[4], total=99), fmt), fmt=fmt)
    mock.reply("GET", b.render(b.NO_DATA_TREE, fmt), fmt=fmt, status=404)
    got = [d.uuid async for d in epmm.devices.iter("ACTIVE", page_size=2)]
    assert got == uuids
    offsets = sorted(int(url.query["offset"]) for _, url, _ in mock.calls())
    assert offsets == [0, 2, 4, 5]
    assert {url.query["limit"] for _, url, _ in mock.calls()} == {"2"}


async def test_iter_short_final_page_ends(
    mock: MockServer, epmm: EpmmClient, fmt: str
) -> None:
    trees = [b.device_tree(b.UUID1), b.device_tree(b.UUID2)]
    mock.reply("GET", b.render(b.devices_tree(*trees[:1], total=None), fmt), fmt=fmt)
    got = [d.uuid async for d in epmm.devices.iter(page_size=2)]
    assert got == [b.UUID1]
    assert mock.count() == 1


async def test_iter_stops_at_total_count(mock: MockServer, epmm: EpmmClient, fmt: str) -> None:
    trees = [b.device_tree(b.UUID1), b.device_tree(b.UUID2)]
    mock.reply("GET", b.render(b.devices_tree(*trees, total=2), fmt), fmt=fmt)
    got = [d.uuid async for d in epmm.devices.iter(page_size=2)]
    assert got == [b.UUID1, b.UUID2]
    assert mock.count() == 1  # a full page, but totalCount says there is no more


async def test_iter_stops_on_404_after_full_page(
    mock: MockServer, epmm: EpmmClient, fmt: str
) -> None:
    trees = [b.device_tree(b.UUID1), b.device_tree(b.UUID2)]
    mock.reply("GET", b.render(b.devices_tree(*trees, total=4), fmt), fmt=fmt)
    mock.reply("GET", b.render(b.NO_DATA_TREE, fmt), fmt=fmt, status=404)
    got = [d.uuid async for d in epmm.devices.iter(page_size=2)]
    assert got == [b.UUID1, b.UUID2]
    assert mock.count() == 2


# -- one device ------------------------------------------------------------------------------


async def test_get_device(mock: MockServer, epmm: EpmmClient, fmt: str) -> None:
    mock.reply("GET", b.render(b.single_device_tree(b.device_tree()), fmt), fmt=fmt)
    device = await epmm.devices.get(b.UUID1.upper())
    assert device.uuid == b.UUID1
    assert device.user_uuid == b.USER_UUID
    method, url, kwargs = mock.only_call()
    assert (method, url.path) == ("GET", f"{PREFIX}/devices/{b.UUID1}")
    check_headers(kwargs, fmt)


async def test_get_device_404_with_body_is_device_not_found(
    mock: MockServer, epmm: EpmmClient, fmt: str
) -> None:
    mock.reply("GET", b.render(b.NO_DATA_TREE, fmt), fmt=fmt, status=404)
    with pytest.raises(DeviceNotFound) as info:
        await epmm.devices.get(b.UUID1)
    assert info.value.status == 404
    assert info.value.messages == ("No devices found.",)
    assert info.value.path == f"/devices/{b.UUID1}"
    assert isinstance(info.value, NotFoundError)


# -- searches --------------------------------------------------------------------------------


async def test_by_phone_several_numbers(mock: MockServer, epmm: EpmmClient, fmt: str) -> None:
    tree = b.devices_tree(b.device_tree(phoneNumber="6505551212"))
    mock.reply("GET", b.render(tree, fmt), fmt=fmt)
    devices = await epmm.devices.by_phone("6505551212", "+1 4155551212")
    assert devices[0].phone_number == "6505551212"
    _, url, kwargs = mock.only_call()
    assert url.raw_path == f"{PREFIX}/phones/6505551212,%2B1%204155551212"
    check_headers(kwargs, fmt)


async def test_by_phone_numeric_phone_in_loose_json(mock: MockServer) -> None:
    # A numeric-looking value may arrive as a JSON number; it stays text.
    mock.reply("GET", b.loose_json(b.devices_tree(b.device_tree(phoneNumber="4085551212"))))
    async with EpmmClient("https://epmm.example.test", username=USER, password=PASSWORD) as c:
        devices = await c.devices.by_phone("4085551212")
    assert devices[0].phone_number == "4085551212"
    assert devices[0].status_code == 97


@pytest.mark.parametrize(
    ("call", "path"),
    [
        (lambda e: e.devices.by_user("jdoe"), "/users/jdoe"),
        (lambda e: e.devices.by_label("android"), "/labels/android"),
        (lambda e: e.devices.by_mac("38:aa:3c:62:bf:ad"), "/devices/mac/38AA3C62BFAD"),
        (lambda e: e.devices.by_mac(MacAddress("38-AA-3C-62-BF-AD")), "/devices/mac/38AA3C62BFAD"),
        (lambda e: e.devices.by_phone("4155551212"), "/phones/4155551212"),
    ],
)
async def test_searches(mock: MockServer, epmm: EpmmClient, fmt: str, call, path) -> None:  # type: ignore[no-untyped-def]
    tree = b.devices_tree(b.device_tree(), b.device_tree(b.UUID2, ident=3))
    mock.reply("GET", b.render(tree, fmt), fmt=fmt)
    devices = await call(epmm)
    assert [d.uuid for d in devices] == [b.UUID1, b.UUID2]
    method, url, kwargs = mock.only_call()
    assert (method, url.raw_path) == ("GET", PREFIX + path)
    check_headers(kwargs, fmt)


@pytest.mark.parametrize(
    "call",
    [
        lambda e: e.devices.by_user("nobody"),
        lambda e: e.devices.by_label("empty"),
        lambda e: e.devices.by_mac("00237696635F"),
        lambda e: e.devices.by_phone("1"),
    ],
)
async def test_search_404_api_body_is_empty(mock: MockServer, epmm: EpmmClient, fmt: str, call) -> None:  # type: ignore[no-untyped-def]  # noqa: E501
    mock.reply("GET", b.render(b.NO_DATA_TREE, fmt), fmt=fmt, status=404)
    assert await call(epmm) == []


async def test_search_404_html_is_not_found(mock: MockServer, epmm: EpmmClient, fmt: str) -> None:
    mock.reply("GET", b.HTML_404, status=404, content_type="text/html")
    with pytest.raises(NotFoundError) as info:
        await epmm.devices.by_user("jdoe")
    assert not isinstance(info.value, DeviceNotFound)
    assert info.value.status == 404


# -- registration ----------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["SUCESS", "SUCCESS"])
async def test_register(mock: MockServer, epmm: EpmmClient, fmt: str, status: str) -> None:
    mock.reply("PUT", b.render(b.registration_tree(status), fmt), fmt=fmt)
    reg = await epmm.devices.register(
        user_id="jdoe",
        platform="A",
        country_code=1,
        phone_number="4155551212",
        user_first_name="Joe",
        user_last_name="Doe",
        user_email_address="jdoe@example.com",
        notify_user=True,
        operator="Verizon",
    )
    assert reg.succeeded
    assert reg.status == status
    assert reg.device_uuid == "caba40e7-f56b-44aa-ac70-79e32e91adf8"
    assert reg.passcode == "63460"
    assert reg.passcode_ttl_hours == 120
    assert reg.registration_url == "http://app16.example.test:8080/v/75b13"
    assert reg.phone_number == "14085551212"
    method, url, kwargs = mock.only_call()
    assert (method, url.path) == ("PUT", f"{PREFIX}/register")
    q = url.query
    assert q["phoneNumber"] == "4155551212"
    assert q["userId"] == "jdoe"
    assert q["platform"] == "A"
    assert q["countryCode"] == "1"
    assert "countrycode" not in q  # sent once, as the table spells it (DESIGN.md)
    assert q["userEmailAddress"] == "jdoe@example.com"
    assert q["notifyUser"] == "true"
    assert q["operator"] == "Verizon"
    assert q["importUserFromLdap"] == "false"
    check_headers(kwargs, fmt)


async def test_register_pda_from_ldap(mock: MockServer, epmm: EpmmClient, fmt: str) -> None:
    mock.reply("PUT", b.render(b.registration_tree("FAILED"), fmt), fmt=fmt)
    reg = await epmm.devices.register(
        user_id="jdoe", platform="iOS", country_code="33", device_type="PDA",
        import_user_from_ldap=True,
    )
    assert not reg.succeeded
    _, url, _ = mock.only_call()
    assert url.query["phoneNumber"] == "PDA"
    assert url.query["deviceType"] == "PDA"
    assert url.query["platform"] == "I"
    assert url.query["importUserFromLdap"] == "true"


# -- per-device actions ----------------------------------------------------------------------

DEVICE_FORMS = {
    "uuid": (b.UUID1, b.UUID1),
    "mac": (MacAddress("38:aa:3c:62:bf:ad"), f"mac/{b.MAC}"),
    "device": (Device(uuid=b.UUID2), b.UUID2),
}


@pytest.mark.parametrize("form", list(DEVICE_FORMS))
@pytest.mark.parametrize(
    ("action", "method", "reason"),
    [
        ("retire", "PUT", "User replaced device"),
        ("lock", "PUT", "User lost device"),
        ("wipe", "PUT", "Device stolen"),
        ("unlock", "GET", "User forgot password"),
        ("wakeup", "GET", None),
    ],
)
async def test_device_actions(
    mock: MockServer, epmm: EpmmClient, fmt: str, form: str, action: str, method: str,
    reason: str | None,
) -> None:
    device, segment = DEVICE_FORMS[form]
    mock.reply(method, b.render(b.action_tree(f"Device {action} done."), fmt), fmt=fmt)
    call = getattr(epmm.devices, action)
    result = await (call(device, reason=reason) if reason else call(device))
    assert result.messages == (f"Device {action} done.",)
    assert result.device_uuid == b.UUID1
    sent_method, url, kwargs = mock.only_call()
    assert sent_method == method
    assert url.raw_path == f"{PREFIX}/devices/{action}/{segment}"
    if reason:
        assert url.query.getall("Reason") == [reason]
        assert "%20" in url.raw_query_string or "+" in url.raw_query_string
    else:
        assert not url.query
    check_headers(kwargs, fmt)


async def test_retire_without_reason(mock: MockServer, epmm: EpmmClient, fmt: str) -> None:
    mock.reply("PUT", b.render(b.action_tree("Device is retired successfully."), fmt), fmt=fmt)
    await epmm.devices.retire(b.UUID1)
    _, url, _ = mock.only_call()
    assert "Reason" not in url.query


async def test_action_404_is_device_not_found(
    mock: MockServer, epmm: EpmmClient, fmt: str
) -> None:
    mock.reply("PUT", b.render(b.NO_DATA_TREE, fmt), fmt=fmt, status=404)
    with pytest.raises(DeviceNotFound):
        await epmm.devices.lock(b.UUID1, reason="x")


async def test_unlock_passcodes(mock: MockServer, epmm: EpmmClient, fmt: str) -> None:
    mock.reply("GET", b.render(b.unlock_tree(), fmt), fmt=fmt)
    result = await epmm.devices.unlock(b.UUID1, reason="forgot")
    assert len(result.passcodes) == 1
    assert result.passcodes[0].value == "6910"
    assert result.passcodes[0].meaning is PasscodeMeaning.PASSCODE
    assert result.messages == ("1 passcode(s) sent.",)


# -- locate, roaming, profiles ---------------------------------------------------------------


@pytest.mark.parametrize("form", list(DEVICE_FORMS))
@pytest.mark.parametrize("now", [False, True])
async def test_locate(
    mock: MockServer, epmm: EpmmClient, fmt: str, form: str, now: bool
) -> None:
    device, segment = DEVICE_FORMS[form]
    mock.reply("GET", b.render(b.locate_tree(), fmt), fmt=fmt)
    result = await epmm.devices.locate(device, locate_now=now)
    assert result.device_uuid == b.UUID1
    assert result.locate_now is False
    assert [loc.lookup_result for loc in result.locations] == [LookupResult.GPS, LookupResult.CELL]
    latest = result.latest
    assert latest is not None
    assert latest.captured_at == dt.datetime(2010, 9, 29, 23, 25, tzinfo=dt.UTC)
    assert latest.captured_at.tzinfo is not None
    cell = result.locations[1]
    assert cell.latitude == pytest.approx(37.386433)
    assert cell.radius == 1500
    assert cell.captured_at == dt.datetime.fromtimestamp(1285802663, tz=dt.UTC)
    method, url, _ = mock.only_call()
    assert (method, url.raw_path) == ("GET", f"{PREFIX}/devices/locate/{segment}")
    if now:
        assert url.query["locatenow"] == "true"
    else:
        assert "locatenow" not in url.query


@pytest.mark.parametrize(("voice", "data"), [(True, False), (False, True)])
async def test_set_roaming(
    mock: MockServer, epmm: EpmmClient, fmt: str, voice: bool, data: bool
) -> None:
    mock.reply("PUT", b.render(b.roaming_tree(), fmt), fmt=fmt)
    result = await epmm.devices.set_roaming(b.UUID1, voice=voice, data=data)
    assert result.device_uuid == b.UUID1
    assert len(result.messages) == 2
    method, url, _ = mock.only_call()
    assert (method, url.path) == ("PUT", f"{PREFIX}/devices/enableroaming/{b.UUID1}")
    assert url.query["voice"] == str(voice).lower()
    assert url.query["data"] == str(data).lower()


async def test_profiles(mock: MockServer, epmm: EpmmClient, fmt: str) -> None:
    mock.reply("GET", b.render(b.PROFILES_TREE, fmt), fmt=fmt)
    profiles = await epmm.devices.profiles(b.UUID1)
    assert [p.id for p in profiles] == [-7, -2]
    assert profiles[0].profile_type is ProfileType.POLICY
    assert profiles[1].profile_type is ProfileType.APP
    assert profiles[1].name == " System - iOS MDM"
    assert profiles[0].last_updated_at == dt.datetime(2012, 9, 11, 5, 59, 16, 739000, tzinfo=dt.UTC)
    _, url, _ = mock.only_call()
    assert url.path == f"{PREFIX}/devices/profiles/{b.UUID1}"


async def test_profiles_one_profile_and_404(mock: MockServer, epmm: EpmmClient, fmt: str) -> None:
    one = {"messages": None, "profiles": {"profile": [b.PROFILES_TREE["profiles"]["profile"][0]]}}
    mock.reply("GET", b.render(one, fmt), fmt=fmt)
    mock.reply("GET", b.render(b.NO_DATA_TREE, fmt), fmt=fmt, status=404)
    assert [p.uuid for p in await epmm.devices.profiles(b.UUID1)] == [
        "misystem-default-docs-policy"
    ]
    assert await epmm.devices.profiles(b.UUID1) == []


@pytest.mark.parametrize(
    ("kwargs", "query"),
    [
        ({}, {}),
        ({"profile_id": 3, "profile_type": "APP"}, {"id": "3", "type": "APP"}),
        ({"profile_id": "-7", "profile_type": ProfileType.POLICY}, {"id": "-7", "type": "POLICY"}),
    ],
)
async def test_repush_profile(
    mock: MockServer, epmm: EpmmClient, fmt: str, kwargs: dict[str, object],
    query: dict[str, str],
) -> None:
    mock.reply("PUT", b.render(b.action_tree("Profile re-pushed."), fmt), fmt=fmt)
    result = await epmm.devices.repush_profile(b.UUID1, **kwargs)  # type: ignore[arg-type]
    assert result.messages == ("Profile re-pushed.",)
    method, url, _ = mock.only_call()
    assert (method, url.path) == ("PUT", f"{PREFIX}/devices/repushprofile/{b.UUID1}")
    assert dict(url.query) == query


# -- reference lists -------------------------------------------------------------------------


async def test_labels(mock: MockServer, epmm: EpmmClient, fmt: str) -> None:
    mock.reply("GET", b.render(b.LABELS_TREE, fmt), fmt=fmt)
    labels = await epmm.labels.list()
    assert [(lb.id, lb.name) for lb in labels] == [(-3, "iOS"), (12, "Sales / EMEA")]
    assert labels[0].is_default and not labels[1].is_default
    assert labels[0].static_label is False and labels[1].static_label is True
    assert labels[0].device_count == 3
    assert labels[0].is_es_search is True
    assert labels[1].description is None
    method, url, kwargs = mock.only_call()
    assert (method, url.path) == ("GET", f"{PREFIX}/labels")
    check_headers(kwargs, fmt)


async def test_operators_one_as_object(mock: MockServer, epmm: EpmmClient, fmt: str) -> None:
    mock.reply("GET", b.render(b.OPERATORS_TREE, fmt), fmt=fmt)
    operators = await epmm.operators.list()
    assert len(operators) == 1
    op = operators[0]
    assert (op.id, op.carrier_short_name, op.enabled, op.country_id) == (269, "AT&T", True, 183)
    assert op.country_code == "1"
    _, url, _ = mock.only_call()
    assert url.path == f"{PREFIX}/operators"


async def test_countries(mock: MockServer, epmm: EpmmClient, fmt: str) -> None:
    mock.reply("GET", b.render(b.COUNTRIES_TREE, fmt), fmt=fmt)
    countries = await epmm.countries.list()
    us, india = countries
    assert us.iso_alpha2_code == "US"
    assert india.iso_alpha2_code == "IN"  # from the document's misspelt isoAplha2Code
    assert us.enabled_for_registration is False
    assert india.enabled_for_registration is True
    assert bool(india.enabled_for_registration) and not bool(us.enabled_for_registration)
    assert india.enabled and not us.enabled
    assert india.country_code == "91"
    _, url, _ = mock.only_call()
    assert url.path == f"{PREFIX}/countries"


@pytest.mark.parametrize("which", ["labels", "operators", "countries"])
async def test_reference_lists_404_empty(
    mock: MockServer, epmm: EpmmClient, fmt: str, which: str
) -> None:
    mock.reply("GET", b.render({"messages": {"message": "No data"}}, fmt), fmt=fmt, status=404)
    assert await getattr(epmm, which).list() == []


# -- bulk ------------------------------------------------------------------------------------


async def test_bulk_lock(mock: MockServer, epmm: EpmmClient, fmt: str) -> None:
    mock.reply("POST", b.render({"messages": None}, fmt), fmt=fmt)
    result = await epmm.bulk.action("lock", [b.UUID1, Device(uuid=b.UUID2), b.UUID1])
    assert result.invalid_devices == []
    assert result.messages == ()
    method, url, kwargs = mock.only_call()
    assert (method, url.path) == ("POST", f"{PREFIX}/bulk/devices/LOCK")
    assert url.query.getall("deviceUuids") == [b.UUID1, b.UUID2]  # deduplicated
    assert "deviceUuid" not in url.query
    check_headers(kwargs, fmt)


async def test_bulk_unlock_passcodes_and_failures(
    mock: MockServer, epmm: EpmmClient, fmt: str
) -> None:
    mock.reply("POST", b.render(b.bulk_unlock_tree(), fmt), fmt=fmt)
    result = await epmm.bulk.action(BulkAction.UNLOCK, [b.UUID1, b.UUID2, b.UUID3])
    assert result.invalid_devices == [b.UUID3]
    assert [(p.uuid, p.meaning) for p in result.passcodes] == [
        (b.UUID1, PasscodeMeaning.HAS_PASSCODE)
    ]
    assert result.failed_devices == [f"Unlock failed for {b.UUID2}"]
    _, url, _ = mock.only_call()
    assert url.path == f"{PREFIX}/bulk/devices/UNLOCK"
    assert len(url.query.getall("deviceUuids")) == 3


async def test_bulk_invalid_devices_several(mock: MockServer, epmm: EpmmClient, fmt: str) -> None:
    tree = {
        "messages": {"message": "Invalid action"},
        "invalidDevices": {"uuid": [b.UUID1, b.UUID2]},
    }
    mock.reply("POST", b.render(tree, fmt), fmt=fmt)
    result = await epmm.bulk.action("WAKEUP_DEVICE", [b.UUID1, b.UUID2])
    assert result.invalid_devices == [b.UUID1, b.UUID2]
    assert result.invalid_action


async def test_bulk_over_count_limit_refused(mock: MockServer, fmt: str) -> None:
    from client_support import make_client

    async with make_client(fmt, bulk=BulkLimits(max_uuids=2)) as epmm:
        with pytest.raises(ValidationError, match=r"ops"):
            await epmm.bulk.action("WIPE", [b.UUID1, b.UUID2, b.UUID3])
    assert mock.count() == 0


async def test_bulk_over_request_line_refused(mock: MockServer, epmm: EpmmClient) -> None:
    uuids = [f"00000000-0000-4000-8000-{i:012d}" for i in range(200)]
    with pytest.raises(ValidationError, match=r"ops") as info:
        await epmm.bulk.action("LOCK", uuids)
    assert "request line" in str(info.value)
    assert mock.count() == 0
    with pytest.raises(ValidationError, match=r"ops"):
        await epmm.bulk.send_message(uuids, message="hi", mode="sms")
    assert mock.count() == 0


async def test_bulk_at_request_line_budget_is_sent(mock: MockServer, epmm: EpmmClient) -> None:
    mock.reply("POST", b.jettison({"messages": None}))
    uuids = [f"00000000-0000-4000-8000-{i:012d}" for i in range(100)]
    await epmm.bulk.action("LOCK", uuids)
    _, url, _ = mock.only_call()
    assert len(url.query.getall("deviceUuids")) == 100


async def test_send_message_by_uuid(mock: MockServer, epmm: EpmmClient, fmt: str) -> None:
    mock.reply("POST", b.render(b.message_result_tree([b.UUID2]), fmt), fmt=fmt)
    result = await epmm.bulk.send_message(
        [b.UUID1, b.UUID2], message="Hello World", mode="email", subject="Hi there"
    )
    assert result.invalid_devices == [b.UUID2]
    assert result.message_sent_failed is True
    assert result.messages == ("Message sent successfully for all devices.",)
    method, url, kwargs = mock.only_call()
    assert (method, url.path) == ("POST", f"{PREFIX}/bulk/sendmessage")
    assert url.query.getall("deviceUuid") == [b.UUID1, b.UUID2]
    assert "deviceUuids" not in url.query
    assert url.query["message"] == "Hello World"
    assert url.query["mode"] == "email"
    assert url.query["subject"] == "Hi there"
    check_headers(kwargs, fmt)


async def test_send_message_all_sent(mock: MockServer, epmm: EpmmClient, fmt: str) -> None:
    mock.reply("POST", b.render(b.message_result_tree([]), fmt), fmt=fmt)
    result = await epmm.bulk.send_message([b.UUID1], message="x", mode="pns")
    assert result.message_sent_failed is False
    assert result.invalid_devices == []


async def test_send_message_by_mac(mock: MockServer, epmm: EpmmClient, fmt: str) -> None:
    tree = {"messages": {"message": "Message sent"}, "invalidDevices": {"macAddress": [b.MAC]}}
    mock.reply("POST", b.render(tree, fmt), fmt=fmt)
    result = await epmm.bulk.send_message(
        [MacAddress("00:23:76:96:63:5f"), MacAddress(b.MAC)], message="Hello", mode="sms"
    )
    assert result.invalid_devices == [b.MAC]
    method, url, _ = mock.only_call()
    assert (method, url.path) == ("POST", f"{PREFIX}/bulk/mac/sendmessage")
    assert url.query.getall("deviceWiFiMacAddress") == ["00237696635F", b.MAC]
    assert "deviceUuid" not in url.query
    assert "subject" not in url.query


# -- device records through the client ------------------------------------------------------


async def test_device_fields_through_client(mock: MockServer, epmm: EpmmClient, fmt: str) -> None:
    mock.reply("GET", b.render(b.single_device_tree(b.device_tree()), fmt), fmt=fmt)
    d = await epmm.devices.get(b.UUID1)
    assert d.id == 2
    assert d.status is DeviceStatus.ACTIVE and d.status_code == 97
    assert d.compliance == ComplianceReason.COMPROMISED | ComplianceReason.OS_VERSION_UNSUPPORTED
    assert d.block_reason is ComplianceReason.MANUALLY_BLOCKED
    assert d.user_source is UserSource.LOCAL
    assert d.iphone_version == "8J2"
    assert d.mdm_managed is True and d.employee_owned is False
    assert d.mdm_profile_url_id is None
    assert d.details.wifi_mac == b.MAC
