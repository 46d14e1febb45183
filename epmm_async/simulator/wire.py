"""Encoding of simulator replies as XML or Jettison-"mapped" JSON, with switchable quirks.

A reply is built once as a tree: a ``dict`` is an element with children (keys starting with
``@`` are XML attributes), a ``list`` is a repeated element, ``None`` is a Java ``null``
property and a scalar (``str``/``int``/``float``/``bool``) is text. An element with no
children (``{}``, or a dict whose lists are all empty, such as ``{"message": []}``) is an
empty element, ``<messages/>``.

Both formats take the scalars' text from one function, :func:`xml_text` (what JAXB prints:
``true``/``false``, decimal integers, Java's ``Double.toString`` for floats). XML carries that
text; JSON then types it as the server's JSON provider would (:attr:`Quirks.typing`): by
default with Jettison's ``DefaultConverter`` (:func:`jettison_value`), so ``"97"`` is sent as
``97`` and ``"0612345678"`` stays a string. :func:`encode_json` and :func:`encode_xml` render
the tree the way a real EPMM server (Apache CXF with Jettison) would.
"""

from __future__ import annotations

import math
import re
from dataclasses import InitVar, dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Any, Literal

import msgspec

__all__ = [
    "ROOT",
    "JavaDouble",
    "Quirks",
    "Tree",
    "encode",
    "encode_json",
    "encode_xml",
    "java_double_to_string",
    "jettison_number_text",
    "jettison_value",
    "wants_xml",
    "xml_text",
]

ROOT = "deviceManagementWebServiceResponse"
"""Root element of every XML reply (dropped from JSON unless ``Quirks.root_wrapper``)."""

Tree = dict[str, Any]
"""A reply tree (see the module docstring)."""

Typing = Literal["jettison", "quoted", "schema"]
EmptyElements = Literal["missing", "empty", "null"]
EmptyDetails = Literal["element", "bare", "missing"]


