"""The v2 device-search query builder: rendering, escaping, values, negation, limits, guards."""

from __future__ import annotations

import dataclasses
import enum
import unicodedata
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from query_reference import MODES, parse

from epmm_async.errors import ValidationError
from epmm_async.v2 import Field, Q, Query, query_text
from epmm_async.v2.query import MAX_QUERY_LENGTH, And, Comparison, Operator, Or

platform = Q.field("common.platform")
udid = Q.field("ios.iPhone UDID")
compliant = Q.field("common.compliant")
level = Q.field("common.battery_level")
seen = Q.field("common.last_connected_at")


class Platform(enum.StrEnum):
    ANDROID = "Android"


class Level(enum.IntEnum):
    FULL = 100


class Plain(enum.Enum):
    IOS = "iOS"
    ODD = object()


# --- every operator --------------------------------------------------------------------

@pytest.mark.parametrize(
    ("query", "text"),
    [
        (platform == "Android", '"common.platform"="Android"'),
        (platform != "Android", '"common.platform"!="Android"'),
        (level < 5, '"common.battery_level"<5'),
        (level <= 5, '"common.battery_level"<=5'),
        (level > 5, '"common.battery_level">5'),
        (level >= 5, '"common.battery_level">=5'),
        (platform.contains("droid"), '"common.platform" "contains" "droid"'),
        (platform.does_not_contain("droid"), '"common.platform" "does not contain" "droid"'),
        (platform.starts_with("And"), '"common.platform" "starts with" "And"'),
        (udid.is_empty(), '"ios.iPhone UDID" "is empty"'),
        (udid.is_not_empty(), '"ios.iPhone UDID" "is not empty"'),
    ],
)
def test_every_operator_renders(query: Query, text: str) -> None:
    assert str(query) == text
    assert query.render() == text
    assert query_text(query) == text


def test_the_specs_example_renders_as_seen_working() -> None:
    q = (Q.field("common.status") == "ACTIVE") & (compliant == False)  # noqa: E712
    assert str(q) == '"common.status"="ACTIVE" AND "common.compliant"=false'


def test_reflected_comparisons_build_the_same_query() -> None:
    # str.__eq__ gives way to Field's reflected __eq__ (mypy assumes str's bool).
    assert ("Android" == platform) == (platform == "Android")  # type: ignore[comparison-overlap]
    assert (5 < level) == (level > 5)
    assert (5 >= level) == (level <= 5)


def test_a_hand_built_comparison_is_checked_like_a_built_one() -> None:
    assert Comparison("common.platform", "=", "Android") == (platform == "Android")  # type: ignore[arg-type]
    assert Comparison("common.platform", Operator.EQ, "Android").op is Operator.EQ
    with pytest.raises(ValidationError, match="unknown operator"):
        Comparison("common.platform", "~=", "x")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="takes no value"):
        Comparison("common.platform", Operator.IS_EMPTY, "x")
    with pytest.raises(ValidationError, match="control"):
        Comparison("common.platform", Operator.EQ, "a\nb")


# --- escaping --------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ('say "hi"', r'"say \"hi\""'),
        ("C:\\dir\\", r'"C:\\dir\\"'),
        ('\\"', r'"\\\""'),
        ("", '""'),
        ("日本語 é 😀", '"日本語 é 😀"'),
        ("  spaced  ", '"  spaced  "'),
        ("a AND b", '"a AND b"'),
    ],
)
def test_strings_are_quoted_with_backslash_escapes(value: str, literal: str) -> None:
    assert str(platform == value) == f'"common.platform"={literal}'


def test_an_injection_attempt_stays_one_string() -> None:
    q = platform == 'x" OR "common.platform"="iOS'
    for mode in MODES:
        assert parse(str(q), mode) == ("cmp", "common.platform", Operator.EQ,
                                       'x" OR "common.platform"="iOS')


