"""The three routes from a response body to a struct, fastest first (DESIGN.md, "Decoding").

1. JSON straight into the struct with msgspec (lax mode): the records' wire types take text,
   numbers and booleans alike, so typed and quoted bodies both stay here.
2. A JSON body with empty elements (``"countryId": ""``) where a number, time or object
   belongs: the same, after rewriting ``:""`` to ``:null`` in the bytes.
3. Everything else, and every XML body: the parsed tree, normalised once (:func:`normalise`),
   converted with :func:`msgspec.convert`; a scalar that cannot be read spoils its field
   (:mod:`.decode_spoil`), never the page.

Every failure leaves as :class:`~epmm_async.errors.DecodeError`.
"""

from __future__ import annotations

import re
from typing import Literal, TypeVar

import msgspec
import xmltodict

from ..errors import DecodeError
from .decode_spoil import spoil
from .scalars import scalar_text

__all__ = [
    "ROOT_ELEMENT",
    "ResponseFormat",
    "decode",
    "detect_format",
    "from_tree",
    "normalise",
    "parse_tree",
    "parse_xml",
    "unwrap",
]

ResponseFormat = Literal["json", "xml"]
ROOT_ELEMENT = "deviceManagementWebServiceResponse"

T = TypeVar("T")

# The document itself misspells isoAlpha2Code once.
_KEY_ALIASES = {"isoAplha2Code": "isoAlpha2Code"}
_EMPTY = re.compile(rb':""')
_EMPTY_SPACED = re.compile(rb': ""')
# Spoiling is bounded: each round drops one field from every record of one list.
_MAX_SPOIL_ROUNDS = 64


def detect_format(content_type: str | None, default: ResponseFormat) -> ResponseFormat:
    """The format of a body from its Content-Type (the server may not honour Accept)."""
    if content_type:
        lowered = content_type.lower()
        if "xml" in lowered:
            return "xml"
        if "json" in lowered:
            return "json"
    return default


def parse_xml(body: bytes) -> dict[str, object]:
    """Parse an XML body into xmltodict's dict form, refusing DTDs and entities.

    A DOCTYPE is refused outright, so neither entity expansion ("billion laughs") nor
    external entities can be reached; expat's entity handling is disabled as a second line.
    """
    head = body[:4096].lower()
    if b"<!doctype" in head or b"<!entity" in body.lower():
        raise DecodeError("XML with a DOCTYPE or entity declaration refused")
    try:
        parsed = xmltodict.parse(body, disable_entities=True, strip_whitespace=False)
    except Exception as exc:  # expat raises ExpatError, ValueError and friends
        raise DecodeError(f"malformed XML body: {exc}") from None
    if not isinstance(parsed, dict):
        raise DecodeError("XML body has no root element")
    return parsed


def _kind(obj: object) -> str:
    """What ``obj`` is, for an error message ("nothing" for None)."""
    return "nothing" if obj is None else type(obj).__name__


def unwrap(obj: object, fmt: ResponseFormat) -> object:
    """The root element's children. XML always has the root element, and it must be the
    API's; JSON from real servers has none, but some add it."""
    if fmt == "xml":
        if not isinstance(obj, dict) or len(obj) != 1 or ROOT_ELEMENT not in obj:
            names = ", ".join(map(str, obj)) if isinstance(obj, dict) else _kind(obj)
            raise DecodeError(f"XML root element is {names!r}, not {ROOT_ELEMENT}")
        value = obj[ROOT_ELEMENT]
        return {} if value is None or value == "" else value
    if isinstance(obj, dict) and len(obj) == 1 and ROOT_ELEMENT in obj:
        value = obj[ROOT_ELEMENT]
        return {} if value is None or value == "" else value
    return obj


