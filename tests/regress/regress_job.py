"""A fleet job run in a subprocess, so a test can run two at once or kill one with SIGKILL.

Usage: python regress_job.py URL ACTION MODE JOURNAL UUID_FILE REPORT_FILE [CONCURRENCY]
MODE is "bulk" or "fan_out". Each outcome is appended to REPORT_FILE (JSON lines) as it
arrives. Exit status 0 when the job ran to its end, 2 when it raised an EpmmError (its type
and text on stderr).
"""

from __future__ import annotations

import asyncio
import sys
from contextlib import aclosing
from pathlib import Path
from typing import BinaryIO

import msgspec

from epmm_async import ClientConfig, EpmmClient, RetryPolicy
from epmm_async.errors import EpmmError
from epmm_async.ops import JobSettings


async def run(url: str, action: str, mode: str, journal: str, uuids: list[str], out: BinaryIO,
              concurrency: int) -> None:
    """Run the job, appending each outcome to ``out`` as it arrives."""
    encoder = msgspec.json.Encoder()
    settings = JobSettings(journal=journal)
    async with EpmmClient(
        url,
        username="admin",
        password="fake-pass-7",
        config=ClientConfig(
            retry=RetryPolicy(initial_delay=0.01, max_delay=0.1, deadline=10),
            user_agent="regress-subprocess",
        ),
    ) as epmm:
        if mode == "bulk":
            stream = epmm.ops.stream_bulk(action, uuids, settings=settings,
                                          concurrency=concurrency)
        else:
            stream = epmm.ops.stream_fan_out(action, uuids, settings=settings,
                                             concurrency=concurrency)
        async with aclosing(stream) as outcomes:
            async for outcome in outcomes:
                out.write(encoder.encode(outcome) + b"\n")
                out.flush()


def main(argv: list[str]) -> int:
    url, action, mode, journal, uuid_file, report = argv[:6]
    concurrency = int(argv[6]) if len(argv) > 6 else 1
    uuids = [line.strip() for line in Path(uuid_file).read_text().splitlines() if line.strip()]
    with open(report, "ab") as out:
        try:
            asyncio.run(run(url, action, mode, journal, uuids, out, concurrency))
        except EpmmError as exc:
            print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
