"""Run the EPMM simulator standalone: ``python -m epmm_async.simulator --devices 50000``.

The password comes from the environment variable ``EPMM_SIM_PASSWORD`` or is generated; it is
never a command-line flag (flags show up in process listings).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import sys

from .faults import Faults
from .server import Simulator
from .wire import Quirks

__all__ = ["build_parser", "quirks_from_args", "run"]


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser of the standalone simulator."""
    p = argparse.ArgumentParser(
        prog="python -m epmm_async.simulator",
        description="Simulated Ivanti EPMM V1 Device Management API server, with the API v2 "
        "subset (password from EPMM_SIM_PASSWORD or generated).",
    )
    p.add_argument("--devices", type=int, default=1000, help="fleet size (default 1000)")
    p.add_argument("--port", type=int, default=8080, help="TCP port (0 = any free port)")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--seed", type=int, default=7, help="fleet seed (default 7)")
    p.add_argument("--username", default="admin", help="API account name (default admin)")
    p.add_argument("--time-scale", type=float, default=1.0, help="scale of simulated delays")
    p.add_argument("--bulk-max-uuids", type=int, default=20_000, help="bulk uuid count limit")
    p.add_argument("--max-request-line", type=int, default=8190, help="request line limit (414)")
    p.add_argument("--latency", type=float, default=0.0, help="seconds added to every request")
    p.add_argument("--jitter", type=float, default=0.0, help="uniform +- jitter of the latency")
    p.add_argument("--error-rate", type=float, default=0.0, help="fraction answered 500/502/503")
    p.add_argument("--rate-limit-rate", type=float, default=0.0, help="fraction answered 429")
    p.add_argument("--rate-limit-burst", type=int, default=0, help="extra 429s after one")
    p.add_argument("--drop-rate", type=float, default=0.0, help="fraction cut mid-response")
    p.add_argument("--slow-rate", type=float, default=0.0, help="fraction answered slowly")
    p.add_argument("--slow-seconds", type=float, default=5.0, help="delay of a slow answer")
    p.add_argument("--malformed-rate", type=float, default=0.0, help="fraction garbled")
    p.add_argument("--retry-after", type=float, default=1.0, help="Retry-After on 429/503")
    p.add_argument(
        "--applied-error-rate", type=float, default=0.0, help="fraction applied, then 500/502/504"
    )
    p.add_argument(
        "--redirect-rate", type=float, default=0.0, help="fraction answered 302 to a login page"
    )
    p.add_argument(
        "--header-limit-status",
        type=int,
        choices=(400, 431),
        default=400,
        help="answer when request line + headers pass 8 KB (default 400)",
    )
    preset = p.add_mutually_exclusive_group()
    preset.add_argument("--clean", action="store_true", help="turn every wire-format quirk off")
    preset.add_argument(
        "--quoted",
        action="store_true",
        help="the older dialect: every scalar a string, details an object, 403 for no role",
    )
    p.add_argument("--misspelled-sucess", action="store_true", help="register says SUCESS")
    w = p.add_argument_group("wire format (each overrides the preset)")
    w.add_argument(
        "--typing",
        choices=("jettison", "quoted", "schema"),
        help="JSON scalar typing (default jettison: numbers/booleans bare)",
    )
    flag = argparse.BooleanOptionalAction
    w.add_argument("--enforce-32bit-integer", action=flag, help="integers over 32 bits stay text")
    w.add_argument(
        "--negative-exponent-as-string", action=flag, help="Jettison 1.5: 1.0E-4 stays text"
    )
    w.add_argument("--escape-forward-slash-always", action=flag, help="write / as \\/ in JSON")
    w.add_argument("--single-as-object", action=flag, help="one-element list as an object")
    w.add_argument("--root-wrapper", action=flag, help="JSON keeps the XML root element")
    w.add_argument("--empty-as-404", action=flag, help="an empty result is a 404 with a body")
    w.add_argument(
        "--empty-elements",
        choices=("missing", "empty", "null"),
        help="a null property: omitted (default), empty or JSON null",
    )
    w.add_argument("--details-wrapped-in-list", action=flag, help='details as [{"entry": ...}]')
    w.add_argument(
        "--empty-details",
        choices=("element", "bare", "missing"),
        help='empty details: like any empty element ([""], default), "" or omitted',
    )
    w.add_argument("--mac-lookup-singular", action=flag, help="MAC lookup answers one device")
    w.add_argument(
        "--no-role-status",
        type=int,
        choices=(401, 403),
        help="answer to an account without the API role (default 401)",
    )
    w.add_argument(
        "--auth-error-body", choices=("html", "api"), help="body of a 401 (default html)"
    )
    w.add_argument("--bulk-form-body", action=flag, help="bulk calls also read a form body")
    w.add_argument(
        "--invalid-devices-in-messages", action=flag, help="bulk invalidDevices inside messages"
    )
    _v2_flags(p.add_argument_group("API v2 (/api/v2; a cap of 0 means no cap)"))
    return p


