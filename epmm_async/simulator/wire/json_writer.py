"""Rendering a reply tree as JSON the way Apache CXF with Jettison's "mapped" convention
writes it, each scalar typed as :attr:`Quirks.typing` says."""

from __future__ import annotations

from typing import Any

import msgspec

from .quirks import Quirks
from .scalars import JavaDouble, integer_range, jettison_number_text, jettison_value, xml_text
from .tree import ROOT, Tree

__all__ = ["encode_json"]


class _Missing:
    pass


_MISSING: Any = _Missing()
_CACHE_LIMIT = 1 << 17


_CACHES: dict[tuple[bool, bool], dict[str, Any]] = {}
_BOOLEANS = frozenset(("true", "false"))
_NUMBER_START = frozenset("0123456789-")


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
            lo, hi = integer_range(self.q.enforce_32bit_integer)
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
