"""Format negotiation: which format a request's ``Accept`` header asks for, and the tree
rendered in it."""

from __future__ import annotations

from .json_writer import encode_json
from .quirks import Quirks
from .tree import Tree
from .xml_writer import encode_xml

__all__ = ["encode", "wants_xml"]


def wants_xml(accept: str | None) -> bool:
    """Whether an ``Accept`` header asks for XML (no header or ``*/*`` means JSON)."""
    if not accept:
        return False
    low = accept.lower()
    if "json" in low:
        return low.find("xml") != -1 and low.find("xml") < low.find("json")
    return "xml" in low


def encode(tree: Tree, *, xml: bool, quirks: Quirks) -> tuple[bytes, str]:
    """Render ``tree`` in the negotiated format; returns ``(body, content_type)``."""
    if xml:
        return encode_xml(tree, quirks), "application/xml"
    return encode_json(tree, quirks), "application/json"
