"""The CSV export, ``GET /devices.csv``: every device of every status, streamed in chunks."""

from __future__ import annotations

import csv
import io

from aiohttp import web

from ..fleet import SimDevice
from .base import Resource, Route
from .devices import iso

__all__ = ["CSV_COLUMNS", "Export"]

CSV_COLUMNS = (
    "Operator",
    "Country",
    "Device UUID",
    "Phone Number",
    "Principal",
    "Name",
    "Platform",
    "Manufacturer",
    "Model",
    "Email Address",
    "Status Code",
    "Employee Owned",
    "Compliance",
    "Quarantine Status",
    "IMSI",
    "IMEI",
    "UDID",
    "Client Version",
    "MDM Enabled",
    "Serial Number",
    "Last Connected At",
    "Active Sync UUID",
    "Active Sync Last Sync Attempt",
    "Wi-Fi MAC Address",
    "Device Encryption",
    "Last MDM Check-In",
    "Last Security State Changed On",
    "Registered On",
)
"""Columns of ``GET /devices.csv``, in the document's order."""


def csv_row(d: SimDevice) -> list[str]:
    """The export's row of ``d``, in :data:`CSV_COLUMNS` order."""
    det = d.details
    op = d.operator
    return [
        op.short_name if op else "PDA",
        d.country.name,
        d.uuid,
        d.phone_number or "",
        d.user.principal,
        d.name,
        d.platform,
        d.manufacturer,
        d.model,
        d.user.email,
        str(d.status_code),
        str(d.employee_owned).lower(),
        str(d.compliance),
        str(d.quarantined),
        det.get("imsi", ""),
        det.get("imei", ""),
        det.get("iPhone UDID", ""),
        det.get("client_version", det.get("Client_version", "")),
        str(d.mdm_managed).lower(),
        det.get("SerialNumber", ""),
        iso(d.last_connected_at),
        d.eas_uuid or "",
        iso(d.last_connected_at - 120) if d.eas_uuid else "",
        d.wifi_mac,
        det.get("prv_device_encryption", det.get("device_encryption", "")),
        iso(d.last_connected_at) if d.kind == "ios" else "",
        iso(d.registered_at),
        iso(d.registered_at),
    ]


class Export(Resource):
    """``GET /devices.csv``."""

    def routes(self) -> list[Route]:
        """The export."""
        return [Route("GET", "/devices.csv", self.h_csv)]

    async def h_csv(self, request: web.Request) -> web.StreamResponse:
        """GET /devices.csv: every device of every status, streamed in chunks."""
        resp = web.StreamResponse(status=200)
        resp.content_type = "text/csv"
        resp.charset = "utf-8"
        resp.headers["Content-Disposition"] = 'attachment; filename="devices.csv"'
        resp.enable_chunked_encoding()
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        devices = list(self.state.fleet.devices.values())
        try:
            await resp.prepare(request)
            for start in range(0, len(devices), 500):
                for d in devices[start : start + 500]:
                    writer.writerow(csv_row(d))
                await resp.write(buf.getvalue().encode())
                buf.seek(0)
                buf.truncate()
            if buf.tell():
                await resp.write(buf.getvalue().encode())
            await resp.write_eof()
        except ConnectionResetError:
            # The client went away mid-export (`epmm devices export | head`): nothing to
            # answer, and nothing to report (aiohttp would log a traceback).
            pass
        return resp
