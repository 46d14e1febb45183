"""Spoiling: the tree route's answer to a scalar it cannot read (DESIGN.md, "Decoding").

When :func:`msgspec.convert` fails, its error names the path of the value. A scalar that
cannot be read (an odd timestamp, an unknown enum code) is dropped from every record of the
same list that cannot read it, so the field reads None, a debug event names it, and the
conversion runs again. A value of the wrong *shape* (a string where a record or list belongs,
a record without its uuid) is not spoiled: dropping it would lose a device silently.
"""

from __future__ import annotations

import re
import types
import typing
from typing import Any

import msgspec
from msgspec import UnsetType

from .._logging import get_logger

__all__ = ["spoil"]

log = get_logger("epmm_async.decode")

# msgspec's error messages end with the path of the value: "... - at `$.devices.device[3].x`"
_ERROR_PATH = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_PATH_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


def spoil(tree: dict[str, object], root: type, message: str) -> bool:
    """Drop the unreadable scalar ``message`` points at, from every record that has it.

    Also reads whitespace where a record or list belongs as an empty element, and an
    element with attributes where text belongs (``<phoneNumber xsi:nil="true"/>``) as its
    text. Returns False when the failure is not one value (a record or list of the wrong
    shape, a required field missing): the body is then not the API's.
    """
    found = _ERROR_PATH.search(message)
    if found is None:
        return False
    steps: list[str | int] = [
        name if name else int(index) for name, index in _PATH_STEP.findall(found["path"])
    ]
    if not steps or not isinstance(steps[-1], str):
        return False
    expected = _type_at(root, steps)
    parent = _node_at(tree, steps[:-1])
    key = steps[-1]
    if expected is None or not isinstance(parent, dict) or key not in parent:
        return False
    value = parent[key]
    if not _is_scalar(expected):
        if isinstance(value, str) and value.isspace():
            parent[key] = None  # an empty element, pretty-printed
            return True
        return False
    if isinstance(value, dict) and "#text" in value:
        parent[key] = value["#text"]  # text with attributes: the text
        return True
    # Every record of the same list with the same unreadable field, in one round.
    siblings = _node_at(tree, steps[:-2]) if len(steps) > 1 and isinstance(steps[-2], int) else None
    records = siblings if isinstance(siblings, list) else [parent]
    dropped = 0
    for record in records:
        if isinstance(record, dict) and key in record and not _readable(record[key], expected):
            del record[key]
            dropped += 1
    if dropped == 0:
        return False
    field = ".".join(str(s) if isinstance(s, str) else "[]" for s in steps).replace(".[]", "[]")
    log.debug("decode.unreadable_field", field=field, records=dropped, example=repr(value)[:60])
    return True


def _readable(value: object, expected: object) -> bool:
    try:
        msgspec.convert(value, expected, strict=False)
    except (msgspec.ValidationError, TypeError):
        return False
    return True


def _node_at(tree: object, steps: list[str | int]) -> object:
    node = tree
    for step in steps:
        if isinstance(step, int):
            if isinstance(node, list) and step < len(node):
                node = node[step]
            elif step == 0 and isinstance(node, dict):
                continue  # a one-element list sent as the element itself
            else:
                return None
        elif isinstance(node, dict):
            node = node.get(step)
        else:
            return None
    return node


def _members(tp: object) -> tuple[object, ...]:
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        return tuple(m for m in typing.get_args(tp) if m not in (type(None), UnsetType))
    return (tp,)


def _type_at(root: type, steps: list[str | int]) -> object | None:
    """The annotation msgspec checked at ``steps`` inside ``root``, or None if unknown."""
    tp: object = root
    for step in steps:
        members = _members(tp)
        if isinstance(step, int):
            lists = [m for m in members if typing.get_origin(m) is list]
            if not lists:
                return None
            tp = typing.get_args(lists[0])[0]
            continue
        structs = [m for m in members if isinstance(m, type) and issubclass(m, msgspec.Struct)]
        if not structs:
            return None
        cls = structs[0]
        fields = {f.encode_name: f.name for f in msgspec.structs.fields(cls)}
        if step not in fields:
            return None
        tp = typing.get_type_hints(cls)[fields[step]]
    return tp


def _is_scalar(tp: object) -> bool:
    for member in _members(tp):
        if member is Any or member is msgspec.Raw or typing.get_origin(member) is not None:
            return False
        if isinstance(member, type) and issubclass(member, msgspec.Struct):
            return False
    return True
