"""The API v2 device query language, written from the v2 subset's description alone.

``"field" OP value`` comparisons joined by ``AND`` / ``OR`` with parentheses. Field names are
quoted or bare; string values double-quoted (``\\"`` and ``\\\\`` escape a quote and a
backslash; any other backslash is kept as written); booleans and numbers bare; a bare word is
also taken as a value (``common.ip_address "contains" 1.2.3.4`` is seen working). Operators:
``=`` (case-insensitive), ``!=``, ``<``, ``<=``, ``>``, ``>=`` and the quoted ``"contains"``,
``"does not contain"``, ``"starts with"``, ``"is empty"``, ``"is not empty"`` (no value).
``AND`` binds tighter than ``OR`` (an assumption; ``left_to_right=True`` evaluates them alike,
left to right). ``AND``/``OR`` and the quoted operators are read in any case.

:func:`compile_query` checks the whole query against the fields (unknown field, an operator
the field's type does not take, a value of the wrong type: :class:`QueryError`) before any
device is looked at, and gives a predicate on a device.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from ..fleet import SimDevice
from .fields import Field, Value, v2_time

__all__ = ["Cmp", "Join", "Node", "Predicate", "QueryError", "compile_query", "parse", "tokenize"]

Predicate = Callable[[SimDevice], bool]


class QueryError(ValueError):
    """A malformed query (answered 400)."""


@dataclass(frozen=True, slots=True)
class Token:
    """A lexical token: ``str`` (a quoted text, unescaped), ``bare`` (a word or number),
    ``op`` (a symbol operator), ``(`` or ``)``."""

    kind: Literal["str", "bare", "op", "(", ")"]
    text: str
    pos: int


@dataclass(frozen=True, slots=True)
class Cmp:
    """``field op value``; ``quoted`` tells a quoted value from a bare one; ``value`` is
    None for ``is empty`` / ``is not empty``."""

    field: str
    op: str
    value: str | None
    quoted: bool


@dataclass(frozen=True, slots=True)
class Join:
    """``left AND right`` or ``left OR right``."""

    op: Literal["AND", "OR"]
    left: Node
    right: Node


Node = Cmp | Join

_SYMBOLS = ("!=", "<=", ">=", "=", "<", ">")
_WORD_OPS = ("contains", "does not contain", "starts with", "is empty", "is not empty")
_NO_VALUE = ("is empty", "is not empty")
_BARE = re.compile(r'[^\s()"=!<>]+')
_NUMBER = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text``; an unterminated string or a stray character is a
    :class:`QueryError`."""
    out: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c in "()":
            out.append(Token(c, c, i))  # type: ignore[arg-type]
            i += 1
        elif c == '"':
            j, buf = i + 1, []
            while True:
                if j >= n:
                    raise QueryError(f"unterminated string at position {i}")
                ch = text[j]
                if ch == "\\" and j + 1 < n and text[j + 1] in '"\\':
                    buf.append(text[j + 1])
                    j += 2
                    continue
                if ch == '"':
                    break
                buf.append(ch)
                j += 1
            out.append(Token("str", "".join(buf), i))
            i = j + 1
        else:
            sym = next((s for s in _SYMBOLS if text.startswith(s, i)), None)
            if sym is not None:
                out.append(Token("op", sym, i))
                i += len(sym)
                continue
            m = _BARE.match(text, i)
            if m is None:
                raise QueryError(f"unexpected {c!r} at position {i}")
            out.append(Token("bare", m.group(), i))
            i = m.end()
    return out


class _Parser:
    def __init__(self, tokens: list[Token], left_to_right: bool) -> None:
        self.tokens = tokens
        self.i = 0
        self.left_to_right = left_to_right

    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, what: str) -> Token:
        tok = self.peek()
        if tok is None:
            raise QueryError(f"{what} expected at the end of the query")
        self.i += 1
        return tok

    def connective(self, *ops: str) -> str | None:
        tok = self.peek()
        if tok is not None and tok.kind == "bare" and tok.text.upper() in ops:
            self.i += 1
            return tok.text.upper()
        return None

    def expr(self) -> Node:
        if self.left_to_right:
            node = self.factor()
            while (op := self.connective("AND", "OR")) is not None:
                node = Join(op, node, self.factor())  # type: ignore[arg-type]
            return node
        node = self.term()
        while self.connective("OR"):
            node = Join("OR", node, self.term())
        return node

    def term(self) -> Node:
        node = self.factor()
        while self.connective("AND"):
            node = Join("AND", node, self.factor())
        return node

    def factor(self) -> Node:
        tok = self.peek()
        if tok is not None and tok.kind == "(":
            self.i += 1
            node = self.expr()
            close = self.take("')'")
            if close.kind != ")":
                raise QueryError(f"')' expected at position {close.pos}")
            return node
        return self.comparison()

    def comparison(self) -> Cmp:
        tok = self.take("a field name")
        if tok.kind not in ("str", "bare") or tok.text.upper() in ("AND", "OR"):
            raise QueryError(f"a field name expected at position {tok.pos}, not {tok.text!r}")
        field = tok.text
        op_tok = self.take("an operator")
        if op_tok.kind == "op":
            op = op_tok.text
        elif op_tok.kind == "str" and " ".join(op_tok.text.lower().split()) in _WORD_OPS:
            op = " ".join(op_tok.text.lower().split())
        else:
            raise QueryError(f"an operator expected at position {op_tok.pos}")
        if op in _NO_VALUE:
            return Cmp(field, op, None, False)
        val = self.take("a value")
        if val.kind not in ("str", "bare"):
            raise QueryError(f"a value expected at position {val.pos}")
        return Cmp(field, op, val.text, val.kind == "str")


