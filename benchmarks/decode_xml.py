"""2. Decode, XML: the same 20,000-device body as XML.

Ours (``decode_devices(body, "xml")``: xmltodict, then the one normalisation step, then
``msgspec.convert``) against two baselines: bare ``xmltodict.parse`` of the body (the parser
our design is built on, with no typing at all), and the fastest correct path we found: lxml
``etree.fromstring`` walking the tree into plain dicts (attributes as ``@id``, empty elements
as None, details as key/value pairs) and ``msgspec.convert`` into the bare structs of the
JSON benchmark, i.e. a complete typed decode with a C parser.
"""

from __future__ import annotations

import gc
import time
from typing import Any

import msgspec
import xmltodict
from lxml import etree

from epmm_async.core.decode import decode_devices

from .bodies import DEVICES, list_bodies
from .decode_json import BareDevice
from .harness import Result, spread

NAME = "decode_xml"
ROUNDS = 3


def lxml_decode(body: bytes) -> list[BareDevice]:
    """lxml parse + dict building + msgspec.convert into the bare structs."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
    root = etree.fromstring(body, parser)
    out: list[dict[str, Any]] = []
    for dev in root.iterfind("devices/device"):
        rec: dict[str, Any] = {"@" + k: v for k, v in dev.attrib.items()}
        for child in dev:
            tag = child.tag
            if tag == "details":
                rec["details"] = {
                    "entry": [
                        {"key": e.findtext("key"), "value": e.findtext("value") or None}
                        for e in child
                    ]
                }
            else:
                rec[tag] = child.text or None
        out.append(rec)
    return msgspec.convert(out, list[BareDevice], strict=False)


def _time(fn: Any) -> float:
    gc.collect()
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def run() -> Result:
    body = list_bodies()["xml"]
    ours_n = len(decode_devices(body, "xml").devices)
    lxml_n = len(lxml_decode(body))
    assert ours_n == lxml_n == DEVICES, (ours_n, lxml_n)
    ours_t: list[float] = []
    xtd_t: list[float] = []
    lxml_t: list[float] = []
    for i in range(ROUNDS):
        order = [(ours_t, lambda: decode_devices(body, "xml")),
                 (xtd_t, lambda: xmltodict.parse(body, disable_entities=True)),
                 (lxml_t, lambda: lxml_decode(body))]
        if i % 2:
            order.reverse()
        for sink, fn in order:
            sink.append(_time(fn))
    vs_xtd = spread([a / b for a, b in zip(ours_t, xtd_t, strict=True)])
    vs_lxml = spread([a / b for a, b in zip(ours_t, lxml_t, strict=True)])
    return Result(
        name=NAME,
        title="Decode XML list (20k devices)",
        ratio=vs_xtd,
        ratio_meaning="ours time / bare xmltodict.parse time (lower is better)",
        target=None,
        met=None,
        figures={
            "body_bytes": len(body),
            "ours_devices_per_s": round(DEVICES / spread(ours_t).median),
            "xmltodict_parse_devices_per_s": round(DEVICES / spread(xtd_t).median),
            "lxml_typed_devices_per_s": round(DEVICES / spread(lxml_t).median),
            "ours_over_lxml_typed": {
                "median": round(vs_lxml.median, 3),
                "low": round(vs_lxml.low, 3),
                "high": round(vs_lxml.high, 3),
            },
        },
        rounds=ROUNDS,
    )