@dataclass(slots=True)
class Quirks:
    """Switchable wire-format behaviours; the defaults are what real EPMM servers do.

    Attributes:
        typing: how JSON types a scalar's text. ``"jettison"`` (default): Jettison's
            ``DefaultConverter`` writes text that round-trips as a Java long, double or
            boolean bare (``97``, ``2.2``, ``true``) and everything else as a string
            (``"0612345678"``, ``"4.5.0"``); attributes (``@id``) stay strings.
            ``"quoted"``: every scalar is a JSON string (``"97"``, ``"false"``).
            ``"schema"``: each value keeps the type the server's model gives it
            (``97``, ``false``, but a phone number stays ``"4085551212"``).
        enforce_32bit_integer: Jettison started with
            ``jettison.mapped.typeconverter.enforce_32bit_integer=true``: integers beyond
            32 bits (most phone numbers, IMEIs) stay strings.
        negative_exponent_as_string: Jettison 1.5's converter (2022 on) rejects a ``-``
            after the exponent, so ``1.0E-4`` stays a string (older ones send ``1.0E-4``).
        escape_forward_slash_always: ``/`` is written ``\\/`` in every JSON string
            (Jettison before 1.3.6); off, only ``</`` is escaped (Jettison 1.3.6 and later,
            and CXF's default).
        single_as_object: Jettison's mapped convention: a one-element list is a bare object,
            an empty element is ``""`` and a list of none is no key at all. Off: lists are
            always arrays and an empty element is an object.
        root_wrapper: wrap JSON in ``{"deviceManagementWebServiceResponse": ...}``.
        empty_as_404: an empty search or list is a 404 with a ``messages`` body.
        empty_elements: how a ``null`` property is sent: ``"missing"`` (default, JAXB omits
            it in XML and so JSON has no key), ``"empty"`` (``<x/>``, ``""``) or ``"null"``
            (``<x/>``, JSON ``null``).
        details_wrapped_in_list: ``"details": [{"entry": [...]}]`` (a one-element array).
        empty_details: empty details (registration pending): ``"element"`` (default: an
            empty element like any other, so ``[""]`` when wrapped, ``""`` otherwise),
            ``"bare"`` (``""`` even when wrapped) or ``"missing"`` (no ``details`` at all).
        mac_lookup_singular: ``GET /devices/mac/{mac}`` answers ``device`` (one object) and
            ``totalCount``; off: the document's ``devices``/``device`` list.
        no_role_status: the answer to a valid account without the API role: 401 (default,
            like a wrong password) or 403 (with the API's ``messages`` body).
        auth_error_body: body of a 401: ``"html"`` (default, the web server's page) or
            ``"api"`` (the API's ``messages`` body, in the negotiated format).
        misspelled_sucess: the registration status reads ``SUCESS``.
        bulk_form_body: bulk endpoints also read uuids from a form-encoded body.
        invalid_devices_in_messages: bulk replies nest ``invalidDevices`` inside ``messages``.
        scalars_as_strings: old spelling (constructor only): True is ``typing="quoted"``,
            False ``typing="schema"``.
        numeric_strings_as_numbers: old spelling (constructor only): True is
            ``typing="jettison"``.
    """

    typing: Typing = "jettison"
    enforce_32bit_integer: bool = False
    negative_exponent_as_string: bool = False
    escape_forward_slash_always: bool = False
    single_as_object: bool = True
    root_wrapper: bool = False
    empty_as_404: bool = True
    empty_elements: EmptyElements = "missing"
    details_wrapped_in_list: bool = True
    empty_details: EmptyDetails = "element"
    mac_lookup_singular: bool = True
    no_role_status: int = 401
    auth_error_body: Literal["html", "api"] = "html"
    misspelled_sucess: bool = False
    bulk_form_body: bool = True
    invalid_devices_in_messages: bool = False
    scalars_as_strings: InitVar[bool | None] = None
    numeric_strings_as_numbers: InitVar[bool | None] = None

    def __post_init__(
        self, scalars_as_strings: bool | None, numeric_strings_as_numbers: bool | None
    ) -> None:
        if scalars_as_strings is not None:
            self.typing = "quoted" if scalars_as_strings else "schema"
        if numeric_strings_as_numbers:
            self.typing = "jettison"
        checks: tuple[tuple[str, object, tuple[object, ...]], ...] = (
            ("typing", self.typing, ("jettison", "quoted", "schema")),
            ("empty_elements", self.empty_elements, ("missing", "empty", "null")),
            ("empty_details", self.empty_details, ("element", "bare", "missing")),
            ("no_role_status", self.no_role_status, (401, 403)),
            ("auth_error_body", self.auth_error_body, ("html", "api")),
        )
        for name, value, allowed in checks:
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, not {value!r}")

    @classmethod
    def clean(cls) -> Quirks:
        """Every JSON-shape quirk off: arrays are arrays, values typed by the model, ``null``
        as ``null``, 200 on empty; the answers that are not about shape (the singular MAC
        lookup, 401 pages) stay as real servers give them."""
        return cls(
            typing="schema",
            enforce_32bit_integer=False,
            negative_exponent_as_string=False,
            escape_forward_slash_always=False,
            single_as_object=False,
            root_wrapper=False,
            empty_as_404=False,
            empty_elements="null",
            details_wrapped_in_list=False,
            empty_details="element",
            mac_lookup_singular=True,
            no_role_status=401,
            auth_error_body="html",
            misspelled_sucess=False,
            bulk_form_body=False,
            invalid_devices_in_messages=False,
        )

    @classmethod
    def quoted(cls) -> Quirks:
        """The dialect the simulator spoke before the typed-JSON evidence: every scalar a
        string, ``details`` an object, ``null`` properties as ``""``, MAC lookups a list,
        403 for an account without the API role and 401 with the API's body."""
        return cls(
            typing="quoted",
            details_wrapped_in_list=False,
            empty_elements="empty",
            mac_lookup_singular=False,
            no_role_status=403,
            auth_error_body="api",
        )


def wants_xml(accept: str | None) -> bool:
    """Whether an ``Accept`` header asks for XML (no header or ``*/*`` means JSON)."""
    if not accept:
        return False
    low = accept.lower()
    if "json" in low:
        return low.find("xml") != -1 and low.find("xml") < low.find("json")
    return "xml" in low


