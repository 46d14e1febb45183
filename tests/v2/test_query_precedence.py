"""The server reads the rendered text as the Python tree, whatever its AND/OR precedence.

A reference reader (``query_reference``) parses the text under each precedence the spec
leaves open (AND over OR, OR over AND, left to right) and evaluates it on random records;
its answer must equal a walk of the builder's tree, for random trees of every operator.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from query_reference import (
    AND_FIRST,
    LEFT_TO_RIGHT,
    MODES,
    OR_FIRST,
    evaluate_text,
    evaluate_tree,
    parse,
)

from epmm_async.errors import ValidationError
from epmm_async.v2 import Q, Query
from epmm_async.v2.query import Field

# 300 examples in make test; make test-all (EPMM_THOROUGH=1) runs 1500.
SETTINGS = settings(max_examples=1500 if os.environ.get("EPMM_THOROUGH") else 300,
                    deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

STR_FIELDS = ["common.platform", "ios.iPhone UDID", "user.email_address"]
INT_FIELDS = ["common.battery level", "common.id"]
BOOL_FIELDS = ["common.compliant", "common.quarantined"]
# Values with the connectives, parentheses, quotes and backslashes inside: the reader must see
# each as one string, never as query syntax.
STRINGS = ["Android", "android", "iOS", "", 'say "hi"', "C:\\dir\\", "x) OR (y", "a AND b",
           '"common.id"=1', "é日本😀", "And"]
INTS = [-1, 0, 1, 2, 50]

STR_OPS: list[Callable[[Field, str], Query]] = [
    lambda f, v: f == v, lambda f, v: f != v, lambda f, v: f.contains(v),
    lambda f, v: f.does_not_contain(v), lambda f, v: f.starts_with(v),
]
INT_OPS: list[Callable[[Field, int], Query]] = [
    lambda f, v: f == v, lambda f, v: f != v, lambda f, v: f < v, lambda f, v: f <= v,
    lambda f, v: f > v, lambda f, v: f >= v,
]
BOOL_OPS: list[Callable[[Field, bool], Query]] = [lambda f, v: f == v, lambda f, v: f != v]
UNARY_OPS: list[Callable[[Field], Query]] = [lambda f: f.is_empty(), lambda f: f.is_not_empty()]


def _leaf(fields: list[str], ops: list[Callable[[Field, object], Query]],
          values: list[object]) -> st.SearchStrategy[Query]:
    return st.builds(lambda name, op, v: op(Q.field(name), v), st.sampled_from(fields),
                     st.sampled_from(ops), st.sampled_from(values))


LEAVES: st.SearchStrategy[Query] = st.one_of(
    _leaf(STR_FIELDS, STR_OPS, STRINGS),  # type: ignore[arg-type]
    _leaf(INT_FIELDS, INT_OPS, INTS),  # type: ignore[arg-type]
    _leaf(BOOL_FIELDS, BOOL_OPS, [True, False]),  # type: ignore[arg-type]
    st.builds(lambda name, op: op(Q.field(name)),
              st.sampled_from(STR_FIELDS + INT_FIELDS + BOOL_FIELDS), st.sampled_from(UNARY_OPS)),
)


def _negated_or_same(q: Query) -> Query:
    try:
        return ~q
    except ValidationError:  # an ordering or "starts with" term has no opposite
        return q


def _branches(children: st.SearchStrategy[Query]) -> st.SearchStrategy[Query]:
    return st.one_of(
        st.builds(lambda a, b: a & b, children, children),
        st.builds(lambda a, b: a | b, children, children),
        st.builds(_negated_or_same, children),
        st.lists(children, min_size=1, max_size=4).map(lambda qs: Q.all_of(*qs)),
        st.lists(children, min_size=1, max_size=4).map(lambda qs: Q.any_of(*qs)),
    )


QUERIES = st.recursive(LEAVES, _branches, max_leaves=14)

RECORD = st.fixed_dictionaries(
    {},
    optional={
        **{f: st.sampled_from(STRINGS) for f in STR_FIELDS},
        **{f: st.sampled_from(INTS) for f in INT_FIELDS},
        **{f: st.booleans() for f in BOOL_FIELDS},
    },
)
RECORDS = st.lists(RECORD, min_size=1, max_size=6)


@SETTINGS
@given(QUERIES, RECORDS)
def test_every_reading_of_the_text_means_the_tree(q: Query, records: list[dict[str, object]]
                                                  ) -> None:
    text = str(q)
    for record in records:
        expected = evaluate_tree(q, record)
        for mode in MODES:
            assert evaluate_text(text, mode, record) == expected, (mode, text, record)


@SETTINGS
@given(QUERIES, RECORDS)
def test_negation_is_the_opposite_where_it_is_allowed(q: Query,
                                                      records: list[dict[str, object]]) -> None:
    try:
        negated = ~q
    except ValidationError:
        return
    assert ~negated == q
    for record in records:
        for mode in MODES:
            assert evaluate_text(str(negated), mode, record) is not evaluate_tree(q, record)


@SETTINGS
@given(QUERIES)
def test_the_text_parses_back_to_the_same_terms(q: Query) -> None:
    """Every reading finds the same comparisons, values unescaped to what was given."""
    def leaves(node: tuple[object, ...]) -> list[tuple[object, ...]]:
        if node[0] == "cmp":
            return [node]
        return [x for child in node[1:] for x in leaves(child)]  # type: ignore[arg-type]

    def tree_leaves(query: Query) -> list[tuple[object, ...]]:
        parts = getattr(query, "parts", None)
        if parts is None:
            c = query
            return [("cmp", c.field, c.op, c.value)]  # type: ignore[attr-defined]
        return [x for p in parts for x in tree_leaves(p)]

    for mode in MODES:
        assert leaves(parse(str(q), mode)) == tree_leaves(q)


# The reader has teeth: unparenthesised text really is read differently by the three modes.
@pytest.mark.parametrize(
    ("text", "record", "answers"),
    [
        ('"a.x"=1 OR "a.y"=1 AND "a.z"=1', {"a.x": 1, "a.y": 0, "a.z": 0},
         {AND_FIRST: True, OR_FIRST: False, LEFT_TO_RIGHT: False}),
        ('"a.x"=1 AND "a.y"=1 OR "a.z"=1', {"a.x": 0, "a.y": 0, "a.z": 1},
         {AND_FIRST: True, OR_FIRST: False, LEFT_TO_RIGHT: True}),
    ],
)
def test_the_reader_tells_the_precedences_apart(text: str, record: dict[str, object],
                                                answers: dict[str, bool]) -> None:
    assert {m: evaluate_text(text, m, record) for m in MODES} == answers


def test_the_reader_reads_the_specs_examples() -> None:
    rec = {"common.status": "active", "common.compliant": False, "common.ip_address": "1.2.3.4"}
    for mode in MODES:
        assert evaluate_text('"common.status"="ACTIVE" AND "common.compliant"=false', mode, rec)
        assert evaluate_text('common.ip_address "contains" 1.2.3.4', mode, rec)