def _v2_flags(g: argparse._ArgumentGroup) -> None:
    flag = argparse.BooleanOptionalAction
    g.add_argument("--v2", dest="v2_enabled", action=flag, help="serve /api/v2 (default on)")
    g.add_argument(
        "--v2-device-space-id", type=int, help="the admin's device space (default 1; 0: none)"
    )
    g.add_argument("--v2-page-cap", type=int, help="largest device search limit (default none)")
    g.add_argument("--v2-label-page-cap", type=int, help="largest label_summary limit (200)")
    g.add_argument(
        "--v2-over-cap", choices=("clamp", "error"), help="a limit over its cap (default clamp)"
    )
    g.add_argument("--v2-offset-as-page", action=flag, help="offset is a page number")
    g.add_argument("--v2-max-fields", type=int, help="most fields in one search (default 512)")
    g.add_argument("--v2-max-query-length", type=int, help="longest query (default 255)")
    g.add_argument("--v2-left-to-right", action=flag, help="AND and OR bind alike")
    g.add_argument(
        "--v2-max-label-uuids", type=int, help="most uuids in one label add/remove (none)"
    )
    g.add_argument("--v2-label-cap-status", type=int, help="status above that cap (default 400)")
    g.add_argument("--v2-partial-failure", type=int, help="status of a partial label failure (200)")
    g.add_argument("--v2-success-records", action=flag, help="records list successes too")
    g.add_argument("--v2-remove-records", action=flag, help="remove answers records too")
    g.add_argument("--v2-unknown-label-status", type=int, choices=(400, 404), help="default 404")
    g.add_argument(
        "--v2-dynamic-label",
        choices=("error", "records"),
        help="membership on a dynamic label: 400 (default) or failure records",
    )


_QUIRK_FLAGS = (
    "typing",
    "enforce_32bit_integer",
    "negative_exponent_as_string",
    "escape_forward_slash_always",
    "single_as_object",
    "root_wrapper",
    "empty_as_404",
    "empty_elements",
    "details_wrapped_in_list",
    "empty_details",
    "mac_lookup_singular",
    "no_role_status",
    "auth_error_body",
    "bulk_form_body",
    "invalid_devices_in_messages",
    "v2_enabled",
    "v2_over_cap",
    "v2_offset_as_page",
    "v2_left_to_right",
    "v2_label_cap_status",
    "v2_partial_failure",
    "v2_success_records",
    "v2_remove_records",
    "v2_unknown_label_status",
    "v2_dynamic_label",
)
_V2_CAPS = (
    "v2_device_space_id",
    "v2_page_cap",
    "v2_label_page_cap",
    "v2_max_fields",
    "v2_max_query_length",
    "v2_max_label_uuids",
)
"""Flags whose 0 means None (no cap, no device space)."""


def quirks_from_args(args: argparse.Namespace) -> Quirks:
    """The :class:`Quirks` the parsed flags ask for: the preset (``--clean``, ``--quoted``
    or the real-server defaults), then every wire-format flag given."""
    quirks = Quirks.clean() if args.clean else Quirks.quoted() if args.quoted else Quirks()
    changes = {name: getattr(args, name) for name in _QUIRK_FLAGS}
    for name in _V2_CAPS:
        value = getattr(args, name)
        if value is not None:
            changes[name] = value or None
    given = {k: v for k, v in changes.items() if v is not None or k in _V2_CAPS}
    quirks = dataclasses.replace(quirks, **given)
    if args.misspelled_sucess:
        quirks.misspelled_sucess = True
    return quirks


async def _serve(args: argparse.Namespace) -> None:
    faults = Faults(
        latency=args.latency,
        jitter=args.jitter,
        error_rate=args.error_rate,
        rate_limit_rate=args.rate_limit_rate,
        rate_limit_burst=args.rate_limit_burst,
        drop_rate=args.drop_rate,
        slow_rate=args.slow_rate,
        slow_seconds=args.slow_seconds,
        malformed_rate=args.malformed_rate,
        retry_after=args.retry_after,
        applied_error_rate=args.applied_error_rate,
        redirect_rate=args.redirect_rate,
        header_limit_status=args.header_limit_status,
        seed=args.seed,
    )
    quirks = quirks_from_args(args)
    sim = Simulator(
        args.devices,
        args.seed,
        username=args.username,
        password=os.environ.get("EPMM_SIM_PASSWORD") or None,
        quirks=quirks,
        faults=faults,
        time_scale=args.time_scale,
        bulk_max_uuids=args.bulk_max_uuids,
        max_request_line=args.max_request_line,
        host=args.host,
        port=args.port,
    )
    async with sim:
        print(f"EPMM simulator: {len(sim.fleet.devices)} devices", flush=True)
        print(f"url={sim.url}", flush=True)
        print(f"username={sim.username}", flush=True)
        print(f"password={sim.password}", flush=True)
        print("Ctrl-C to stop.", flush=True)
        await asyncio.Event().wait()


def run(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and serve until interrupted; returns the exit status."""
    args = build_parser().parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(run())
