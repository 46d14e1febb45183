"""Encoding of simulator replies as XML or Jettison-"mapped" JSON, with switchable quirks.

A reply is built once as a tree: a ``dict`` is an element with children (keys starting with
``@`` are XML attributes), a ``list`` is a repeated element, ``None`` is an empty element and a
scalar (``str``/``int``/``float``/``bool``) is text. :func:`encode_json` and :func:`encode_xml`
render that tree the way a real EPMM server would.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

import msgspec

__all__ = ["ROOT", "Quirks", "Tree", "encode", "encode_json", "encode_xml", "wants_xml"]

ROOT = "deviceManagementWebServiceResponse"
"""Root element of every XML reply (dropped from JSON unless ``Quirks.root_wrapper``)."""

Tree = dict[str, Any]
"""A reply tree (see the module docstring)."""

_NUMERIC = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?")


@dataclass(slots=True)
class Quirks:
    """Switchable wire-format behaviours; the defaults are what real EPMM servers do.

    Attributes:
        single_as_object: a one-element list is sent as a bare object (Jettison).
        scalars_as_strings: numbers and booleans are sent as JSON strings (``"97"``).
        numeric_strings_as_numbers: numeric-looking values (phone numbers, ids) become numbers.
        root_wrapper: wrap JSON in ``{"deviceManagementWebServiceResponse": ...}``.
        empty_as_404: an empty search or list is a 404 with a ``messages`` body.
        empty_elements: how an empty element is sent in JSON: ``"empty"`` (``""``),
            ``"missing"`` (omitted) or ``"null"``.
        details_wrapped_in_list: ``"details": [{"entry": [...]}]``.
        misspelled_sucess: the registration status reads ``SUCESS``.
        bulk_form_body: bulk endpoints also read uuids from a form-encoded body.
        invalid_devices_in_messages: bulk replies nest ``invalidDevices`` inside ``messages``.
    """

    single_as_object: bool = True
    scalars_as_strings: bool = True
    numeric_strings_as_numbers: bool = False
    root_wrapper: bool = False
    empty_as_404: bool = True
    empty_elements: Literal["empty", "missing", "null"] = "empty"
    details_wrapped_in_list: bool = False
    misspelled_sucess: bool = False
    bulk_form_body: bool = True
    invalid_devices_in_messages: bool = False

    @classmethod
    def clean(cls) -> Quirks:
        """Every quirk off: arrays are arrays, numbers numbers, booleans booleans."""
        return cls(
            single_as_object=False,
            scalars_as_strings=False,
            numeric_strings_as_numbers=False,
            root_wrapper=False,
            empty_as_404=False,
            empty_elements="null",
            details_wrapped_in_list=False,
            misspelled_sucess=False,
            bulk_form_body=False,
            invalid_devices_in_messages=False,
        )


def wants_xml(accept: str | None) -> bool:
    """Whether an ``Accept`` header asks for XML (no header or ``*/*`` means JSON)."""
    if not accept:
        return False
    low = accept.lower()
    if "json" in low:
        return low.find("xml") != -1 and low.find("xml") < low.find("json")
    return "xml" in low


# ------------------------------------------------------------------------------------ JSON
class _Missing:
    pass


_MISSING = _Missing()


def _scalar(value: Any, q: Quirks) -> Any:
    if isinstance(value, bool):
        return ("true" if value else "false") if q.scalars_as_strings else value
    if isinstance(value, int | float):
        if q.numeric_strings_as_numbers or not q.scalars_as_strings:
            return value
        return str(value) if isinstance(value, int) else repr(value)
    if q.numeric_strings_as_numbers and isinstance(value, str) and _NUMERIC.fullmatch(value):
        return float(value) if "." in value else int(value)
    return value


def _empty(q: Quirks) -> Any:
    if q.empty_elements == "missing":
        return _MISSING
    return None if q.empty_elements == "null" else ""


def _json(value: Any, q: Quirks) -> Any:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            conv = _json(item, q)
            if conv is _MISSING:
                continue
            if key == "details" and q.details_wrapped_in_list and isinstance(conv, dict):
                conv = [conv]
            out[key] = conv
        return out
    if isinstance(value, list):
        if q.single_as_object:
            if not value:
                return _empty(q)
            if len(value) == 1:
                return _json(value[0], q)
        return [_json(v, q) for v in value]
    if value is None:
        return _empty(q)
    return _scalar(value, q)


def encode_json(tree: Tree, quirks: Quirks) -> bytes:
    """Render ``tree`` as JSON (no root wrapper unless ``quirks.root_wrapper``)."""
    body = _json(tree, quirks)
    if body is _MISSING or body is None or body == "":
        body = {}
    if quirks.root_wrapper:
        body = {ROOT: body}
    return msgspec.json.encode(body)


# ------------------------------------------------------------------------------------- XML
def _esc(text: str) -> str:
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    return text


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return _esc(str(value))


def _xml(tag: str, value: Any, out: list[str]) -> None:
    if isinstance(value, list):
        for item in value:
            _xml(tag, item, out)
        return
    if value is None:
        out.append(f"<{tag}/>")
        return
    if isinstance(value, dict):
        attrs = "".join(
            f' {k[1:]}="{_text(v).replace(chr(34), "&quot;")}"'
            for k, v in value.items()
            if k.startswith("@")
        )
        out.append(f"<{tag}{attrs}>")
        for key, item in value.items():
            if not key.startswith("@"):
                _xml(key, item, out)
        out.append(f"</{tag}>")
        return
    out.append(f"<{tag}>{_text(value)}</{tag}>")


def encode_xml(tree: Tree) -> bytes:
    """Render ``tree`` as an XML document with the ``deviceManagementWebServiceResponse`` root."""
    out = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>']
    _xml(ROOT, tree, out)
    return "".join(out).encode()


def encode(tree: Tree, *, xml: bool, quirks: Quirks) -> tuple[bytes, str]:
    """Render ``tree`` in the negotiated format; returns ``(body, content_type)``."""
    if xml:
        return encode_xml(tree), "application/xml"
    return encode_json(tree, quirks), "application/json"
