"""A chaos trial's job in a subprocess, so that the trial can kill it with SIGKILL.

Usage::

    python chaos_job.py run SPEC_JSON
    python chaos_job.py hold JOURNAL IDENTITY_JSON

``run`` runs the job that SPEC_JSON describes (see ``chaos_support.job_spec``) and appends
each outcome to the spec's report file (JSON lines) as it arrives. ``hold`` opens the journal
for the job IDENTITY_JSON names, prints ``held`` and keeps it open until it is killed.
EPMM_URL, EPMM_USERNAME and EPMM_PASSWORD name the server.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from contextlib import aclosing
from typing import Any

import msgspec

from epmm_async import ClientConfig, DeviceLookupError, EpmmClient, RetryPolicy, Timeouts
from epmm_async.ops import JobSettings, Journal
from epmm_async.validation import MacAddress


def _names(spec: dict[str, Any]) -> list[str | MacAddress]:
    return [MacAddress(v) if kind == "mac" else v for kind, v in spec["names"]]


async def run(spec: dict[str, Any]) -> None:
    """Run the job, appending each outcome to the report as it arrives."""
    settings = JobSettings(journal=spec["journal"])
    encoder = msgspec.json.Encoder()
    async with EpmmClient(
        os.environ["EPMM_URL"],
        username=os.environ["EPMM_USERNAME"],
        password=os.environ["EPMM_PASSWORD"],
        config=ClientConfig(
            retry=RetryPolicy(attempts=spec["attempts"], initial_delay=0.005, max_delay=0.05,
                          deadline=5),
            timeouts=Timeouts(connect=1, read=spec["read_timeout"], total=3),
        ),
    ) as epmm:
        names = _names(spec)
        if spec["mode"] == "bulk":
            stream = epmm.ops.stream_bulk(spec["action"], names, settings=settings,
                                          max_uuids=spec["max_uuids"],
                                          concurrency=spec["concurrency"], rate=spec["rate"])
        else:
            stream = epmm.ops.stream_fan_out(spec["action"], names, settings=settings,
                                             reason=spec["reason"],
                                             concurrency=spec["concurrency"], rate=spec["rate"])
        with open(spec["report"], "ab") as out:  # noqa: ASYNC230 (a job of its own)
            async with aclosing(stream) as outcomes:
                async for outcome in outcomes:
                    out.write(encoder.encode(outcome) + b"\n")
                    out.flush()


REFUSED = 3
"""Exit code of a job refused before anything was sent (a MAC look-up failed)."""


async def hold(journal: str, identity: dict[str, str]) -> None:
    """Hold the journal open until killed."""
    async with await Journal.open(journal, identity):
        print("held", flush=True)
        await asyncio.sleep(3600)


def main(argv: list[str]) -> int:
    if argv[0] == "run":
        with open(argv[1]) as file:
            try:
                asyncio.run(run(json.load(file)))
            except DeviceLookupError as exc:
                print(exc, file=sys.stderr)
                return REFUSED
    elif argv[0] == "hold":
        asyncio.run(hold(argv[1], json.loads(argv[2])))
    else:
        raise SystemExit(f"unknown command {argv[0]!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
