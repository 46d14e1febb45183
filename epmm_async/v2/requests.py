"""Build every API v2 request, validated and quoted. No I/O.

Each builder returns an :class:`~epmm_async.core.requests.ApiRequest` with the prefix
``/api/v2``, ``wire="json"`` (v2 speaks only JSON: the sender asks for it and decodes it) and
``adminDeviceSpaceId`` first in the query where the call takes it. Path segments are quoted
by the v1 rules (every reserved character, ``/`` included; a dot-only segment's dots too).
The ``check_*`` functions validate caller input alone, so an API method can refuse bad input
before it sends anything (even the device-space discovery).

Safety (how the retry policy treats a request that may have reached the server):

* searches, counts, field and label lists: ``READ``;
* adding devices to labels and removing them: ``IDEMPOTENT`` (a device already a member stays
  one; a device already removed stays out);
* creating a label: ``UNSAFE``: if a first attempt was applied but its answer lost, a resend
  makes a second label of the same name or fails with "exists", hiding the success;
* deleting labels: ``UNSAFE``: it cannot be undone, and a resend after an applied first attempt
  fails ("no such label"), so the caller would be told it failed when it worked.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

import msgspec

from ..core.actions import Safety
from ..core.requests import ApiRequest, _segment, encode_query
from ..errors import ValidationError
from ..validation import validate_encodable, validate_text, validate_uuid
from .query import Field, Query, query_text

__all__ = [
    "MAX_FIELDS",
    "MAX_LABEL_PAGE",
    "UUID_FIELD",
    "V2_PREFIX",
    "DeviceSearch",
    "add_to_label",
    "check_label_ids",
    "check_label_name",
    "check_label_names",
    "check_space",
    "check_uuids",
    "count_devices",
    "create_label",
    "delete_labels",
    "device_labels",
    "device_search",
    "device_spaces_mine",
    "label_summary",
    "ping",
    "remove_from_label",
    "search_devices",
    "search_fields",
]

V2_PREFIX: Final = "/api/v2"
"""The root of API v2 below the server's (behind the cloud connector: the base URL's path)."""
MAX_FIELDS: Final = 512
"""The documented limit on the fields of one device search."""
MAX_LABEL_PAGE: Final = 200
"""The documented largest ``limit`` of ``label_summary``."""
UUID_FIELD: Final = "common.uuid"
"""Always asked for in a search: records are told apart (deduplicated) by it."""


def _positive(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(f"{what} must be a positive integer, got {value!r}")
    return value


def check_space(space: object) -> int:
    """An ``adminDeviceSpaceId``: a positive integer."""
    return _positive(space, "device space id")


def _items(values: object, what: str) -> list[object]:
    """A sequence's items; a lone string is one item (never its characters)."""
    if isinstance(values, str):
        return [values]
    if not isinstance(values, Iterable) or isinstance(values, bytes | bytearray):
        raise ValidationError(f"{what} must be a sequence, got {type(values).__name__}")
    return list(values)


