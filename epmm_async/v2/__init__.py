"""API v2: device search by query, counts, search fields, labels and label membership.

``V2Api`` (``epmm.v2``) makes the calls; :mod:`.query` builds search queries; :mod:`.paging`
decides how to walk a paged list; :mod:`.requests` builds the requests and :mod:`.decode`
reads the answers into :mod:`.models`.
"""

from __future__ import annotations

from .api import DEFAULT_PAGE_SIZE, GLOBAL_SPACE, V2Api
from .errors import AmbiguousLabelError
from .models import (
    CreatedLabel,
    DeviceLabel,
    DeviceRecord,
    DeviceSpace,
    JsonValue,
    LabelSummary,
    MembershipRecord,
    MembershipResult,
    Page,
    Ping,
    SearchField,
)
from .paging import OffsetReading, PageAsk, PageWalk
from .query import Field, Q, Query, query_text

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "GLOBAL_SPACE",
    "AmbiguousLabelError",
    "CreatedLabel",
    "DeviceLabel",
    "DeviceRecord",
    "DeviceSpace",
    "Field",
    "JsonValue",
    "LabelSummary",
    "MembershipRecord",
    "MembershipResult",
    "OffsetReading",
    "Page",
    "PageAsk",
    "PageWalk",
    "Ping",
    "Q",
    "Query",
    "SearchField",
    "V2Api",
    "query_text",
]
