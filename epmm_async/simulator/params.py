"""Reading request parameters as the server does: names without regard to case (the first of
a name sent twice wins), booleans, counts and Wi-Fi MACs."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from .replies import Bad

__all__ = ["FORM", "MAC_SEP", "norm_mac", "params", "parse_bool", "parse_int"]

FORM = "application/x-www-form-urlencoded"
"""Content type of a form body."""

MAC_SEP = re.compile(r"[:\-.\s]")
"""Separators a MAC may be written with (``38:AA:3C``, ``38-aa-3c``, ``38aa.3c``)."""

_MAC_RE = re.compile(r"[0-9A-F]{12}")


def norm_mac(text: str) -> str | None:
    """``text`` as 12 upper-case hex digits, or None when it is not a MAC."""
    mac = MAC_SEP.sub("", text.strip()).upper()
    return mac if _MAC_RE.fullmatch(mac) else None


def params(request: web.Request) -> dict[str, str]:
    """Query parameters by lower-cased name: names are matched without regard to case, and
    when one arrives twice (``Reason=a&reason=b``) the first occurrence wins."""
    out: dict[str, str] = {}
    for key, value in request.query.items():
        out.setdefault(key.lower(), value)
    return out


def parse_bool(value: str | None, name: str, default: bool | None = None) -> bool | None:
    """``true``/``1``/``yes`` or ``false``/``0``/``no`` (any case); absent or empty is
    ``default``; anything else is a 400."""
    if value is None or value == "":
        return default
    low = value.strip().lower()
    if low in ("true", "1", "yes"):
        return True
    if low in ("false", "0", "no"):
        return False
    raise Bad(400, f"Invalid value for {name}: {value!r} (expected true or false)")


def parse_int(value: str | None, name: str, default: int | None) -> Any:
    """A count of zero or more; absent or empty is ``default``; anything else is a 400."""
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise Bad(400, f"Invalid value for {name}: {value!r}") from None
    if number < 0:
        raise Bad(400, f"Invalid value for {name}: {value!r}")
    return number
