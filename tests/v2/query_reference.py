"""A tiny reference reader of v2 device-search queries, written from the spec, not the builder.

It parses query text the way a server plausibly could (backslash escapes in quoted strings;
field names quoted or bare; word operators quoted) under each precedence the spec leaves
open, and evaluates it on a record (a dict of field name to value; a missing field is None).
The tests compare its answer on the rendered text with a walk of the builder's tree.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from epmm_async.v2.query import And, Comparison, Operator, Or, Query

# The three readings of an unparenthesised mix of AND and OR a server could use.
AND_FIRST = "and-over-or"
OR_FIRST = "or-over-and"
LEFT_TO_RIGHT = "left-to-right"
MODES = (AND_FIRST, OR_FIRST, LEFT_TO_RIGHT)

_TOKEN = re.compile(
    r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<lp>\()|(?P<rp>\))|(?P<sym><=|>=|!=|=|<|>)'
    r'|(?P<word>[^\s()"=<>!]+))'
)
_WORD_OPS = {op.value for op in Operator} - {"=", "!=", "<", "<=", ">", ">="}


@dataclass(frozen=True)
class Token:
    """One token: its kind (str, lp, rp, sym, word) and its text (a string unescaped)."""

    kind: str
    text: str


def _unescape(body: str) -> str:
    out, i = [], 0
    while i < len(body):
        if body[i] == "\\":
            if body[i + 1] not in '"\\':
                raise ValueError(f"unknown escape \\{body[i + 1]}")
            out.append(body[i + 1])
            i += 2
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text``; raises ValueError on anything the grammar does not have."""
    tokens, pos = [], 0
    while pos < len(text.rstrip()):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise ValueError(f"cannot read {text[pos:]!r}")
        kind = m.lastgroup or ""
        raw = m.group(kind)
        tokens.append(Token(kind, _unescape(raw[1:-1]) if kind == "str" else raw))
        pos = m.end()
    return tokens


Node = tuple[object, ...]  # ("cmp", field, op, value) | ("and", l, r) | ("or", l, r)


class _Parser:
    def __init__(self, text: str, mode: str) -> None:
        self.tokens = tokenize(text)
        self.pos = 0
        self.mode = mode

    def peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> Token:
        tok = self.peek()
        if tok is None:
            raise ValueError("unexpected end of query")
        self.pos += 1
        return tok

    def connective(self) -> str | None:
        tok = self.peek()
        if tok is None or tok.kind != "word" or tok.text not in ("AND", "OR"):
            return None
        return tok.text.lower()

    def parse(self) -> Node:
        node = self.expr()
        if self.peek() is not None:
            raise ValueError(f"trailing tokens from {self.peek()}")
        return node

    def expr(self) -> Node:
        if self.mode == LEFT_TO_RIGHT:
            node = self.factor()
            while (c := self.connective()) is not None:
                self.take()
                node = (c, node, self.factor())
            return node
        loose, tight = ("or", "and") if self.mode == AND_FIRST else ("and", "or")
        return self._level(loose, lambda: self._level(tight, self.factor))

    def _level(self, word: str, sub: Callable[[], Node]) -> Node:
        node = sub()
        while self.connective() == word:
            self.take()
            node = (word, node, sub())
        return node

    def factor(self) -> Node:
        tok = self.take()
        if tok.kind == "lp":
            node = self.expr()
            if self.take().kind != "rp":
                raise ValueError("missing )")
            return node
        if tok.kind not in ("str", "word"):
            raise ValueError(f"expected a field, got {tok}")
        op_tok = self.take()
        if op_tok.kind == "sym" or (op_tok.kind == "str" and op_tok.text in _WORD_OPS):
            op = Operator(op_tok.text)
        else:
            raise ValueError(f"expected an operator, got {op_tok}")
        if op in (Operator.IS_EMPTY, Operator.IS_NOT_EMPTY):
            return ("cmp", tok.text, op, None)
        return ("cmp", tok.text, op, _value(self.take()))


def _value(tok: Token) -> object:
    if tok.kind == "str":
        return tok.text
    if tok.kind != "word":
        raise ValueError(f"expected a value, got {tok}")
    if tok.text in ("true", "false"):
        return tok.text == "true"
    for number in (int, float):
        try:
            return number(tok.text)
        except ValueError:
            pass
    return tok.text  # a bare word, like the spec's 1.2.3.4


def parse(text: str, mode: str) -> Node:
    """The tree the server would read from ``text`` under ``mode``."""
    return _Parser(text, mode).parse()


_ORDER: dict[Operator, Callable[[Any, Any], bool]] = {
    Operator.LT: operator.lt, Operator.LE: operator.le,
    Operator.GT: operator.gt, Operator.GE: operator.ge,
}


def holds(op: Operator, actual: object, value: object) -> bool:
    """One comparison on one record's value (None: the device lacks the field).

    The negative operators are taken as the exact complements of their positive ones, a
    device lacking the field included; ordering on a missing field is false.
    """
    if op is Operator.NE:
        return not holds(Operator.EQ, actual, value)
    if op is Operator.DOES_NOT_CONTAIN:
        return not holds(Operator.CONTAINS, actual, value)
    if op is Operator.IS_NOT_EMPTY:
        return not holds(Operator.IS_EMPTY, actual, value)
    if op is Operator.IS_EMPTY:
        return actual is None or actual == ""
    if actual is None:
        return False
    if op is Operator.EQ:
        if isinstance(actual, str) and isinstance(value, str):
            return actual.casefold() == value.casefold()  # "=" is case-insensitive [doc]
        return type(actual) is type(value) and actual == value
    if op is Operator.CONTAINS:
        return isinstance(actual, str) and str(value) in actual
    if op is Operator.STARTS_WITH:
        return isinstance(actual, str) and actual.startswith(str(value))
    return _ORDER[op](actual, value)


def evaluate(node: Node, record: Mapping[str, object]) -> bool:
    """The parsed tree's answer for one record."""
    kind = node[0]
    if kind == "cmp":
        _, field, op, value = node
        assert isinstance(field, str) and isinstance(op, Operator)
        return holds(op, record.get(field), value)
    left, right = node[1], node[2]
    assert isinstance(left, tuple) and isinstance(right, tuple)
    if kind == "and":
        return evaluate(left, record) and evaluate(right, record)
    return evaluate(left, record) or evaluate(right, record)


def evaluate_text(text: str, mode: str, record: Mapping[str, object]) -> bool:
    """What a server reading ``text`` under ``mode`` answers for ``record``."""
    return evaluate(parse(text, mode), record)


def evaluate_tree(query: Query, record: Mapping[str, object]) -> bool:
    """What the Python expression tree means for ``record``."""
    if isinstance(query, Comparison):
        return holds(query.op, record.get(query.field), query.value)
    if isinstance(query, And):
        return all(evaluate_tree(p, record) for p in query.parts)
    assert isinstance(query, Or)
    return any(evaluate_tree(p, record) for p in query.parts)
