"""``epmm.bulk``: one bulk-action or send-message request, within the server's limits."""

from __future__ import annotations

from collections.abc import Iterable

from ..config import BulkLimits
from ..core import decode, requests
from ..core.requests import ApiRequest
from ..enums import BulkAction, MessageMode
from ..errors import ValidationError
from ..models import BulkResult, Device, MessageResult
from ..sender import Sender
from ..validation import MacAddress, device_key, is_mac_key

__all__ = ["BulkApi", "BulkLimits"]


def _uuid_of(device: str | Device) -> str:
    key = device_key(device)
    if is_mac_key(key):
        raise ValidationError(f"bulk actions take device uuids, not a MAC address ({key})")
    return key


class BulkApi:
    """Single bulk requests. For more devices than one request may carry, use ``epmm.ops``."""

    def __init__(self, sender: Sender, limits: BulkLimits) -> None:
        """Bind to the client's sender and the limits one request must respect."""
        self._sender = sender
        self.limits = limits

    def check(self, req: ApiRequest) -> None:
        """Raise if ``req`` exceeds the uuid count or the request-line budget."""
        if req.device_count > self.limits.max_uuids:
            raise ValidationError(
                f"{req.device_count} devices exceed the bulk limit of {self.limits.max_uuids} "
                "per request; use epmm.ops.bulk(...), which splits them"
            )
        line = self._sender.request_line_length(req)
        if line > self.limits.max_request_line:
            raise ValidationError(
                f"the request line would be {line} bytes, over the {self.limits.max_request_line}"
                f"-byte limit ({req.device_count} devices); use epmm.ops.bulk(...), which "
                "splits by bytes as well as count, or form_body=True"
            )

    async def action(
        self,
        action: str | BulkAction,
        uuids: Iterable[str | Device],
        *,
        form_body: bool = False,
    ) -> BulkResult:
        """Send ``action`` (LOCK, UNLOCK, WAKEUP_DEVICE, RETIRE, WIPE) to devices in ONE request.

        The server validates the devices, answers, then acts (UNLOCK acts first). Devices it
        does not know come back in ``invalid_devices``. ``form_body=True`` sends the uuids in
        an ``application/x-www-form-urlencoded`` body instead of the query string (not
        confirmed on real servers; off by default).
        """
        act = BulkAction.parse(action)
        checked = list(dict.fromkeys(_uuid_of(u) for u in uuids))
        req = requests.bulk_action(act, checked, form_body=form_body)
        self.check(req)
        resp = await self._sender.send(req)
        if resp.no_data is not None:
            return BulkResult(messages=resp.no_data, invalid_devices=checked,
                              attempts=resp.attempts)
        result = decode.decode_bulk(resp.body, resp.format)
        result.attempts = resp.attempts
        return result

    async def send_message(
        self,
        devices: Iterable[str | MacAddress | Device],
        *,
        message: str,
        mode: str | MessageMode,
        subject: str | None = None,
        form_body: bool = False,
    ) -> MessageResult:
        """Send a message (sms, email with ``subject``, or pns push) to devices, in ONE request.

        Devices are all uuids/``Device`` objects or all :class:`MacAddress` (which uses
        ``/bulk/mac/sendmessage``).
        """
        items = list(devices)
        macs = [d for d in items if isinstance(d, MacAddress)]
        if macs and len(macs) != len(items):
            raise ValidationError("send_message takes all uuids or all MAC addresses, not a mix")
        targets: list[str] = (
            list(dict.fromkeys(str(m) for m in macs))
            if macs
            else list(
                dict.fromkeys(_uuid_of(d) for d in items if not isinstance(d, MacAddress))
            )
        )
        req = requests.send_message(
            targets, message=message, mode=mode, subject=subject, by_mac=bool(macs),
            form_body=form_body,
        )
        self.check(req)
        resp = await self._sender.send(req)
        if resp.no_data is not None:
            return MessageResult(messages=resp.no_data, invalid_devices=targets,
                                 message_sent_failed=True, attempts=resp.attempts)
        result = decode.decode_message_result(resp.body, resp.format)
        result.attempts = resp.attempts
        return result
