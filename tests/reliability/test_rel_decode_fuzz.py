"""Hostile response bodies: every decoder returns a valid struct or raises DecodeError.

Seeds are real simulator bodies (JSON and XML, with and without quirks) for every endpoint;
hypothesis mutates them (byte flips, truncation, insertion, type swaps, deep nesting) and
also generates arbitrary JSON and XML. Each result is touched all the way down, including the
lazily parsed ``device.details`` accessors.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json
from typing import Any

import aiohttp
import msgspec
import pytest
import xmltodict
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from epmm_async import DecodeError
from epmm_async.core import decode
from epmm_async.simulator import Quirks, Simulator

DECODERS = {
    name: getattr(decode, name)
    for name in (
        "decode_devices", "decode_device", "decode_labels", "decode_operators",
        "decode_countries", "decode_action", "decode_roaming", "decode_locate",
        "decode_registration", "decode_bulk", "decode_message_result", "decode_profiles",
        "decode_error_messages",
    )
}
SETTINGS = settings(max_examples=250, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
KEYS = ["devices", "device", "labels", "label", "messages", "message", "totalCount",
        "details", "entry", "key", "value", "@id", "uuid", "deviceUuid", "passcodes",
        "passcode", "invalidDevices", "failedDevices", "locations", "location", "capturedAt",
        "registeredAt", "lastConnectedAt", "registration", "countries", "country",
        "isoAplha2Code", "operators", "operator", "profiles", "profile", "status",
        "compliance", "platform", "userSource", "messageSentFailed", "locateNow",
        "deviceManagementWebServiceResponse", "phoneNumber", "latitude", "quarantinedStatus"]
CALLS = 0


@functools.lru_cache(maxsize=1)
def seed_bodies() -> tuple[tuple[bytes, str], ...]:
    """Real bodies of every endpoint, as the simulator sends them (JSON and XML)."""

    async def grab() -> list[tuple[bytes, str]]:
        out: list[tuple[bytes, str]] = []
        for quirks in (Quirks(), Quirks.clean()):
            async with Simulator(devices=40, seed=5, quirks=quirks) as sim:
                uuid = next(iter(sim.fleet.devices))
                ios = next(u for u, d in sim.fleet.devices.items()
                           if d.platform.startswith("iOS") and d.status.value == "ACTIVE")
                requests = [
                    ("GET", "/devices?limit=3"), ("GET", "/devices?limit=1"),
                    ("GET", f"/devices/{uuid}"), ("GET", "/labels"), ("GET", "/operators"),
                    ("GET", "/countries"), ("PUT", f"/devices/lock/{uuid}?Reason=x"),
                    ("GET", f"/devices/unlock/{uuid}?Reason=x"),
                    ("GET", f"/devices/locate/{uuid}"), ("GET", f"/devices/profiles/{uuid}"),
                    ("PUT", f"/devices/enableroaming/{ios}?voice=true&data=true"),
                    ("POST", f"/bulk/devices/UNLOCK?deviceUuids={uuid}&deviceUuids=bad"),
                    ("POST", f"/bulk/sendmessage?deviceUuid={uuid}&message=hi&mode=pns"),
                    ("PUT", "/register?userid=fuzz&phonenumber=PDA&platform=A&countrycode=1"
                            "&userFirstName=F&userLastName=L&userEmail=f@x.test&importUserFromLdap=false"
                            "&notifyUser=false"),
                    ("GET", "/devices/00000000-0000-0000-0000-000000000000"),
                    ("GET", "/nowhere"),
                ]
                token = base64.b64encode(f"{sim.username}:{sim.password}".encode()).decode()
                async with aiohttp.ClientSession(
                    headers={"Authorization": f"Basic {token}"}
                ) as session:
                    for accept in ("application/json", "application/xml"):
                        for method, path in requests:
                            async with session.request(
                                method, sim.url + "/api/v1/dm" + path,
                                headers={"Accept": accept},
                            ) as resp:
                                fmt = "xml" if "xml" in resp.content_type else "json"
                                out.append((await resp.read(), fmt))
        return out

    return tuple(asyncio.run(grab()))


def touch(obj: Any, depth: int = 0) -> None:
    """Read every field and property of a decoded result (details parse lazily)."""
    if depth > 50:
        return
    if isinstance(obj, list | tuple):
        for item in obj:
            touch(item, depth + 1)
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            touch(k, depth + 1)
            touch(v, depth + 1)
        return
    if hasattr(obj, "__struct_fields__"):
        for name in obj.__struct_fields__:
            touch(getattr(obj, name), depth + 1)
    if type(obj).__module__.startswith("epmm_async"):
        for klass in type(obj).__mro__:
            for name, attr in vars(klass).items():
                if isinstance(attr, property | functools.cached_property):
                    touch(getattr(obj, name), depth + 1)
        if hasattr(obj, "items") and callable(obj.items):
            touch(dict(obj.items()), depth + 1)  # DeviceDetails mapping
        repr(obj)


def check_all(body: bytes, fmt: str) -> None:
    """Every decoder on ``body``: a valid result or DecodeError, nothing else."""
    global CALLS
    for name, fn in DECODERS.items():
        CALLS += 1
        try:
            result = fn(body, fmt)
        except DecodeError:
            continue
        touch(result)
        if name == "decode_error_messages":
            assert result is None or (
                isinstance(result, tuple) and all(isinstance(m, str) for m in result))


def test_seed_bodies_decode() -> None:
    seeds = seed_bodies()
    assert len(seeds) >= 60
    decoded = 0
    for body, fmt in seeds:
        check_all(body, fmt)
        try:
            decode.decode_devices(body, fmt)  # type: ignore[arg-type]
            decoded += 1
        except DecodeError:
            pass
    assert decoded > 10  # the seeds are real, decodable bodies


# -- byte-level mutations --


TOKENS = [b"{", b"}", b"[", b"]", b'"', b",", b":", b"<", b">", b"</a>", b"&amp;", b"\x00",
          b"\xff\xfe", b"\xc3", b"null", b"-1e999", b"<!--", b"]]>", b"\\u0000", b"\\ud800",
          b"1" * 30]


@st.composite
def mutated(draw: st.DrawFn) -> tuple[bytes, str]:
    body, fmt = draw(st.sampled_from(seed_bodies()))
    data = bytearray(body)
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "dup"]))
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "truncate":
            del data[at:]
        elif op == "insert":
            token = draw(st.sampled_from(TOKENS))
            data[at:at] = token + draw(st.binary(max_size=8))
        elif op == "delete":
            del data[at: at + draw(st.integers(1, 20))]
        else:
            data[at:at] = data[at: at + draw(st.integers(1, 200))]
    return bytes(data), draw(st.sampled_from([fmt, fmt, "json", "xml"]))


@SETTINGS
@given(mutated())
def test_mutated_bodies(case: tuple[bytes, str]) -> None:
    check_all(*case)


# -- structural mutations: type swaps and deep nesting --


def _paths(tree: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if len(prefix) > 30:
        return out
    if isinstance(tree, dict):
        for k, v in tree.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            out += _paths(v, (*prefix, i))
    return out


def _replace(tree: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(tree, dict):
        return {**tree, head: _replace(tree[head], rest, value)}
    copy = list(tree)
    copy[head] = _replace(copy[head], rest, value)
    return copy


def _get(tree: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        tree = tree[p]
    return tree


def _swap(draw: st.DrawFn, old: Any) -> Any:
    kind = draw(st.sampled_from(["object", "list", "string", "number", "bool", "null",
                                 "deep", "empty", "wrap"]))
    if kind == "object":
        return {"value": old} if not isinstance(old, dict) else draw(st.sampled_from(
            [{}, {"@id": old}, {"entry": old}]))
    if kind == "list":
        return [old] if not isinstance(old, list) else draw(st.sampled_from([[], old * 3]))
    if kind == "string":
        return draw(st.sampled_from(["", " ", "x", "true", "-1", "1e400", "NaN",
                                     "9" * 40, "²", "2024-13-45T99:99:99", json.dumps(old)]))
    if kind == "number":
        return draw(st.sampled_from([0, -1, 2**63, -(2**70), 1.5, 1e308, 97, 10**30]))
    if kind == "bool":
        return draw(st.booleans())
    if kind == "null":
        return None
    if kind == "deep":
        depth = draw(st.sampled_from([50, 400]))
        inner: Any = old
        for _ in range(depth):
            inner = draw(st.sampled_from([[inner], {"entry": inner}])) if depth <= 50 else [inner]
        return inner
    if kind == "empty":
        return draw(st.sampled_from(["", [], {}]))
    return {"deviceManagementWebServiceResponse": old}


@st.composite
def swapped(draw: st.DrawFn) -> tuple[bytes, str]:
    jsons = [b for b, f in seed_bodies() if f == "json" and b.lstrip()[:1] == b"{"]
    tree = json.loads(draw(st.sampled_from(jsons)))
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(_paths(tree)))
        tree = _replace(tree, path, _swap(draw, _get(tree, path)))
    if draw(st.booleans()) and isinstance(tree, dict) and tree:
        try:
            root = {"deviceManagementWebServiceResponse": tree}
            return xmltodict.unparse(root).encode(), "xml"
        except Exception:
            pass
    return msgspec.json.encode(tree), "json"


@SETTINGS
@given(swapped())
def test_type_swapped_bodies(case: tuple[bytes, str]) -> None:
    check_all(*case)


@pytest.mark.parametrize("depth", [100, 990, 5_000, 50_000])
@pytest.mark.parametrize("shape", ["list", "object", "details", "xml"])
def test_deep_nesting_is_a_decode_error(depth: int, shape: str) -> None:
    if shape == "list":
        body, fmt = b"[" * depth + b"]" * depth, "json"
    elif shape == "object":
        body, fmt = b'{"devices":' * depth + b"1" + b"}" * depth, "json"
    elif shape == "details":
        body = (b'{"device": {"uuid": "x", "details": ' + b"[" * depth + b'{"key": "a", '
                b'"value": "b"}' + b"]" * depth + b"}}")
        fmt = "json"
    else:
        depth = min(depth, 5_000)  # xmltodict is quadratic in depth: 200k levels take ~20 s
        body, fmt = b"<a>" * depth + b"x" + b"</a>" * depth, "xml"
    check_all(body, fmt)


@pytest.mark.parametrize("value", ["²", "٣٣٣", "9" * 5000, "1" * 19, "0", "99999999999999"])
def test_odd_timestamps_never_crash(value: str) -> None:
    for key in ("registeredAt", "lastConnectedAt", "capturedAt"):
        body = json.dumps({"device": {"uuid": "u", key: value},
                           "locations": {"location": {key: value}}}).encode()
        check_all(body, "json")
        check_all(xmltodict.unparse({"r": {"device": {key: value}}}).encode(), "xml")


# -- arbitrary JSON and XML --

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
                    st.text(max_size=20), st.sampled_from(["", "true", "false", "1700000000000"]))
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), children,
                        max_size=6),
    ),
    max_leaves=40,
)


@SETTINGS
@given(json_values)
def test_arbitrary_json(value: Any) -> None:
    body = json.dumps(value).encode()  # allows NaN/Infinity, which are not JSON either
    check_all(body, "json")


xml_names = st.sampled_from([*KEYS[:-4], "a", "b"]).filter(lambda k: not k.startswith("@"))
xml_trees = st.recursive(
    st.one_of(st.none(), st.text(max_size=15)),
    lambda children: st.dictionaries(
        st.one_of(xml_names, st.sampled_from(["@id", "@x"])), st.one_of(children,
                                                                      st.lists(children,
                                                                               max_size=3)),
        max_size=5),
    max_leaves=30,
)


@SETTINGS
@given(xml_trees, st.sampled_from(["deviceManagementWebServiceResponse", "html", "x"]))
def test_arbitrary_xml(tree: Any, root: str) -> None:
    try:
        body = xmltodict.unparse({root: tree}).encode()
    except Exception:
        return
    check_all(body, "xml")


@SETTINGS
@given(st.binary(max_size=300), st.sampled_from(["json", "xml"]))
def test_arbitrary_bytes(body: bytes, fmt: str) -> None:
    check_all(body, fmt)


# -- XML attacks --

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
<deviceManagementWebServiceResponse><messages><message>&lol9;</message></messages>
</deviceManagementWebServiceResponse>"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<deviceManagementWebServiceResponse><labels><label><name>&x;</name></label></labels>
</deviceManagementWebServiceResponse>"""
# The DOCTYPE pushed past the first 4 KiB, in upper/mixed case, and parameter entities.
LATE_DOCTYPE = (b"<?xml version='1.0'?>" + b"<!--" + b"p" * 5000 + b"-->"
                + b'<!DocType r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                + b"<r><messages><message>&x;</message></messages></r>")
PARAM_ENTITY = (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p SYSTEM '
                b'"http://127.0.0.1:9/evil.dtd"> %p;]><r/>')
UNDECLARED = b"<r><messages><message>&x;</message></messages></r>"


@pytest.mark.parametrize("body", [BILLION_LAUGHS, XXE, LATE_DOCTYPE, PARAM_ENTITY, UNDECLARED,
                                  BILLION_LAUGHS.replace(b"<?xml", b"  \n<?xml"),
                                  XXE.decode().encode("utf-16")],
                         ids=["billion-laughs", "xxe", "late-doctype", "param-entity",
                              "undeclared", "leading-space", "utf16"])
def test_xml_entities_refused(body: bytes) -> None:
    for name, fn in DECODERS.items():
        if name == "decode_error_messages":
            assert fn(body, "xml") is None or "root:" not in "".join(fn(body, "xml") or ())
            continue
        with pytest.raises(DecodeError):
            fn(body, "xml")
    with pytest.raises(DecodeError):
        decode.parse_xml(body)


def test_call_count_recorded() -> None:
    # Runs last in this module (file order): the number of decoder calls made above.
    print(f"\nDECODER CALLS {CALLS}")
    assert CALLS > 0
