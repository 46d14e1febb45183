"""Rendering a reply tree as the XML document JAXB writes, under the
``deviceManagementWebServiceResponse`` root."""

from __future__ import annotations

from typing import Any

from .quirks import Quirks
from .scalars import xml_text
from .tree import ROOT, Tree

__all__ = ["encode_xml"]


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