# ------------------------------------------------------------------- Java's number texts
_CTX2 = Context(prec=2, rounding=ROUND_HALF_EVEN)


def java_double_to_string(x: float) -> str:
    """Java's ``Double.toString(x)`` (JDK 19 and later: the shortest decimal that rounds to
    ``x``, at least two digits when one would do, the closest one to ``x``).

    ``d.ddd`` with at least one digit after the point for ``1e-3 <= |x| < 1e7``, else
    ``d.dddE±n`` (``1.0E-4``, ``1.0E7``); ``NaN``, ``Infinity``, ``-Infinity``, ``0.0`` and
    ``-0.0`` as Java spells them.
    """
    if x != x:
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0.0:
        return "-0.0" if math.copysign(1.0, x) < 0 else "0.0"
    sign = "-" if x < 0 else ""
    ax = -x if x < 0 else x
    # repr gives the shortest decimal that round-trips, the closest one when several do.
    tup = Decimal(repr(ax)).as_tuple()
    digits = "".join(map(str, tup.digits))
    exp = int(tup.exponent)
    stripped = digits.rstrip("0")
    exp += len(digits) - len(stripped)
    digits = stripped
    if len(digits) == 1:
        # Java picks among two-digit decimals when one digit would do (4.9E-324, not 5E-324).
        two = _CTX2.plus(Decimal(ax))
        if float(two) == ax:
            t2 = two.as_tuple()
            d2 = "".join(map(str, t2.digits)).rstrip("0") or "0"
            exp = int(t2.exponent) + len("".join(map(str, t2.digits))) - len(d2)
            digits = d2
    point = len(digits) + exp - 1  # decimal exponent of the first digit
    if 1e-3 <= ax < 1e7:
        if point >= 0:
            whole = (digits + "0" * max(0, point + 1 - len(digits)))[: point + 1]
            frac = digits[point + 1 :] or "0"
            return f"{sign}{whole}.{frac}"
        return f"{sign}0.{'0' * (-point - 1)}{digits}"
    return f"{sign}{digits[0]}.{digits[1:] or '0'}E{point}"


def jettison_number_text(java_text: str) -> str:
    """How Jettison's ``JSONObject`` writes a double whose ``Double.toString`` is
    ``java_text``: trailing zeros and a trailing point shaved when there is no exponent
    (``100.0`` is written ``100``, ``2.50`` cannot occur, ``1.0E-4`` stays)."""
    if "." in java_text and "E" not in java_text and "e" not in java_text:
        java_text = java_text.rstrip("0")
        if java_text.endswith("."):
            java_text = java_text[:-1]
    return java_text


def xml_text(value: Any) -> str:
    """The text of a scalar as the server's XML carries it (JAXB's printing): ``true`` /
    ``false``, a decimal integer, Java's ``Double.toString`` for a float, a string as is."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return java_double_to_string(value)
    return str(value)


_LONG_MIN, _LONG_MAX = -(1 << 63), (1 << 63) - 1
_INT_MIN, _INT_MAX = -(1 << 31), (1 << 31) - 1
_INTEGER = re.compile(r"-?[0-9]+")
_FAST_DOUBLE = re.compile(r"-?[0-9.eE]+")
# Every Double.toString of a finite double has this shape: a cheap necessary condition.
_JAVA_DOUBLE = re.compile(r"-?[0-9]+\.[0-9]+(?:E-?[0-9]+)?")
_NUMBER_START = frozenset("0123456789-")


class JavaDouble(float):
    """A float that Jettison writes as a number; ``text`` is Java's ``Double.toString``."""

    __slots__ = ("text",)
    text: str

    def __new__(cls, value: float, text: str) -> JavaDouble:
        self = super().__new__(cls, value)
        self.text = text
        return self


