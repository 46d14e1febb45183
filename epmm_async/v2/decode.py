"""Read API v2 answers into :mod:`epmm_async.v2.models`, tolerantly. No I/O.

Keys the client does not know are ignored, optional keys that are missing are None, numbers
and booleans sent as text are read (``"12"``, ``"true"``), label and device ids may be
numbers or text. A body of the wrong shape (not JSON, an array where an object is due, a
label without an id, a search result without ``common.uuid``) is a
:class:`~epmm_async.errors.DecodeError` naming the request.
"""

from __future__ import annotations

from typing import Any, NamedTuple, TypeVar

import msgspec

from ..errors import DecodeError
from .models import (
    CreatedLabel,
    DeviceLabel,
    DeviceRecord,
    DeviceSpace,
    LabelSummary,
    MembershipRecord,
    MembershipResult,
    Page,
    Ping,
    SearchField,
    _text,
)

__all__ = [
    "Where",
    "decode_count",
    "decode_created_label",
    "decode_deleted",
    "decode_device_labels",
    "decode_device_spaces",
    "decode_label_page",
    "decode_membership",
    "decode_ping",
    "decode_search_fields",
    "decode_search_page",
]

T = TypeVar("T")
R = TypeVar("R")


class Where(NamedTuple):
    """The request an answer came from, for the messages of :class:`DecodeError`."""

    method: str
    path: str
    status: int


def _error(where: Where, message: str) -> DecodeError:
    return DecodeError(message, method=where.method, path=where.path, status=where.status)


def _decode(body: bytes, kind: type[T], where: Where, what: str) -> T:
    try:
        return msgspec.json.decode(body, type=kind, strict=False)
    except msgspec.ValidationError as exc:
        raise _error(where, f"{what} has an unexpected shape: {exc}") from None
    except msgspec.DecodeError as exc:
        raise _error(where, f"{what} is not JSON: {exc}") from None


# -- the wire -----------------------------------------------------------------------------


class _PingAnswer(msgspec.Struct):
    results: Ping | None = None


class _SpacesAnswer(msgspec.Struct):
    results: list[DeviceSpace] | None = None


class _Paged(msgspec.Struct, rename="camel"):
    total_count: int | None = None
    result_count: int | None = None
    has_more: bool | None = None


class _SearchPageAnswer(_Paged):
    results: list[dict[str, Any]] | None = None


class _CountAnswer(msgspec.Struct, rename="camel"):
    total_count: int | None = None


class _FieldsAnswer(msgspec.Struct):
    results: list[SearchField] | None = None


class _WireLabel(msgspec.Struct, rename="camel"):
    id: int | str
    name: Any = None
    description: Any = None
    is_static: bool | None = None
    criteria: Any = None
    device_count: int | None = None
    device_space_id: int | None = None
    device_space_name: Any = None
    row_type: Any = None


class _WireDeviceLabel(msgspec.Struct, rename="camel"):
    id: int | str
    name: Any = None
    static_label: bool | None = None
    static: bool | None = None


class _LabelPageAnswer(_Paged):
    results: list[_WireLabel] | None = None


class _DeviceLabelsAnswer(msgspec.Struct):
    results: list[_WireDeviceLabel] | None = None


class _CreatedAnswer(msgspec.Struct):
    results: _WireDeviceLabel | None = None


class _WireRecord(msgspec.Struct, rename="camel"):
    label: Any = None
    device: Any = None
    message: Any = None
    failure_code: Any = None


class _WireRecords(msgspec.Struct):
    records: list[_WireRecord] | None = None


class _MembershipAnswer(msgspec.Struct):
    successful: bool | None = None
    results: _WireRecords | list[_WireRecord] | None = None


class _DeletedAnswer(msgspec.Struct):
    successful: bool | None = None


def _page(answer: _Paged, present: bool, results: tuple[R, ...], where: Where) -> Page[R]:
    if not present and answer.total_count is None and answer.has_more is None \
            and answer.result_count is None:
        raise _error(where, "the answer is not a page (no results, totalCount or hasMore)")
    return Page(results=results, total_count=answer.total_count,
                result_count=answer.result_count, has_more=answer.has_more)


def _named(value: object, keys: tuple[str, ...] = ("name", "uuid", "deviceUuid", "id")
           ) -> str | None:
    """A label or device named by text, a number, or an object with one of ``keys`` (the
    first present wins)."""
    if isinstance(value, dict):
        for key in keys:
            if value.get(key) is not None:
                return _text(value[key])
    return _text(value)


_DEVICE_KEYS = ("uuid", "deviceUuid", "name", "id")
"""A device object is matched by its uuid before its name: outcomes are keyed by uuid."""