def _dedupe(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def _check_field(name: object) -> str:
    if not isinstance(name, str):
        raise ValidationError(f"field name must be a string, got {type(name).__name__}")
    if "," in name:
        raise ValidationError(f"field name {name!r} has a comma, which separates fields")
    return Field(name).name  # dotted, non-empty parts, no quote or control character


def check_label_name(name: object) -> str:
    """A label name for a path: non-empty text without a comma (commas separate names in
    ``/devices/labels/{names}/...``, so a name holding one cannot be told apart)."""
    text = validate_text(name, what="label name")
    if "," in text:
        raise ValidationError(f"label name {text!r} has a comma: the API separates label names "
                              "by commas, so it cannot be named in a membership call")
    return text


def check_label_names(names: str | Sequence[str]) -> tuple[str, ...]:
    """One or more label names (a lone string is one name), checked, duplicates dropped."""
    checked = _dedupe(check_label_name(n) for n in _items(names, "label names"))
    if not checked:
        raise ValidationError("give at least one label name")
    return checked


def check_uuids(uuids: str | Sequence[str]) -> tuple[str, ...]:
    """Device uuids (a lone string is one), validated, lower-cased, duplicates dropped."""
    checked = _dedupe(validate_uuid(u) for u in _items(uuids, "device uuids"))
    if not checked:
        raise ValidationError("give at least one device uuid")
    return checked


def check_label_ids(ids: int | str | Sequence[int | str]) -> tuple[int, ...]:
    """Label ids (positive integers, or their decimal text), duplicates dropped."""
    raw = [ids] if isinstance(ids, int | str) else _items(ids, "label ids")
    out: list[int] = []
    for value in raw:
        if isinstance(value, str) and value.strip().isdecimal() and value.strip().isascii():
            value = int(value.strip())
        out.append(_positive(value, "label id"))
    checked = tuple(dict.fromkeys(out))
    if not checked:
        raise ValidationError("give at least one label id")
    return checked


@dataclass(frozen=True, slots=True)
class DeviceSearch:
    """A checked device search: what selects and which fields come back."""

    query: str
    """The query text (``""``: every device); unused when ``label_id`` is set."""
    fields: tuple[str, ...]
    """The dotted field names, :data:`UUID_FIELD` first if the caller left it out."""
    label_id: int | None = None
    """Select the devices of this label instead of by query."""


def device_search(query: Query | str, fields: Sequence[str], *,
                  label_id: int | None = None) -> DeviceSearch:
    """Check a search: the query (at most 255 characters), the fields (dotted names, no
    comma, at most 512 with ``common.uuid``, which is added), and a label id.

    ``label_id`` and a non-empty query together are refused: how the server combines them is
    unknown, so the caller says which selects.
    """
    text = query_text(query)
    if label_id is not None:
        label_id = _positive(label_id, "label_id")
        if text:
            raise ValidationError("give either a query or label_id, not both (with label_id "
                                  'pass query="")')
    names = _items(fields, "fields")
    if not names:
        raise ValidationError("fields is required: name at least one field, e.g. "
                              '["common.uuid", "common.status"]')
    checked = _dedupe(_check_field(n) for n in names)
    if UUID_FIELD not in checked:
        checked = (UUID_FIELD, *checked)
    if len(checked) > MAX_FIELDS:
        raise ValidationError(f"a search asks for at most {MAX_FIELDS} fields (common.uuid "
                              f"included), got {len(checked)}")
    return DeviceSearch(text, checked, label_id)


def _page(offset: object, limit: object, max_limit: int | None = None) -> list[tuple[str, str]]:
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValidationError(f"offset must be a non-negative integer, got {offset!r}")
    size = _positive(limit, "limit")
    if max_limit is not None and size > max_limit:
        raise ValidationError(f"limit is at most {max_limit}, got {size}")
    return [("limit", str(size)), ("offset", str(offset))]


def _request(method: str, path: str, space: int | None, params: Sequence[tuple[str, str]] = (),
             *, body: object = None, safety: Safety = Safety.READ, device_count: int = 0,
             spaced: bool = True) -> ApiRequest:
    """The request; ``spaced``: whether the call takes ``adminDeviceSpaceId`` (checked)."""
    pairs = [("adminDeviceSpaceId", str(check_space(space)))] if spaced else []
    pairs.extend(params)
    return ApiRequest(
        method, path, encode_query(pairs), safety=safety, device_count=device_count,
        prefix=V2_PREFIX, json=None if body is None else msgspec.json.encode(body), wire="json",
    )


# -- reads --------------------------------------------------------------------------------


def ping() -> ApiRequest:
    """``GET /api/v2/ping`` (no space id)."""
    return _request("GET", "/ping", None, spaced=False)


def device_spaces_mine() -> ApiRequest:
    """``GET /api/v2/device_spaces/mine`` (no space id): the spaces of the account."""
    return _request("GET", "/device_spaces/mine", None, spaced=False)


def search_devices(space: int, search: DeviceSearch, *, offset: int, limit: int) -> ApiRequest:
    """``GET /api/v2/devices?adminDeviceSpaceId=&query=|labelId=&fields=&limit=&offset=``.

    ``fields`` is one comma-separated value, each name percent-encoded (``%20`` for a space,
    ``%2C`` for the separators: the server decodes the value before splitting it).
    """
    select = [("labelId", str(search.label_id))] if search.label_id is not None else \
        [("query", search.query)]
    params = [*select, ("fields", ",".join(search.fields)), *_page(offset, limit)]
    return _request("GET", "/devices", space, params)


def count_devices(space: int, query: Query | str) -> ApiRequest:
    """``GET /api/v2/devices/count?adminDeviceSpaceId=&query=``."""
    return _request("GET", "/devices/count", space, [("query", query_text(query))])


def search_fields(space: int) -> ApiRequest:
    """``GET /api/v2/devices/search_fields?adminDeviceSpaceId=``."""
    return _request("GET", "/devices/search_fields", space)


def label_summary(space: int, *, offset: int, limit: int) -> ApiRequest:
    """``GET /api/v2/labels/label_summary?adminDeviceSpaceId=&limit=&offset=`` (limit <= 200)."""
    return _request("GET", "/labels/label_summary", space, _page(offset, limit, MAX_LABEL_PAGE))


def device_labels(space: int, uuid: str) -> ApiRequest:
    """``GET /api/v2/devices/{uuid}/labels?adminDeviceSpaceId=``."""
    return _request("GET", f"/devices/{validate_uuid(uuid)}/labels", space)


# -- label membership and labels ---------------------------------------------------------


def _membership(verb: str, space: int, names: str | Sequence[str],
                uuids: str | Sequence[str]) -> ApiRequest:
    labels = check_label_names(names)
    devices = check_uuids(uuids)
    path = f"/devices/labels/{','.join(_segment(n) for n in labels)}/{verb}"
    return _request("PUT", path, space, body={"deviceUuids": list(devices)},
                    safety=Safety.IDEMPOTENT, device_count=len(devices))


def add_to_label(space: int, names: str | Sequence[str], uuids: str | Sequence[str]) -> ApiRequest:
    """``PUT /api/v2/devices/labels/{names}/add`` with ``{"deviceUuids": [...]}``; the names
    each percent-encoded and joined by commas. Idempotent."""
    return _membership("add", space, names, uuids)


def remove_from_label(space: int, names: str | Sequence[str],
                      uuids: str | Sequence[str]) -> ApiRequest:
    """``PUT /api/v2/devices/labels/{names}/remove`` with ``{"deviceUuids": [...]}``.
    Idempotent."""
    return _membership("remove", space, names, uuids)


def create_label(space: int, name: str, description: str = "", static: bool = True) -> ApiRequest:
    """``POST /api/v2/labels`` with ``{"name", "description", "deviceSpaceId", "static"}``.

    Unsafe (see the module docstring). A name with a comma is refused: no membership call
    could name the label.
    """
    checked = check_label_name(name)
    text = validate_encodable(description, what="label description")
    if not isinstance(static, bool):
        raise ValidationError(f"static must be True or False, got {static!r}")
    body = {"name": checked, "description": text, "deviceSpaceId": check_space(space),
            "static": static}
    return _request("POST", "/labels", space, body=body, safety=Safety.UNSAFE)


def delete_labels(space: int, ids: int | str | Sequence[int | str], reason: str) -> ApiRequest:
    """``DELETE /api/v2/labels`` with ``{"reason", "labelIds", "deviceSpaceId"}``. Unsafe."""
    checked = check_label_ids(ids)
    text = validate_text(reason, what="reason for deleting labels")
    body = {"reason": text, "labelIds": list(checked), "deviceSpaceId": check_space(space)}
    return _request("DELETE", "/labels", space, body=body, safety=Safety.UNSAFE)
