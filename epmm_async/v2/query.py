"""A builder for API v2 device-search queries, so callers never concatenate query strings.

    q = (Q.field("common.platform") == "Android") & ((Q.field("common.compliant") == False)
                                                     | Q.field("ios.iPhone UDID").is_empty())
    query_text(q)  # '"common.platform"="Android" AND ("common.compliant"=false OR ...)'

Pure, no I/O. A query is an immutable, hashable tree of :class:`Comparison`, :class:`And`
and :class:`Or`, checked when built, so a bad value fails where it was written.

Documented (spec ``epmm-v2-subset.md``): ``"field" OP value`` joined by ``AND`` / ``OR``
with parentheses, strings double-quoted, booleans bare, the :class:`Operator` set, 0-255
characters. Where the spec is silent this module chose:

* **Escaping** [guess]: in a quoted string ``\\`` becomes ``\\\\`` and ``"`` becomes
  ``\\"``, nothing else. Control characters (category Cc: NUL, tab, newline...), U+2028,
  U+2029 and lone surrogates are refused (:class:`~epmm_async.errors.ValidationError`, naming
  the position and code point, never the text): no documented escape writes them. Other
  Unicode passes. Field names are always quoted (they hold spaces: ``ios.iPhone UDID``); one
  with ``"``, ``\\`` or a refused character is refused (does the server unescape names?).
* **Spacing**: ``"common.status"="ACTIVE"`` (symbolic operators unspaced, as seen working),
  ``"common.ip_address" "contains" "1.2.3.4"`` (word operators quoted and spaced).
* **Values**: ``str`` quoted; ``bool`` bare ``true``/``false``; ``int`` bare; ``float`` bare,
  positional (never ``1e-05``; NaN, infinities refused); an aware ``datetime`` in UTC in the
  v2 timestamp shape, **quoted**, truncated to the millisecond: ``"2020-11-09T07:38:22.000Z"``
  [guess: bare, its ``:`` and ``-`` may not lex as one token]; naive datetimes and dates
  refused; an ``enum.Enum`` by its value. ``None`` is refused (use :meth:`Field.is_empty`);
  the text operators take strings only, the ordering ones no booleans.
* **Precedence**: undocumented, so an OR inside an AND, and an AND inside an OR, is always
  parenthesised; runs of one operator are flattened (``a & (b & c)`` is ``a AND b AND c``:
  associative, so any reading agrees). The server reads the Python tree whether it puts AND
  first, OR first, or reads left to right.
* **Negation**: there is no NOT, and none is invented. ``~`` maps a comparison to its
  documented opposite (``=``/``!=``, ``contains``/``does not contain``, ``is empty``/``is not
  empty``), an And/Or by De Morgan (``~(a & b)`` is ``~a | ~b``). Ordering and ``starts
  with`` are refused: for a device lacking the field ``>=`` is not the opposite of ``<``;
  ``starts with`` has no opposite. (How ``!=`` treats a device lacking the field is unknown.)
* **Length**: characters (code points), as the spec says, not UTF-8 bytes: ``"é"`` counts 1.
  Checked by :func:`query_text`, not by :meth:`Query.render`.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import unicodedata
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Final, TypeAlias

from ..errors import ValidationError
from ..validation import validate_encodable

__all__ = ["MAX_QUERY_LENGTH", "And", "Comparison", "Field", "Operator", "Or", "Q", "Query",
           "Value", "query_text"]

MAX_QUERY_LENGTH: Final = 255
"""The documented limit on a device-search query, in characters."""

Value: TypeAlias = str | bool | int | float | datetime | enum.Enum
"""What a comparison compares a field with."""


class Operator(enum.StrEnum):
    """The documented operators; the value is the operator's text without its quotes."""

    EQ = "="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    CONTAINS = "contains"
    DOES_NOT_CONTAIN = "does not contain"
    STARTS_WITH = "starts with"
    IS_EMPTY = "is empty"
    IS_NOT_EMPTY = "is not empty"


_ORDERING: Final = frozenset({Operator.LT, Operator.LE, Operator.GT, Operator.GE})
_SYMBOLIC: Final = _ORDERING | {Operator.EQ, Operator.NE}
_TEXTUAL: Final = frozenset({Operator.CONTAINS, Operator.DOES_NOT_CONTAIN, Operator.STARTS_WITH})
_UNARY: Final = frozenset({Operator.IS_EMPTY, Operator.IS_NOT_EMPTY})
# Only pairs the language names as opposites; see the module docstring on negation.
_OPPOSITE: Final = {
    Operator.EQ: Operator.NE, Operator.NE: Operator.EQ,
    Operator.CONTAINS: Operator.DOES_NOT_CONTAIN, Operator.DOES_NOT_CONTAIN: Operator.CONTAINS,
    Operator.IS_EMPTY: Operator.IS_NOT_EMPTY, Operator.IS_NOT_EMPTY: Operator.IS_EMPTY,
}
_REFUSED_CATEGORIES: Final = frozenset({"Cc", "Zl", "Zp"})