def normalise(obj: object, parent: str = "", *, xml: bool = False) -> object:
    """The one normalisation step for mapped-XML quirks, on a parsed body (route 3).

    Scalars become text (numbers as the text the server meant), so XML and JSON trees
    converge and the lax conversion types them; empty elements become None; the document's
    misspelt keys get their right names; a device's ``details`` becomes raw JSON, as the
    fast route reads it.
    """
    if isinstance(obj, dict):
        out: dict[str, object] = {}
        for raw_key, value in obj.items():
            key = _KEY_ALIASES.get(str(raw_key), str(raw_key))
            if key == "#text" and isinstance(value, str) and value.isspace():
                continue  # indentation between child elements
            item = normalise(value, key, xml=xml)
            if key == "details" and parent != "details":
                item = msgspec.Raw(msgspec.json.encode(item))
            out[key] = item
        return out
    if isinstance(obj, list):
        return [normalise(item, parent, xml=xml) for item in obj]
    if obj is None or obj == "":
        return None
    if isinstance(obj, str):
        # Text is kept as sent, whitespace alone included (as the JSON routes keep it). In
        # XML, whitespace with a line break is a pretty-printer's indentation inside an empty
        # element, not data; whitespace where a record or list belongs is read as empty when
        # converting (:func:`~.decode_spoil.spoil`).
        if xml and "\n" in obj and obj.isspace():
            return None
        return obj
    return scalar_text(obj)


def _empty_as_null(body: bytes) -> bytes:
    """``body`` with every empty value ``:""`` rewritten as ``:null`` (route 2).

    A ``"`` cannot follow ``:""`` inside a JSON string, so only empty values match.
    Pretty-printed JSON (``"key": ""``) is detected from its first bytes.
    """
    if b'": ' in body[:4096]:
        return _EMPTY_SPACED.sub(b": null", body)
    return _EMPTY.sub(b":null", body)


def decode(body: bytes, fmt: ResponseFormat, type_: type[T]) -> T:
    """``body`` as a ``type_``, by the first of the three routes that reads it."""
    try:
        return _decode_body(body, fmt, type_)
    except RecursionError:
        raise DecodeError("body nested too deeply") from None
    except UnicodeDecodeError as exc:  # msgspec: invalid UTF-8 inside an object key
        raise DecodeError(f"malformed JSON body: {exc}") from None


def parse_tree(body: bytes, fmt: ResponseFormat) -> object:
    """The parsed body (JSON or XML), every parse failure as :class:`DecodeError`."""
    if fmt == "xml":
        return parse_xml(body)
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise DecodeError(f"malformed JSON body: {exc}") from None
    except RecursionError:
        raise DecodeError("body nested too deeply") from None
    except UnicodeDecodeError as exc:  # invalid UTF-8 inside an object key
        raise DecodeError(f"malformed JSON body: {exc}") from None


def _decode_body(body: bytes, fmt: ResponseFormat, type_: type[T]) -> T:
    if fmt == "json":
        try:
            return msgspec.json.decode(body, type=type_, strict=False)
        except msgspec.ValidationError:
            pass  # a value the direct route cannot read: try the next route
        except msgspec.DecodeError as exc:
            raise DecodeError(f"malformed JSON body: {exc}") from None
        if b'""' in body:
            try:
                return msgspec.json.decode(
                    _empty_as_null(body), type=type_, strict=False
                )
            except msgspec.ValidationError:
                pass
            except msgspec.DecodeError as exc:  # a value read wrongly before the break
                raise DecodeError(f"malformed JSON body: {exc}") from None
    return from_tree(parse_tree(body, fmt), fmt, type_)


def from_tree(tree: object, fmt: ResponseFormat, type_: type[T]) -> T:
    """Route 3: the parsed ``tree`` normalised and converted, unreadable scalars spoiled."""
    prepared = normalise(unwrap(tree, fmt), xml=fmt == "xml")
    if not isinstance(prepared, dict):
        raise DecodeError(f"expected an object at the top of the body, got {_kind(prepared)}")
    for _ in range(_MAX_SPOIL_ROUNDS):
        try:
            return msgspec.convert(prepared, type_, strict=False)
        except msgspec.ValidationError as exc:
            if not spoil(prepared, type_, str(exc)):
                raise DecodeError(f"unexpected body shape: {exc}") from None
    raise DecodeError(f"more than {_MAX_SPOIL_ROUNDS} unreadable fields in the body")
