"""API v2 device search: the fields a device answers (:mod:`.fields`) and the query language
that selects devices (:mod:`.query`), both written from the v2 subset's description, never
from the client's code."""

from .fields import FIELDS, Field, FieldKind, Value, platform_name, v2_time
from .query import QueryError, compile_query, parse, tokenize

__all__ = [
    "FIELDS",
    "Field",
    "FieldKind",
    "QueryError",
    "Value",
    "compile_query",
    "parse",
    "platform_name",
    "tokenize",
    "v2_time",
]
