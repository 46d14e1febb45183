"""The text a server meant by a JSON number or boolean.

EPMM's JSON comes from Jettison, which writes an element's text as a bare JSON number or
boolean when the text round-trips as a Java long, double or boolean, and leaves any other text
quoted (field-notes.md, "Typed JSON"). So a number on the wire stands for exactly one text: the
one Java's ``Long.toString``/``Double.toString`` writes for it. :func:`scalar_text` gives that
text back, so a phone number sent as ``4085551212`` reads as ``"4085551212"`` and a version
sent as ``15.8`` reads as ``"15.8"``.
"""

from __future__ import annotations

import decimal
import math

__all__ = ["java_double_text", "scalar_text"]


def java_double_text(value: float) -> str:
    """``value`` as Java's ``Double.toString`` writes it (shortest round-trip digits).

    Plain decimal notation for ``1e-3 <= |value| < 1e7`` with at least one digit after the
    point (``100.0``), scientific ``d.dddE±n`` otherwise (``1.0E-4``, ``1.2345E10``).
    """
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    shortest = repr(value)
    if 1e-3 <= abs(value) < 1e7:
        # repr writes this whole range in plain notation with a point ("0.001", "100.0").
        return shortest
    sign, digits, exponent = decimal.Decimal(shortest).as_tuple()
    text = "".join(map(str, digits)).rstrip("0") or "0"
    power = int(exponent) + len(digits) - 1
    return f"{'-' if sign else ''}{text[0]}.{text[1:] or '0'}E{power}"


def scalar_text(value: object) -> str:
    """The text a decoded JSON scalar stands for (``True`` -> ``"true"``, ``87`` -> ``"87"``)."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        return java_double_text(value)
    return str(value)