def _check_characters(text: str, *, what: str) -> str:
    validate_encodable(text, what=what)
    for i, ch in enumerate(text):
        if unicodedata.category(ch) in _REFUSED_CATEGORIES:
            raise ValidationError(f"{what} has a control or line-break character at position "
                                  f"{i} (U+{ord(ch):04X}), which a query cannot represent")
    return text


def _check_field_name(name: object) -> str:
    if not isinstance(name, str):
        raise ValidationError(f"field name must be a string, got {type(name).__name__}")
    _check_characters(name, what="field name")
    if '"' in name or "\\" in name:
        raise ValidationError(f'field name {name!r} holds " or \\, which a query cannot quote')
    parts = name.split(".")
    if len(parts) < 2 or any(not p or p != p.strip() for p in parts):
        raise ValidationError(f"field name {name!r} must be dotted text like 'common.platform' "
                              "(non-empty parts, no space next to a dot)")
    return name


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _timestamp(value: datetime) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError("a datetime in a query must be timezone-aware (the server uses UTC)")
    u = value.astimezone(UTC)
    return (f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:"
            f"{u.second:02d}.{u.microsecond // 1000:03d}Z")


def _float(value: float) -> str:
    if not math.isfinite(value):
        raise ValidationError(f"a query cannot compare with {value!r}")
    text = repr(value)
    # repr switches to exponents for very small or large numbers; the grammar shows none.
    return format(Decimal(text), "f") if "e" in text or "E" in text else text


def _literal(op: Operator, value: object) -> str:
    """The text of ``value`` as ``op``'s operand, or raise if the pair cannot be written."""
    if op in _UNARY:
        if value is not None:
            raise ValidationError(f'"{op.value}" takes no value')
        return ""
    raw = value.value if isinstance(value, enum.Enum) else value
    if raw is None:
        raise ValidationError("a query cannot compare with None: use .is_empty()")
    if op in _TEXTUAL and not isinstance(raw, str):
        raise ValidationError(f'"{op.value}" takes a string, got {type(raw).__name__}')
    if isinstance(raw, str):
        return _quote(_check_characters(raw, what="query value"))
    if isinstance(raw, bool):
        if op in _ORDERING:
            raise ValidationError(f"{op.value} cannot compare with a boolean")
        return "true" if raw else "false"
    if isinstance(raw, int):
        return str(int(raw))
    if isinstance(raw, float):
        return _float(raw)
    if isinstance(raw, datetime):
        return _quote(_timestamp(raw))
    if isinstance(raw, date):
        raise ValidationError("a query compares with a datetime, not a date")
    raise ValidationError(f"a query cannot compare with a {type(raw).__name__} "
                          "(str, bool, int, float, aware datetime or enum)")


class Query:
    """A device-search query: a :class:`Comparison`, an :class:`And` or an :class:`Or`.

    Combine with ``&`` (AND), ``|`` (OR) and ``~`` (negation, see the module docstring);
    ``str(query)`` or :meth:`render` gives its text, :func:`query_text` the checked text.
    Queries are immutable and hashable; ``bool(query)`` raises :class:`TypeError`, so that
    ``a == 1 and b == 2`` (Python's ``and``, not ``&``) fails instead of dropping a term.
    """

    __slots__ = ()

    def render(self) -> str:
        """The query's text as the server reads it (the length is not checked here)."""
        raise NotImplementedError

    def _operand(self) -> str:
        """The text of this query as a part of an And or Or."""
        return self.render()

    def __str__(self) -> str:
        """The query's text: :meth:`render`."""
        return self.render()

    def __repr__(self) -> str:
        """The class and the text, e.g. ``Comparison('"common.platform"="Android"')``."""
        return f"{type(self).__name__}({self.render()!r})"

    def __bool__(self) -> bool:
        """Refuse: a query has no truth value (``and``/``or``/``not`` mean ``&``/``|``/``~``)."""
        raise TypeError("a query has no truth value: combine queries with & (AND), | (OR) "
                        "and ~, not with Python's and / or / not")

    def __and__(self, other: Query) -> And:
        """Both queries: ``a & b`` is ``a AND b``."""
        if not isinstance(other, Query):
            return NotImplemented
        return And((self, other))

    def __or__(self, other: Query) -> Or:
        """Either query: ``a | b`` is ``a OR b``."""
        if not isinstance(other, Query):
            return NotImplemented
        return Or((self, other))

    def __invert__(self) -> Query:
        """The opposite query, where the language can say it (see the module docstring)."""
        raise NotImplementedError