SAFE_TEXT = st.text(st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp")), max_size=40)


@settings(max_examples=500, deadline=None)
@given(SAFE_TEXT)
def test_any_representable_string_round_trips(value: str) -> None:
    for q in (platform == value, udid.contains(value)):
        for mode in MODES:
            assert parse(str(q), mode)[3] == value


@pytest.mark.parametrize("ch", ["\n", "\r", "\t", "\x00", "\x1b", "\x7f", "\x85", "\u2028",
                                "\u2029"])
def test_control_and_line_break_characters_are_refused(ch: str) -> None:
    with pytest.raises(ValidationError) as info:
        platform == f"secret{ch}"  # noqa: B015
    message = str(info.value)
    assert "position 6" in message and f"U+{ord(ch):04X}" in message
    assert "secret" not in message  # the value may be a secret: never echoed


def test_a_lone_surrogate_is_refused() -> None:
    with pytest.raises(ValidationError, match="U\\+DCFF"):
        platform.contains("ab\udcff")


def test_format_characters_like_the_emoji_joiner_pass() -> None:
    family = "👨\u200d👩\u200d👧"
    assert unicodedata.category("\u200d") == "Cf"
    assert str(platform == family) == f'"common.platform"="{family}"'


# --- field names -----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["ios.iPhone UDID", "a.b.c", "custom.a b c", "日本.語",
                                  "user.e-mail_address"])
def test_field_names_are_always_quoted(name: str) -> None:
    assert str(Q.field(name).is_empty()) == f'"{name}" "is empty"'
    assert Q.field(name).name == name


@pytest.mark.parametrize(
    ("name", "why"),
    [("", "dotted"), ("common", "dotted"), (".x", "dotted"), ("x.", "dotted"),
     ("a..b", "dotted"), ("a. b", "dotted"), ("a .b", "dotted"), ('a."b"', '"'),
     ("a.b\\c", '"'), ("a.b\n", "control"), ("a.\udcff", "UTF-8")],
)
def test_bad_field_names_are_refused(name: str, why: str) -> None:
    with pytest.raises(ValidationError, match=why):
        Q.field(name)


def test_a_field_name_must_be_a_string() -> None:
    with pytest.raises(ValidationError, match="string"):
        Q.field(5)  # type: ignore[arg-type]


# --- values ----------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("query", "literal"),
    [
        (compliant == True, "true"),  # noqa: E712
        (compliant == False, "false"),  # noqa: E712
        (level == 0, "0"),
        (level == -12, "-12"),
        (level == 10**20, "100000000000000000000"),
        (level == 1.5, "1.5"),
        (level == -0.25, "-0.25"),
        (level < 1e-7, "0.0000001"),
        (level > 1e22, "10000000000000000000000"),
        (platform == Platform.ANDROID, '"Android"'),
        (level >= Level.FULL, "100"),
        (platform == Plain.IOS, '"iOS"'),
        (platform.contains(Platform.ANDROID), '"Android"'),
    ],
)
def test_values_render(query: Comparison, literal: str) -> None:
    assert query.literal == literal
    assert str(query).endswith(literal)


def test_one_and_true_are_different_queries() -> None:
    assert (level == 1) != (level == True)  # noqa: E712
    assert len({level == 1, level == True, level == 1.0}) == 3  # noqa: E712


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2020, 11, 9, 7, 38, 22, tzinfo=UTC), "2020-11-09T07:38:22.000Z"),
        (datetime(2020, 11, 9, 9, 38, 22, 123999, tzinfo=timezone(timedelta(hours=2))),
         "2020-11-09T07:38:22.123Z"),
        (datetime(5, 1, 2, 3, 4, 5, 6000, tzinfo=UTC), "0005-01-02T03:04:05.006Z"),
    ],
)
def test_datetimes_are_quoted_utc_to_the_millisecond(moment: datetime, text: str) -> None:
    assert str(seen > moment) == f'"common.last_connected_at">"{text}"'