def parse(text: str, *, left_to_right: bool = False) -> Node | None:
    """The syntax tree of ``text`` (None: an empty query, every device)."""
    tokens = tokenize(text)
    if not tokens:
        return None
    parser = _Parser(tokens, left_to_right)
    node = parser.expr()
    rest = parser.peek()
    if rest is not None:
        raise QueryError(f"unexpected {rest.text!r} at position {rest.pos}")
    return node


# ------------------------------------------------------------------------------ evaluation
def _timestamp(text: str) -> float | None:
    t = text.strip()
    if t[-1:] in ("Z", "z"):
        t = t[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(t)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def _operand(field: Field, cmp: Cmp) -> Value:
    """The comparison's value in the field's type; a :class:`QueryError` if it has none."""
    text = cmp.value or ""
    kind = field.kind
    if kind == "boolean":
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
    elif kind == "number":
        if _NUMBER.fullmatch(text.strip()):
            number = float(text)
            return int(number) if number.is_integer() else number
    elif kind == "timestamp":
        if not cmp.quoted and _NUMBER.fullmatch(text):
            return float(text) / 1000  # epoch milliseconds
        ts = _timestamp(text)
        if ts is not None:
            return ts
    else:
        return text
    raise QueryError(f"{cmp.value!r} is not a {kind} value for {field.name}")


_ORDER = ("<", "<=", ">", ">=")
_TEXT_OPS = ("contains", "does not contain", "starts with")
_ALLOWED: dict[str, tuple[str, ...]] = {
    "boolean": ("=", "!=", *_NO_VALUE),
    "array": ("=", "!=", *_TEXT_OPS, *_NO_VALUE),
}


def _text_of(field: Field, value: Value) -> str:
    if field.kind == "timestamp" and isinstance(value, int | float):
        return v2_time(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _compare(op: str, have: object, want: object) -> bool:
    """``have op want``, texts without regard to case."""
    if isinstance(have, str) and isinstance(want, str):
        have, want = have.casefold(), want.casefold()
    try:
        return bool(_COMPARE[op](have, want))
    except TypeError:  # values of different types never order
        return op == "!="


def _text_match(op: str, have: str, want: str) -> bool:
    h, w = have.casefold(), want.casefold()
    if op == "starts with":
        return h.startswith(w)
    found = w in h
    return found if op == "contains" else not found


def _leaf(cmp: Cmp, fields: Mapping[str, Field]) -> Predicate:
    field = fields.get(cmp.field)
    if field is None:
        raise QueryError(f"unknown field {cmp.field!r}")
    allowed = _ALLOWED.get(field.kind)
    if allowed is not None and cmp.op not in allowed:
        raise QueryError(f"operator {cmp.op!r} does not apply to {field.name} ({field.kind})")
    op = cmp.op
    get = field.get
    if op in _NO_VALUE:
        want_empty = op == "is empty"
        return lambda d: (get(d) in (None, "", [])) == want_empty
    negative = op in ("!=", "does not contain")
    want: Value
    if op in _TEXT_OPS or field.kind == "array":
        want = cmp.value or ""  # the text as written, whatever the field's type
    else:
        want = _operand(field, cmp)
    if field.kind == "array":
        inner = "=" if op in ("=", "!=") else "contains" if op == "does not contain" else op
        assert isinstance(want, str)

        def in_array(d: SimDevice) -> bool:
            items = get(d)
            if not isinstance(items, list):
                return negative
            if inner == "=":
                hit = any(_compare("=", item, want) for item in items)
            else:
                hit = any(_text_match(inner, item, want) for item in items)
            return not hit if negative else hit

        return in_array
    if op in _TEXT_OPS:
        want_text = str(want)

        def text_op(d: SimDevice) -> bool:
            have = get(d)
            if have is None:
                return negative
            return _text_match(op, _text_of(field, have), want_text)

        return text_op

    def compare(d: SimDevice) -> bool:
        have = get(d)
        if have is None:
            return negative
        return _compare(op, have, want)

    return compare


def _build(node: Node, fields: Mapping[str, Field]) -> Predicate:
    if isinstance(node, Cmp):
        return _leaf(node, fields)
    left, right = _build(node.left, fields), _build(node.right, fields)
    if node.op == "AND":
        return lambda d: left(d) and right(d)
    return lambda d: left(d) or right(d)


def compile_query(
    text: str, fields: Mapping[str, Field], *, left_to_right: bool = False
) -> Predicate:
    """A predicate selecting the devices ``text`` asks for (an empty query: every device);
    a malformed query is a :class:`QueryError`."""
    node = parse(text, left_to_right=left_to_right)
    if node is None:
        return lambda d: True
    return _build(node, fields)
