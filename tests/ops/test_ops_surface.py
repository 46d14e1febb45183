"""The operations' public surface: ``stream_*``, ``plan_*`` and the reports are derived from
one job definition each, and show the signatures and docstrings they always had."""

from __future__ import annotations

import inspect

import pytest

from epmm_async.client import EpmmClient
from epmm_async.ops import DeviceResult, Operations
from epmm_async.validation import MacAddress

OPERATIONS = ("bulk", "send_message", "fan_out", "each", "locate_now")


@pytest.mark.parametrize("name", OPERATIONS)
def test_stream_plan_and_report_take_the_same_arguments(name: str) -> None:
    stream = inspect.signature(getattr(Operations, f"stream_{name}"))
    plan = inspect.signature(getattr(Operations, f"plan_{name}"))
    report = inspect.signature(getattr(Operations, name))
    assert list(stream.parameters) == list(plan.parameters) == list(report.parameters)
    assert next(iter(stream.parameters)) == "self"
    assert stream.return_annotation == "AsyncGenerator[Outcome, None]"
    assert plan.return_annotation == "JobPreview"
    assert report.return_annotation == "BulkReport"
    assert inspect.iscoroutinefunction(getattr(Operations, f"plan_{name}"))
    assert not inspect.iscoroutinefunction(getattr(Operations, f"stream_{name}"))
    for prefix in ("stream_", "plan_", ""):
        method = getattr(Operations, f"{prefix}{name}")
        assert method.__name__ == f"{prefix}{name}"
        assert method.__doc__


def test_plan_each_requires_the_request_stream_each_may_go_without() -> None:
    stream = inspect.signature(Operations.stream_each).parameters["request"]
    plan = inspect.signature(Operations.plan_each).parameters["request"]
    assert stream.default is None
    assert plan.default is inspect.Parameter.empty
    assert plan.annotation == "Callable[[str | MacAddress], ApiRequest]"


async def test_plan_each_without_a_request_is_a_type_error() -> None:
    async def call(device: str | MacAddress) -> DeviceResult:
        raise AssertionError("planning calls nothing")

    ops = EpmmClient("https://epmm.example.com", username="u", password="p").ops
    with pytest.raises(TypeError, match=r"plan_each\(\) missing .* 'request'"):
        await ops.plan_each("wakeup", [], call)