def jettison_value(
    text: str, *, enforce_32bit_integer: bool = False, negative_exponent_as_string: bool = False
) -> str | int | float | bool:
    """What Jettison's ``DefaultConverter`` makes of an element's ``text``.

    A text whose first character is neither a digit nor ``-`` is a string, except exactly
    ``true``/``false``. A text of digits (optional leading ``-``) is a long (an int with
    ``enforce_32bit_integer``) when Java's ``Long.toString`` of it gives the text back (no
    leading zero, no ``+``, in range). Otherwise it is a double when it parses, is finite and
    Java's ``Double.toString`` gives the text back (``2.2``, ``100.0``, ``1.0E-4``; not
    ``0.0001`` nor ``1e5``); the double is a :class:`JavaDouble`. Anything else stays text.
    """
    if not text:
        return text
    first = text[0]
    if not ("0" <= first <= "9" or first == "-"):
        if text == "true":
            return True
        if text == "false":
            return False
        return text
    if _INTEGER.fullmatch(text):
        number = int(text)
        lo, hi = (_INT_MIN, _INT_MAX) if enforce_32bit_integer else (_LONG_MIN, _LONG_MAX)
        if lo <= number <= hi and str(number) == text:
            return number
        return text  # Double.toString of an integer text always has a '.' or an 'E'
    if negative_exponent_as_string and not _FAST_DOUBLE.fullmatch(text):
        return text
    if not _JAVA_DOUBLE.fullmatch(text):
        return text
    x = float(text)
    if math.isfinite(x) and java_double_to_string(x) == text:
        return JavaDouble(x, text)
    return text


# ------------------------------------------------------------------------------------ JSON
class _Missing:
    pass


_MISSING: Any = _Missing()
_CACHE_LIMIT = 1 << 17


_CACHES: dict[tuple[bool, bool], dict[str, Any]] = {}
_BOOLEANS = frozenset(("true", "false"))


class _Encoder:
    """Tree -> JSON-ready values for one set of quirks."""

    def __init__(self, q: Quirks) -> None:
        self.q = q
        self.mapped = q.single_as_object
        self.typing = q.typing
        self.typed = q.typing == "jettison"
        flags = (q.enforce_32bit_integer, q.negative_exponent_as_string)
        self.flags = flags
        self.cache = _CACHES.setdefault(flags, {})
        mode = q.empty_elements
        self.null: Any = _MISSING if mode == "missing" else (None if mode == "null" else "")

    def text(self, text: str) -> Any:
        """Jettison's typing of ``text``; a double becomes the ``Raw`` number it writes."""
        if not text:
            return text
        first = text[0]
        if not ("0" <= first <= "9" or first == "-"):
            if first == "t" and text == "true":
                return True
            if first == "f" and text == "false":
                return False
            return text
        cache = self.cache
        hit = cache.get(text, _MISSING)
        if hit is not _MISSING:
            return hit
        e32, negexp = self.flags
        value: Any = jettison_value(
            text, enforce_32bit_integer=e32, negative_exponent_as_string=negexp
        )
        if isinstance(value, JavaDouble):
            value = msgspec.Raw(jettison_number_text(value.text).encode())
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[text] = value
        return value

    def scalar(self, value: Any) -> Any:
        typing = self.typing
        if typing == "schema":
            return value
        if typing == "quoted":
            return xml_text(value)
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            q = self.q
            lo, hi = (_INT_MIN, _INT_MAX) if q.enforce_32bit_integer else (_LONG_MIN, _LONG_MAX)
            return value if lo <= value <= hi else str(value)
        return self.text(xml_text(value))

    def attribute(self, value: Any) -> Any:
        # Jettison puts an attribute's text into the JSON object unconverted.
        return value if self.typing == "schema" else xml_text(value)

    def element(self, value: Any) -> Any:
        """One element's JSON value (``_MISSING`` for an omitted ``null``)."""
        kind = type(value)
        if kind is dict:
            return self.obj(value)
        if kind is str:
            return self.text(value) if self.typed else value
        if value is None:
            return self.null
        if kind is list:  # a list inside a list: not produced by the server
            return [self.element(v) for v in value]
        return self.scalar(value)

    def obj(self, tree: Tree) -> Any:
        """An element with children: a JSON object (``""`` when empty, in the mapped style)."""
        out: dict[str, Any] = {}
        mapped = self.mapped
        typed = self.typed
        text = self.text
        element = self.element
        for key, item in tree.items():
            kind = type(item)
            if key[0] == "@":
                out[key] = self.attribute(item)
            elif kind is str:
                if typed and item and (item[0] in _NUMBER_START or item in _BOOLEANS):
                    out[key] = text(item)
                else:
                    out[key] = item
            elif kind is list:
                items = [element(v) for v in item]
                if None in item:
                    items = [c for c in items if c is not _MISSING]
                if mapped:
                    if items:  # no occurrence of a repeated element: no key
                        out[key] = items[0] if len(items) == 1 else items
                else:
                    out[key] = items
            elif kind is dict:
                conv = self.obj(item)
                if key == "details":
                    conv = self.details(conv)
                if conv is not _MISSING:
                    out[key] = conv
            elif item is None:
                if self.null is not _MISSING:
                    out[key] = self.null
            else:
                out[key] = self.scalar(item)
        if not out and mapped:
            return ""  # an empty element: Jettison writes ""
        return out

    def details(self, conv: Any) -> Any:
        q = self.q
        empty = conv == "" or conv == {} or conv == {"entry": []}
        if empty:
            if q.empty_details == "missing":
                return _MISSING
            if q.empty_details == "bare":
                return ""
        return [conv] if q.details_wrapped_in_list else conv


