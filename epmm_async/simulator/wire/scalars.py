"""The text of a scalar and what Jettison makes of it.

:func:`xml_text` is what JAXB prints (``true``/``false``, decimal integers, Java's
``Double.toString`` for floats); XML carries that text, and JSON types it with Jettison's
``DefaultConverter`` (:func:`jettison_value`), so ``"97"`` is sent as ``97`` and
``"0612345678"`` stays a string.
"""

from __future__ import annotations

import math
import re
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Any

__all__ = [
    "JavaDouble",
    "integer_range",
    "java_double_to_string",
    "jettison_number_text",
    "jettison_value",
    "xml_text",
]

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


_LONG_RANGE = (-(1 << 63), (1 << 63) - 1)
_INT_RANGE = (-(1 << 31), (1 << 31) - 1)


def integer_range(enforce_32bit_integer: bool) -> tuple[int, int]:
    """The integers Jettison writes as numbers: a Java int's range with
    ``enforce_32bit_integer``, else a Java long's."""
    return _INT_RANGE if enforce_32bit_integer else _LONG_RANGE


_INTEGER = re.compile(r"-?[0-9]+")
_FAST_DOUBLE = re.compile(r"-?[0-9.eE]+")
# Every Double.toString of a finite double has this shape: a cheap necessary condition.
_JAVA_DOUBLE = re.compile(r"-?[0-9]+\.[0-9]+(?:E-?[0-9]+)?")


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
        lo, hi = integer_range(enforce_32bit_integer)
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
