"""Jettison's DefaultConverter and Java's Double.toString, as the simulator implements them:
the field notes' examples, known Java outputs, and properties over many floats."""

from __future__ import annotations

import json
import math
import re
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from epmm_async.simulator import Quirks
from epmm_async.simulator.wire import (
    encode_json,
    encode_xml,
    java_double_to_string,
    jettison_number_text,
    jettison_value,
    xml_text,
)

UUID = "8d711cdc-e93c-49b1-88d6-222f54132445"

# (text, what Jettison's DefaultConverter makes of it): the field notes' examples and more.
CONVERTER_TABLE: list[tuple[str, object]] = [
    ("0612345678", "0612345678"),  # leading zero: text, zero kept
    ("4085551212", 4085551212),
    ("4.5.0", "4.5.0"),
    (UUID, UUID),
    ("2024-06-01T00:00:00+00:00", "2024-06-01T00:00:00+00:00"),
    ("38AA3C62BFAD", "38AA3C62BFAD"),
    ("true", True),
    ("false", False),
    ("True", "True"),
    ("FALSE", "FALSE"),
    ("2.2", 2.2),
    ("37.386433", 37.386433),
    ("0.10000000149011612", 0.10000000149011612),
    ("100.0", 100.0),
    ("0.0001", "0.0001"),  # Java writes 1.0E-4
    ("1e5", "1e5"),
    ("1.0E-4", 1.0e-4),
    ("1.0E10", 1.0e10),
    ("15053996032.000000536870912", "15053996032.000000536870912"),
    ("-5", -5),
    ("+1", "+1"),
    ("-0", "-0"),
    ("-0.0", -0.0),
    ("12345678901234567890", "12345678901234567890"),  # 20 digits: beyond a long
    ("9223372036854775807", 9223372036854775807),
    ("-9223372036854775808", -9223372036854775808),
    ("9223372036854775808", "9223372036854775808"),
    ("356938035643809", 356938035643809),
    ("21E236", "21E236"),  # an iOS build number: Double.toString is 2.1E237
    ("1.0E400", "1.0E400"),  # infinite
    ("NaN", "NaN"),
    ("Infinity", "Infinity"),
    ("", ""),
    ("-", "-"),
    (" 1", " 1"),
    ("1 ", "1 "),
    ("1_000", "1_000"),
    ("1.5d", "1.5d"),
    ("0x10", "0x10"),
    ("\u0661\u0662", "\u0661\u0662"),  # Arabic-Indic digits
    ("1.0", 1.0),
    ("1.00", "1.00"),
    ("01.5", "01.5"),
]


def _same(got: object, expected: object) -> bool:
    if isinstance(expected, bool) or isinstance(got, bool):
        return got is expected
    if isinstance(expected, float):
        return isinstance(got, float) and (
            got == expected and math.copysign(1, got) == math.copysign(1, expected)
        )
    return type(got) is type(expected) and got == expected


@pytest.mark.parametrize(("text", "expected"), CONVERTER_TABLE)
def test_converter_rule(text: str, expected: object) -> None:
    assert _same(jettison_value(text), expected), (text, jettison_value(text))


@pytest.mark.parametrize(
    ("text", "enforced"),
    [
        ("2147483647", 2147483647),
        ("-2147483648", -2147483648),
        ("2147483648", "2147483648"),
        ("-2147483649", "-2147483649"),
        ("4085551212", "4085551212"),
        ("356938035643809", "356938035643809"),
        ("97", 97),
        ("1.5", 1.5),
    ],
)
def test_enforce_32bit_integer(text: str, enforced: object) -> None:
    assert _same(jettison_value(text, enforce_32bit_integer=True), enforced)
    assert _same(jettison_value(text), float(text) if "." in text else int(text))


def test_negative_exponent_as_string() -> None:
    assert jettison_value("1.0E-4", negative_exponent_as_string=True) == "1.0E-4"
    assert jettison_value("1.0E10", negative_exponent_as_string=True) == 1.0e10
    assert jettison_value("-2.5", negative_exponent_as_string=True) == -2.5


# Known outputs of Java's Double.toString (JDK 19+).
JAVA_TABLE: list[tuple[float, str]] = [
    (0.0, "0.0"),
    (-0.0, "-0.0"),
    (1.0, "1.0"),
    (100.0, "100.0"),
    (2.2, "2.2"),
    (0.1 + 0.2, "0.30000000000000004"),
    (1e-4, "1.0E-4"),
    (0.001, "0.001"),
    (0.0009999999999999998, "9.999999999999998E-4"),
    (9999999.0, "9999999.0"),
    (1e7, "1.0E7"),
    (123456789.0, "1.23456789E8"),
    (1e23, "1.0E23"),
    (2e23, "2.0E23"),
    (-1.5e-7, "-1.5E-7"),
    (5e-324, "4.9E-324"),  # Double.MIN_VALUE: two digits, not 5E-324
    (sys.float_info.max, "1.7976931348623157E308"),
    (sys.float_info.min, "2.2250738585072014E-308"),
    (float(2**63), "9.223372036854776E18"),
    (math.nan, "NaN"),
    (math.inf, "Infinity"),
    (-math.inf, "-Infinity"),
]


@pytest.mark.parametrize(("x", "text"), JAVA_TABLE)
def test_java_double_to_string_known(x: float, text: str) -> None:
    assert java_double_to_string(x) == text


