"""Chunk planning: both limits, whichever binds first, and never a request over either."""

from __future__ import annotations

import math
import uuid as uuidlib

import pytest

from epmm_async import ValidationError
from epmm_async.core import requests
from epmm_async.ops import plan_chunks

IDS = [str(uuidlib.UUID(int=i + 1)) for i in range(5000)]


def lock(chunk: object) -> requests.ApiRequest:
    return requests.bulk_action("LOCK", chunk)  # type: ignore[arg-type]


def test_request_line_binds_first_and_every_chunk_fits() -> None:
    chunks = list(plan_chunks(IDS, lock, max_ids=20_000, max_request_line=8190))
    assert [u for c in chunks for u in c] == IDS
    for chunk in chunks:
        assert lock(chunk).request_line_length() <= 8190
    # Greedy packing is optimal for equal-sized ids: one more id would not fit.
    per = len(chunks[0])
    assert lock(IDS[: per + 1]).request_line_length() > 8190
    assert len(chunks) == math.ceil(len(IDS) / per)
    assert 100 < per < 200  # about 150 per request line, as the field notes say


def test_count_binds_first_with_a_big_line_budget() -> None:
    chunks = list(plan_chunks(IDS, lock, max_ids=1000, max_request_line=10_000_000))
    assert [len(c) for c in chunks] == [1000] * 5


def test_form_body_budgets_by_count_only() -> None:
    chunks = list(plan_chunks(IDS, lock, max_ids=2000, max_request_line=None))
    assert [len(c) for c in chunks] == [2000, 2000, 1000]


def test_base_path_counts_against_the_line() -> None:
    plain = list(plan_chunks(IDS, lock, max_ids=20_000, max_request_line=8190))
    prefixed = list(
        plan_chunks(IDS, lock, max_ids=20_000, max_request_line=8190, base_path="/x" * 500)
    )
    assert len(prefixed[0]) < len(plain[0])
    for chunk in prefixed:
        assert lock(chunk).request_line_length("/x" * 500) <= 8190


def test_send_message_head_is_budgeted() -> None:
    def build(chunk: object) -> requests.ApiRequest:
        return requests.send_message(chunk, message="x" * 3000, mode="sms")  # type: ignore[arg-type]

    chunks = list(plan_chunks(IDS[:500], build, max_ids=20_000, max_request_line=8190))
    assert all(build(c).request_line_length() <= 8190 for c in chunks)
    assert sum(map(len, chunks)) == 500


def test_empty_input_and_a_budget_too_small() -> None:
    assert list(plan_chunks([], lock, max_ids=10, max_request_line=8190)) == []
    with pytest.raises(ValidationError):
        list(plan_chunks(IDS[:1], lock, max_ids=10, max_request_line=60))


def test_ids_that_need_quoting_are_budgeted_quoted() -> None:
    odd = [f"id {i}/é?" for i in range(400)]

    def build(chunk: object) -> requests.ApiRequest:
        return requests.send_message(chunk, message="hi", mode="sms")  # type: ignore[arg-type]

    chunks = list(plan_chunks(odd, build, max_ids=20_000, max_request_line=1000))
    assert [u for c in chunks for u in c] == odd
    for chunk in chunks:
        assert build(chunk).request_line_length() <= 1000
    assert build(chunks[0] + [odd[-1]]).request_line_length() > 1000
