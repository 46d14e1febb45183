"""A job run in a subprocess so tests can kill it with SIGKILL and resume it.

Usage: python crash_job.py ACTION MODE JOURNAL UUID_FILE [REPORT_FILE]
with EPMM_URL, EPMM_USERNAME and EPMM_PASSWORD in the environment. MODE is "bulk" or
"fan_out". Every outcome is appended to REPORT_FILE (JSON lines) as it arrives.
"""

from __future__ import annotations

import asyncio
import os
import sys
from contextlib import aclosing
from pathlib import Path
from typing import BinaryIO

import msgspec

from epmm_async import ClientConfig, EpmmClient, RetryPolicy
from epmm_async.ops import JobSettings


async def run(action: str, mode: str, journal: str, uuids: list[str], out: BinaryIO) -> None:
    """Run the job, appending each outcome to ``out`` as it arrives."""
    settings = JobSettings(concurrency=int(os.environ.get("JOB_CONCURRENCY", "8")),
                           journal=journal)
    encoder = msgspec.json.Encoder()
    async with EpmmClient(
        os.environ["EPMM_URL"],
        username=os.environ["EPMM_USERNAME"],
        password=os.environ["EPMM_PASSWORD"],
        config=ClientConfig(retry=RetryPolicy(initial_delay=0.01, max_delay=0.1, deadline=10)),
    ) as epmm:
        if mode == "bulk":
            stream = epmm.ops.stream_bulk(action, uuids, settings=settings)
        else:
            stream = epmm.ops.stream_fan_out(action, uuids, settings=settings)
        async with aclosing(stream) as outcomes:
            async for outcome in outcomes:
                out.write(encoder.encode(outcome) + b"\n")
                out.flush()


def main(argv: list[str]) -> int:
    action, mode, journal, uuid_file = argv[:4]
    report = argv[4] if len(argv) > 4 else os.devnull
    uuids = [line.strip() for line in Path(uuid_file).read_text().splitlines() if line.strip()]
    with open(report, "ab") as out:
        asyncio.run(run(action, mode, journal, uuids, out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