@dataclasses.dataclass(frozen=True, slots=True, repr=False)
class Comparison(Query):
    """One ``"field" OP value`` term; build it with :class:`Field`'s operators and methods.

    ``value`` is what was given (None for the ``is empty`` operators); ``literal`` its text in
    the query. Equality and hashing go by the field, operator and literal, so ``== 1`` and
    ``== True`` (equal in Python, ``1`` and ``true`` on the wire) are different queries.
    """

    field: str
    op: Operator
    value: Value | None = dataclasses.field(default=None, compare=False)
    literal: str = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        """Check the field name, the operator and the value; compute the literal."""
        _check_field_name(self.field)
        try:
            # Operator("=") is Operator.EQ: a hand-built comparison may name it by its text.
            object.__setattr__(self, "op", Operator(self.op))
        except ValueError:
            raise ValidationError(f"unknown operator {self.op!r}") from None
        object.__setattr__(self, "literal", _literal(self.op, self.value))

    def render(self) -> str:
        """``"field"=value``, ``"field" "contains" value`` or ``"field" "is empty"``."""
        name = _quote(self.field)
        if self.op in _SYMBOLIC:
            return f"{name}{self.op.value}{self.literal}"
        if self.op in _UNARY:
            return f'{name} "{self.op.value}"'
        return f'{name} "{self.op.value}" {self.literal}'

    def __invert__(self) -> Query:
        """The comparison with the documented opposite operator."""
        opposite = _OPPOSITE.get(self.op)
        if opposite is None:
            raise ValidationError(f'cannot negate "{self.op.value}": the language has no NOT and '
                                  "no exact opposite of it (for a device lacking the field, >= "
                                  "is not the opposite of <); write the comparison you mean")
        return Comparison(self.field, opposite, self.value)


def _flatten(cls: type[_Junction], parts: object) -> tuple[Query, ...]:
    if not isinstance(parts, tuple):
        raise ValidationError(f"{cls.__name__} takes a tuple of queries")
    flat: list[Query] = []
    for p in parts:
        if not isinstance(p, Query):
            raise ValidationError(f"{cls.__name__} takes queries, got {type(p).__name__}")
        flat.extend(p.parts if isinstance(p, cls) else (p,))
    if len(flat) < 2:
        raise ValidationError(f"{cls.__name__} needs at least two queries")
    return tuple(flat)


@dataclasses.dataclass(frozen=True, slots=True, repr=False)
class _Junction(Query):
    """An And or an Or of at least two parts, flattened (no part of the same kind)."""

    parts: tuple[Query, ...]
    _word = ""

    def __post_init__(self) -> None:
        """Check and flatten the parts."""
        object.__setattr__(self, "parts", _flatten(type(self), self.parts))

    def render(self) -> str:
        """The parts joined by the operator word, each nested junction in parentheses."""
        return f" {self._word} ".join(p._operand() for p in self.parts)

    def _operand(self) -> str:
        # After flattening a junction's parts are never of its own kind, so a junction
        # inside another is always the other kind: parenthesised whatever the precedence.
        return f"({self.render()})"


@dataclasses.dataclass(frozen=True, slots=True, repr=False)
class And(_Junction):
    """Every part holds: ``a AND b AND ...``. Build it with ``&`` or :meth:`Q.all_of`."""

    _word = "AND"

    def __invert__(self) -> Query:
        """De Morgan: ``~(a & b)`` is ``~a | ~b``."""
        return Or(tuple(~p for p in self.parts))


@dataclasses.dataclass(frozen=True, slots=True, repr=False)
class Or(_Junction):
    """Some part holds: ``a OR b OR ...``. Build it with ``|`` or :meth:`Q.any_of`."""

    _word = "OR"

    def __invert__(self) -> Query:
        """De Morgan: ``~(a | b)`` is ``~a & ~b``."""
        return And(tuple(~p for p in self.parts))