def test_naive_datetimes_and_dates_are_refused() -> None:
    with pytest.raises(ValidationError, match="timezone-aware"):
        seen > datetime(2020, 11, 9)  # noqa: B015
    with pytest.raises(ValidationError, match="not a date"):
        seen > date(2020, 11, 9)  # type: ignore[operator]  # noqa: B015


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: platform == None, "is_empty"),  # noqa: E711
        (lambda: level == float("nan"), "nan"),
        (lambda: level < float("inf"), "inf"),
        (lambda: level == Decimal("1.5"), "Decimal"),
        (lambda: platform == ["a"], "list"),
        (lambda: platform == b"x", "bytes"),
        (lambda: platform == Plain.ODD, "object"),
        (lambda: platform.contains(5), "takes a string"),  # type: ignore[arg-type]
        (lambda: platform.starts_with(True), "takes a string"),  # type: ignore[arg-type]
        (lambda: compliant < True, "boolean"),
        (lambda: platform == udid, "not a field"),  # type: ignore[operator]
        (lambda: platform == (udid == "x"), "not a field"),
    ],
)
def test_values_that_cannot_be_written_are_refused(build: object, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        build()  # type: ignore[operator]


# --- precedence and structure ----------------------------------------------------------

a, b, c, d = (Q.field(f"t.{n}") == 1 for n in "abcd")


@pytest.mark.parametrize(
    ("query", "text"),
    [
        (a & b & c, '"t.a"=1 AND "t.b"=1 AND "t.c"=1'),
        (a & (b & c), '"t.a"=1 AND "t.b"=1 AND "t.c"=1'),
        (a | b | c, '"t.a"=1 OR "t.b"=1 OR "t.c"=1'),
        (a | (b & c), '"t.a"=1 OR ("t.b"=1 AND "t.c"=1)'),
        ((a & b) | c, '("t.a"=1 AND "t.b"=1) OR "t.c"=1'),
        (a & (b | c), '"t.a"=1 AND ("t.b"=1 OR "t.c"=1)'),
        ((a | b) & (c | d), '("t.a"=1 OR "t.b"=1) AND ("t.c"=1 OR "t.d"=1)'),
        (a | (b & (c | d)), '"t.a"=1 OR ("t.b"=1 AND ("t.c"=1 OR "t.d"=1))'),
    ],
)
def test_a_mix_of_and_and_or_is_always_parenthesised(query: Query, text: str) -> None:
    assert str(query) == text


def test_runs_are_flattened_so_equal_trees_are_equal() -> None:
    assert (a & b) & c == a & (b & c) == Q.all_of(a, b, c)
    assert isinstance(a & b & c, And) and len((a & b & c).parts) == 3
    assert (a | b) | c == a | (b | c) == Q.any_of(a, b, c)
    both: Query = a & b
    assert both != a | b


def test_all_of_and_any_of() -> None:
    assert Q.all_of(a) is a and Q.any_of(a) is a
    with pytest.raises(ValidationError, match="And of no query"):
        Q.all_of()
    with pytest.raises(ValidationError, match="Or of no query"):
        Q.any_of()
    with pytest.raises(ValidationError, match="takes queries"):
        Q.all_of(a, "t.b=1")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="at least two"):
        And((a,))
    with pytest.raises(ValidationError, match="tuple"):
        Or([a, b])  # type: ignore[arg-type]


def test_combining_with_a_non_query_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        a & "t.b=1"  # type: ignore[operator]
    with pytest.raises(TypeError):
        True | a  # type: ignore[operator]
    with pytest.raises(TypeError):
        platform & a  # type: ignore[operator]


# --- negation --------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("query", "opposite"),
    [
        (platform == "x", platform != "x"),
        (platform.contains("x"), platform.does_not_contain("x")),
        (udid.is_empty(), udid.is_not_empty()),
    ],
)
def test_negation_uses_the_documented_opposites(query: Query, opposite: Query) -> None:
    assert ~query == opposite
    assert ~opposite == query


@pytest.mark.parametrize("query", [level < 1, level <= 1, level > 1, level >= 1,
                                   platform.starts_with("x"), a & (level < 1)])
def test_negation_without_an_exact_opposite_is_refused(query: Query) -> None:
    with pytest.raises(ValidationError, match="no NOT"):
        ~query  # noqa: B018


def test_negating_a_junction_uses_de_morgan() -> None:
    assert str(~(a & platform.contains("x"))) == (
        '"t.a"!=1 OR "common.platform" "does not contain" "x"')
    assert ~(a | (b & c)) == (~a) & ((~b) | (~c))
    assert ~~(a | (b & c)) == a | (b & c)