_SLASH, _ESC_SLASH = b"/", b"\\/"
_LT_SLASH, _ESC_LT_SLASH = b"</", b"<\\/"


def encode_json(tree: Tree, quirks: Quirks) -> bytes:
    """Render ``tree`` as JSON (no root wrapper unless ``quirks.root_wrapper``)."""
    body = _Encoder(quirks).obj(tree)
    if body is _MISSING or body is None or body == "":
        body = {}
    if quirks.root_wrapper:
        body = {ROOT: body}
    raw = msgspec.json.encode(body)
    # '/' and '<' only occur inside JSON strings, so these replacements are string escapes.
    if quirks.escape_forward_slash_always:
        if _SLASH in raw:
            raw = raw.replace(_SLASH, _ESC_SLASH)
    elif _LT_SLASH in raw:
        raw = raw.replace(_LT_SLASH, _ESC_LT_SLASH)
    return raw


# ------------------------------------------------------------------------------------- XML
def _esc(text: str) -> str:
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    return text


def _xml(tag: str, value: Any, out: list[str], q: Quirks) -> None:
    if isinstance(value, list):
        for item in value:
            _xml(tag, item, out, q)
        return
    if value is None:
        if q.empty_elements != "missing":
            out.append(f"<{tag}/>")
        return
    if isinstance(value, dict):
        if (
            tag == "details"
            and q.empty_details == "missing"
            and not any(v for k, v in value.items() if not k.startswith("@"))
        ):
            return
        attrs = "".join(
            f' {k[1:]}="{_esc(xml_text(v)).replace(chr(34), "&quot;")}"'
            for k, v in value.items()
            if k.startswith("@")
        )
        mark = len(out)
        out.append(f"<{tag}{attrs}>")
        for key, item in value.items():
            if not key.startswith("@"):
                _xml(key, item, out, q)
        if len(out) == mark + 1:
            out[mark] = f"<{tag}{attrs}/>"
        else:
            out.append(f"</{tag}>")
        return
    out.append(f"<{tag}>{_esc(xml_text(value))}</{tag}>")


def encode_xml(tree: Tree, quirks: Quirks | None = None) -> bytes:
    """Render ``tree`` as an XML document with the ``deviceManagementWebServiceResponse`` root
    (``null`` properties as ``quirks.empty_elements`` says: omitted by default)."""
    out = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>']
    _xml(ROOT, tree, out, quirks if quirks is not None else Quirks())
    return "".join(out).encode()


def encode(tree: Tree, *, xml: bool, quirks: Quirks) -> tuple[bytes, str]:
    """Render ``tree`` in the negotiated format; returns ``(body, content_type)``."""
    if xml:
        return encode_xml(tree, quirks), "application/xml"
    return encode_json(tree, quirks), "application/json"
