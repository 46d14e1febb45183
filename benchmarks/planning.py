"""6. Bulk planning: 1,000,000 uuids split under both limits with ``plan_chunks``, as
``epmm.ops.stream_bulk`` does, against a naive fixed-size slice into chunks of the same
size (so the ratio is the cost of exact request-line budgeting)."""

from __future__ import annotations

import time
import uuid

from epmm_async.core import requests
from epmm_async.enums import BulkAction
from epmm_async.ops import plan_chunks

from .harness import Result, run_rounds, spread

NAME = "planning"
ROUNDS = 3
N = 1_000_000


def run() -> Result:
    ids = [str(uuid.UUID(int=i * 2654435761 + 1, version=4)) for i in range(N)]

    def build(chunk: object) -> requests.ApiRequest:
        return requests.bulk_action(BulkAction.LOCK, chunk)  # type: ignore[arg-type]

    def plan() -> list[list[str]]:
        return list(plan_chunks(ids, build, max_ids=20_000, max_request_line=8190,
                                base_path=""))

    chunks = plan()
    size = len(chunks[0])
    assert sum(map(len, chunks)) == N

    def ours() -> float:
        t0 = time.perf_counter()
        plan()
        return time.perf_counter() - t0

    def naive() -> float:
        t0 = time.perf_counter()
        _ = [ids[i : i + size] for i in range(0, N, size)]
        return time.perf_counter() - t0

    a, b = run_rounds(ROUNDS, ours, naive)
    ratios = spread([x / y for x, y in zip(a, b, strict=True)])
    return Result(
        name=NAME,
        title="Bulk planning (1M uuids)",
        ratio=ratios,
        ratio_meaning="plan_chunks time / naive fixed-size slicing time",
        figures={
            "chunks": len(chunks),
            "uuids_per_chunk": size,
            "ours_uuids_per_s": round(N / spread(a).median),
            "naive_uuids_per_s": round(N / spread(b).median),
        },
        rounds=ROUNDS,
    )