class Field:
    """A field of the device search, named by its dotted name (``common.platform``).

    Its comparison operators and methods build :class:`Comparison` queries:
    ``Q.field("common.compliant") == False``. Because ``==`` builds a query, a Field is not
    hashable (it cannot be a dict key or set member) and two fields cannot be compared.
    """

    __slots__ = ("_name",)
    __hash__ = None  # type: ignore[assignment]  # == builds a query, so no consistent hash
    _name: str

    def __init__(self, name: str) -> None:
        """Check ``name``: non-empty dotted text without ``"``, ``\\`` or control characters."""
        object.__setattr__(self, "_name", _check_field_name(name))

    @property
    def name(self) -> str:
        """The dotted field name, as given."""
        return self._name

    def __setattr__(self, *_: object) -> None:
        """Refuse: a Field is immutable."""
        raise AttributeError("a Field is immutable")

    __delattr__ = __setattr__

    def __repr__(self) -> str:
        """``Field('common.platform')``."""
        return f"Field({self.name!r})"

    def _compare(self, op: Operator, value: Value) -> Comparison:
        if isinstance(value, (Field, Query)):
            raise ValidationError("a field is compared with a value, not a field or a query")
        return Comparison(self.name, op, value)

    def __eq__(self, value: Value) -> Comparison:  # type: ignore[override]
        """``"field"=value`` (the server compares case-insensitively)."""
        return self._compare(Operator.EQ, value)

    def __ne__(self, value: Value) -> Comparison:  # type: ignore[override]
        """``"field"!=value``."""
        return self._compare(Operator.NE, value)

    def __lt__(self, value: Value) -> Comparison:
        """``"field"<value``."""
        return self._compare(Operator.LT, value)

    def __le__(self, value: Value) -> Comparison:
        """``"field"<=value``."""
        return self._compare(Operator.LE, value)

    def __gt__(self, value: Value) -> Comparison:
        """``"field">value``."""
        return self._compare(Operator.GT, value)

    def __ge__(self, value: Value) -> Comparison:
        """``"field">=value``."""
        return self._compare(Operator.GE, value)

    def contains(self, text: str | enum.Enum) -> Comparison:
        """``"field" "contains" "text"``."""
        return self._compare(Operator.CONTAINS, text)

    def does_not_contain(self, text: str | enum.Enum) -> Comparison:
        """``"field" "does not contain" "text"``."""
        return self._compare(Operator.DOES_NOT_CONTAIN, text)

    def starts_with(self, text: str | enum.Enum) -> Comparison:
        """``"field" "starts with" "text"``."""
        return self._compare(Operator.STARTS_WITH, text)

    def is_empty(self) -> Comparison:
        """``"field" "is empty"``."""
        return Comparison(self.name, Operator.IS_EMPTY)

    def is_not_empty(self) -> Comparison:
        """``"field" "is not empty"``."""
        return Comparison(self.name, Operator.IS_NOT_EMPTY)


class Q:
    """Where queries start: ``Q.field(name)``, ``Q.all_of(...)``, ``Q.any_of(...)``."""

    __slots__ = ()

    def __init__(self) -> None:
        """Refuse: Q is a namespace, not a query."""
        raise TypeError("Q is not instantiated: use Q.field(name)")

    @staticmethod
    def field(name: str) -> Field:
        """The field named ``name`` (dotted, e.g. ``"common.platform"``, ``"ios.iPhone UDID"``)."""
        return Field(name)

    @staticmethod
    def all_of(*queries: Query) -> Query:
        """Every query holds (AND); one query is returned as is, none is refused."""
        return _junction(And, queries)

    @staticmethod
    def any_of(*queries: Query) -> Query:
        """Some query holds (OR); one query is returned as is, none is refused."""
        return _junction(Or, queries)


def _junction(cls: type[_Junction], queries: tuple[Query, ...]) -> Query:
    if len(queries) == 1 and isinstance(queries[0], Query):
        return queries[0]
    if not queries:
        # An empty AND means every device and an empty OR none; neither is a term, so a
        # caller who builds from a list says which they mean ("" is every device).
        raise ValidationError(f"{cls.__name__} of no query: pass at least one "
                              '(the query "" selects every device)')
    return cls(queries)


def query_text(query: Query | str) -> str:
    """The text to send as ``query``: a built query rendered, or a plain string as is.

    Raises :class:`~epmm_async.errors.ValidationError` if the text is over
    :data:`MAX_QUERY_LENGTH` characters (code points, not bytes) or cannot be encoded as
    UTF-8. ``""`` (every device) is allowed. A plain string is sent verbatim: its quoting
    and escaping are the caller's.
    """
    if isinstance(query, Query):
        text = query.render()
    elif isinstance(query, str):
        text = query
    else:
        raise ValidationError(f"query must be a Query or a string, got {type(query).__name__}")
    validate_encodable(text, what="query")
    if len(text) > MAX_QUERY_LENGTH:
        raise ValidationError(f"query is {len(text)} characters; the limit is {MAX_QUERY_LENGTH}")
    return text