# --- the bool() guard, immutability, hashing, reprs -----------------------------------

@pytest.mark.parametrize("query", [a, a & b, a | b])
def test_a_query_has_no_truth_value(query: Query) -> None:
    with pytest.raises(TypeError, match="&"):
        bool(query)
    with pytest.raises(TypeError):
        not query  # noqa: B018
    with pytest.raises(TypeError):
        (platform == "a") and (udid == "b")  # noqa: B018
    with pytest.raises(TypeError):
        if query:
            pass


def test_queries_are_immutable_and_hashable() -> None:
    q = a | (b & c)
    with pytest.raises(dataclasses.FrozenInstanceError):
        q.parts = ()  # type: ignore[misc]  # frozen: mypy knows
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.field = "t.z"  # type: ignore[misc]
    again = (Q.field("t.a") == 1) | ((Q.field("t.b") == 1) & (Q.field("t.c") == 1))
    assert q == again and hash(q) == hash(again)
    assert len({q, again, a}) == 2
    assert {q: 1}[again] == 1


def test_a_field_is_immutable_and_not_hashable() -> None:
    with pytest.raises(AttributeError):
        platform.name = "x.y"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del platform.name
    with pytest.raises(AttributeError):
        platform._name = "x.y"
    with pytest.raises(TypeError):
        hash(platform)
    with pytest.raises(TypeError):
        {platform: 1}  # noqa: B018
    assert isinstance(platform == "x", Comparison)  # == builds a query, never a bool


def test_reprs_show_the_text() -> None:
    assert repr(platform) == "Field('common.platform')"
    assert repr(platform == "Android") == """Comparison('"common.platform"="Android"')"""
    assert repr(a & (b | c)) == """And('"t.a"=1 AND ("t.b"=1 OR "t.c"=1)')"""
    assert repr(a | b).startswith("Or(")


def test_q_is_a_namespace() -> None:
    with pytest.raises(TypeError):
        Q()
    assert isinstance(Q.field("a.b"), Field)


# --- query_text: the length limit and plain strings ----------------------------------

def _query_of_length(n: int, filler: str = "a") -> Query:
    q = Q.field("common.x") == filler * (n - len('"common.x"=""'))
    assert len(str(q)) == n
    return q


def test_255_characters_pass_and_256_are_refused() -> None:
    assert MAX_QUERY_LENGTH == 255
    assert query_text(_query_of_length(255)) == str(_query_of_length(255))
    with pytest.raises(ValidationError, match="query is 256 characters; the limit is 255"):
        query_text(_query_of_length(256))
    assert len(str(_query_of_length(300))) == 300  # rendering itself does not check


def test_the_limit_counts_characters_not_bytes() -> None:
    for filler in ("é", "日", "😀"):
        q = _query_of_length(255, filler)
        assert len(str(q).encode()) > 255
        assert query_text(q) == str(q)
        with pytest.raises(ValidationError, match="256 characters"):
            query_text(_query_of_length(256, filler))
    assert query_text("é" * 255) == "é" * 255


def test_the_limit_counts_escapes() -> None:
    q = platform == '"' * 120  # 120 characters written as 240
    assert len(str(q)) == len('"common.platform"=""') + 240
    with pytest.raises(ValidationError, match=f"{len(str(q))} characters"):
        query_text(q)


def test_plain_strings_are_sent_verbatim() -> None:
    text = '"common.status"="ACTIVE" AND "common.compliant"=false'
    assert query_text(text) == text
    assert query_text("") == ""  # every device
    assert query_text("x" * 255) == "x" * 255
    with pytest.raises(ValidationError, match="256 characters"):
        query_text("x" * 256)
    with pytest.raises(ValidationError, match="UTF-8"):
        query_text("bad \udcff")


@pytest.mark.parametrize("value", [None, 5, b"x", platform])
def test_query_text_takes_a_query_or_a_string(value: object) -> None:
    with pytest.raises(ValidationError, match="Query or a string"):
        query_text(value)  # type: ignore[arg-type]