def _int_id(value: int | str, where: Where, what: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value).strip()
    if not (text.isdecimal() and text.isascii()):
        raise _error(where, f"{what} id {value!r} is not a number")
    return int(text)


def _name(value: object, where: Where, what: str) -> str:
    name = _text(value)
    if name is None:
        raise _error(where, f"a {what} has no name")
    return name


def decode_ping(body: bytes, where: Where) -> Ping:
    """``{"results": {"apiVersion": 2.0, "vspVersion": "..."}}``."""
    return _decode(body, _PingAnswer, where, "the ping answer").results or Ping()


def decode_device_spaces(body: bytes, where: Where) -> list[DeviceSpace]:
    """``{"results": [{"id": 1, ...}, ...]}``; ``"results": []``: an empty list. A body
    without ``results`` (``{}``, a login page's JSON) is not an answer: a DecodeError, never
    the global space by default."""
    results = _decode(body, _SpacesAnswer, where, "the device spaces").results
    if results is None:
        raise _error(where, "the device spaces answer has no results")
    return results


def decode_search_page(body: bytes, where: Where) -> Page[DeviceRecord]:
    """A device-search page; every result must carry ``common.uuid``."""
    answer = _decode(body, _SearchPageAnswer, where, "the device-search page")
    records = []
    for fields in answer.results or ():
        try:
            records.append(DeviceRecord(fields))
        except DecodeError as exc:
            raise _error(where, str(exc)) from None
    return _page(answer, answer.results is not None, tuple(records), where)


def decode_count(body: bytes, where: Where) -> int:
    """``{"totalCount": N}``."""
    total = _decode(body, _CountAnswer, where, "the device count").total_count
    if total is None:
        raise _error(where, "the device count has no totalCount")
    return total


def decode_search_fields(body: bytes, where: Where) -> list[SearchField]:
    """``{"results": [{"name": "common.uuid"}, ...]}``."""
    return _decode(body, _FieldsAnswer, where, "the search fields").results or []


def decode_label_page(body: bytes, where: Where) -> Page[LabelSummary]:
    """A ``label_summary`` page; every label must carry an id and a name."""
    answer = _decode(body, _LabelPageAnswer, where, "the label page")
    return _page(answer, answer.results is not None, tuple(
        LabelSummary(
            id=_int_id(w.id, where, "label"), name=_name(w.name, where, "label"),
            description=_text(w.description), is_static=w.is_static,
            criteria=_text(w.criteria), device_count=w.device_count,
            device_space_id=w.device_space_id, device_space_name=_text(w.device_space_name),
            row_type=_text(w.row_type),
        ) for w in answer.results or ()), where)


def _static(w: _WireDeviceLabel) -> bool | None:
    return w.static_label if w.static_label is not None else w.static


def decode_device_labels(body: bytes, where: Where) -> list[DeviceLabel]:
    """``{"results": [{"id", "name", "staticLabel"}, ...]}``."""
    wire = _decode(body, _DeviceLabelsAnswer, where, "the device's labels").results or []
    return [DeviceLabel(id=str(w.id).strip(), name=_name(w.name, where, "label"),
                        static=_static(w)) for w in wire]


def decode_created_label(body: bytes, where: Where) -> CreatedLabel:
    """``{"results": {"id", "name", "staticLabel"}}``."""
    wire = _decode(body, _CreatedAnswer, where, "the created label").results
    if wire is None:
        raise _error(where, "the answer to the create names no label (no results)")
    return CreatedLabel(id=_int_id(wire.id, where, "label"), name=_text(wire.name),
                        static=_static(wire))


def decode_membership(body: bytes, where: Where) -> MembershipResult:
    """``{"successful": bool, "results": {"records": [...]}}`` (see
    :class:`MembershipResult` for an answer without ``successful``)."""
    if not body.strip():
        return MembershipResult(successful=True)
    answer = _decode(body, _MembershipAnswer, where, "the membership answer")
    raw = answer.results.records if isinstance(answer.results, _WireRecords) else answer.results
    records = tuple(
        MembershipRecord(label=_named(r.label), device=_named(r.device, _DEVICE_KEYS),
                         message=_text(r.message), failure_code=_text(r.failure_code))
        for r in raw or ())
    successful = answer.successful
    if successful is None:
        successful = not any(r.failed for r in records)
    return MembershipResult(successful=successful, records=records)


def decode_deleted(body: bytes, where: Where) -> bool:
    """The answer to a delete: False only when it says ``"successful": false``."""
    if not body.strip():
        return True
    return _decode(body, _DeletedAnswer, where, "the delete answer").successful is not False