_PLAIN = re.compile(r"-?(0|[1-9][0-9]*)\.([0-9]+)")
_SCI = re.compile(r"-?[1-9]\.([0-9]+)E(-?[1-9][0-9]*)")


def _significant(text: str) -> str:
    mantissa = text.lstrip("-").upper().split("E")[0].replace(".", "")
    return mantissa.lstrip("0").rstrip("0") or "0"


def _check_java_format(x: float) -> str:
    text = java_double_to_string(x)
    assert float(text) == x
    if x == 0:
        assert text == ("-0.0" if math.copysign(1, x) < 0 else "0.0")
        return text
    ax = abs(x)
    m = _PLAIN.fullmatch(text) if 1e-3 <= ax < 1e7 else _SCI.fullmatch(text)
    assert m is not None, (x, text)
    frac = m.group(1) if _SCI.fullmatch(text) else m.group(2)
    assert frac == "0" or not frac.endswith("0"), text  # no padding beyond one digit
    shortest = _significant(repr(ax))
    sig = _significant(text)
    # the shortest round-trip digits, or two of them when one would do (Java's rule)
    assert len(sig) == len(shortest) or (len(shortest) == 1 and len(sig) == 2), (x, text)
    if len(sig) == len(shortest):
        assert sig == shortest, (x, text)
    return text


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_java_double_to_string_any_float(x: float) -> None:
    text = _check_java_format(x)
    if x != 0:
        assert text.startswith("-") == (x < 0)


@given(st.floats(min_value=1e-3, max_value=1e7, exclude_max=True))
def test_java_double_to_string_plain_range(x: float) -> None:
    text = _check_java_format(x)
    assert "E" not in text
    # the converter takes Java's own text back as that double
    value = jettison_value(text)
    assert isinstance(value, float) and value == x


@given(
    st.one_of(
        st.floats(min_value=1e7, max_value=1e300),
        st.floats(min_value=1e-300, max_value=1e-3, exclude_max=True),
    )
)
def test_java_double_to_string_scientific_range(x: float) -> None:
    text = _check_java_format(x)
    assert "E" in text
    value = jettison_value(text)
    assert isinstance(value, float) and value == x
    negative = "E-" in text
    kept = jettison_value(text, negative_exponent_as_string=True)
    assert kept == text if negative else kept == x


@given(st.floats(min_value=-1e6, max_value=1e6).filter(lambda x: x != 0))
def test_python_text_of_a_float_is_typed_only_when_java_agrees(x: float) -> None:
    # What a details value holds is Python's text of a float: a number iff Java writes it so.
    text = repr(x)
    value = jettison_value(text)
    if java_double_to_string(x) == text:
        assert isinstance(value, float) and value == x
    else:
        assert value == text


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_longs_are_numbers(n: int) -> None:
    assert _same(jettison_value(str(n)), n)
    assert jettison_value("0" + str(abs(n))) == "0" + str(abs(n))  # a leading zero: text
    fits = -(2**31) <= n < 2**31
    assert _same(jettison_value(str(n), enforce_32bit_integer=True), n if fits else str(n))


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_jettison_writes_doubles_it_can_read_back(x: float) -> None:
    java = java_double_to_string(x)
    written = jettison_number_text(java)
    assert float(written) == x
    assert json.loads(written) == x
    if "E" not in java:
        assert not (written.endswith("0") and "." in written)


def test_trees_of_text_are_the_same_in_both_formats() -> None:
    tree = {
        "@id": 7,
        "flag": True,
        "count": 3,
        "ratio": 100.0,
        "tiny": 1e-5,
        "big": 2**40,
        "huge": 2**70,
        "phone": "0612345678",
        "name": "x",
    }
    xml = encode_xml(tree).decode()
    for key in ("flag", "count", "ratio", "tiny", "big", "huge", "phone", "name"):
        assert f"<{key}>{xml_text(tree[key])}</{key}>" in xml
    assert 'id="7"' in xml and "<ratio>100.0</ratio>" in xml and "<tiny>1.0E-5</tiny>" in xml
    raw = encode_json(tree, Quirks()).decode()
    assert '"ratio":100,' in raw  # Jettison shaves the ".0" off a double it writes
    assert '"tiny":1.0E-5' in raw
    data = json.loads(raw)
    assert data == {
        "@id": "7",
        "flag": True,
        "count": 3,
        "ratio": 100,
        "tiny": 1e-5,
        "big": 2**40,
        "huge": str(2**70),
        "phone": "0612345678",
        "name": "x",
    }
    quoted = json.loads(encode_json(tree, Quirks(typing="quoted")))
    assert quoted == {k: xml_text(v) for k, v in tree.items()}
    e32 = json.loads(encode_json(tree, Quirks(enforce_32bit_integer=True)))
    assert e32["big"] == str(2**40) and e32["count"] == 3
    neg = json.loads(encode_json(tree, Quirks(negative_exponent_as_string=True)))
    assert neg["tiny"] == "1.0E-5" and neg["ratio"] == 100


def test_quirks_validate() -> None:
    with pytest.raises(ValueError, match="typing"):
        Quirks(typing="yaml")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no_role_status"):
        Quirks(no_role_status=404)
    assert Quirks(numeric_strings_as_numbers=True).typing == "jettison"
    assert Quirks(scalars_as_strings=False).typing == "schema"
