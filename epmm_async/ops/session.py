"""What the operations layer uses of a client: the :class:`Session` protocol.

Ops is typed against this protocol, not against ``EpmmClient``: the client creates
``Operations(self)`` (client -> ops), and ops never imports the client back, so the two
cannot form an import cycle. An ``EpmmClient`` is a ``Session`` as it is.
"""

from __future__ import annotations

from typing import Protocol

from ..api.bulk import BulkApi, BulkLimits
from ..api.devices import DevicesApi
from ..v2 import V2Api
from .engine import Runs

__all__ = ["Session"]


class Session(Protocol):
    """The client an :class:`~epmm_async.ops.Operations` is bound to (an ``EpmmClient``)."""

    @property
    def devices(self) -> DevicesApi:
        """Device reads (MAC look-ups) and per-device actions."""
        ...

    @property
    def bulk(self) -> BulkApi:
        """One bulk-action or send-message request."""
        ...

    @property
    def v2(self) -> V2Api:
        """API v2: label look-ups and label membership (``epmm.v2``)."""
        ...

    @property
    def bulk_limits(self) -> BulkLimits:
        """What one bulk request may carry: uuids, request line, line plus headers."""
        ...

    @property
    def runs(self) -> Runs:
        """The job runs the client owns, halted and awaited when it closes."""
        ...

    @property
    def base_path(self) -> str:
        """The base URL's path prefix (counted in every request line)."""
        ...

    def request_budget(self, max_request_line: int | None) -> int:
        """Bytes a bulk request line may take, the client's headers accounted for."""
        ...
