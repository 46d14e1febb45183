"""The operations layer: fleet-wide jobs as streams of per-device outcomes.

Every operation comes twice: ``stream_*`` yields one :class:`Outcome` per device as they
arrive, and the plain name reduces that stream to a :class:`BulkReport`. A stream may be
closed or abandoned at any point: the job halts (no new request; attempts on the wire finish
and are journalled) without touching the consumer's task. Operations call the API layer
(``epmm.devices``, ``epmm.bulk``) for every request.

Every operation also has a ``plan_*`` twin taking the same arguments: it returns the job's
:class:`JobPreview` (its devices, every request it will send, a sample), laid out by the
code the run uses, and :meth:`Operations.stream_plan` runs exactly that plan.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Concatenate, ParamSpec, TypeVar

from ..core.requests import ApiRequest
from ..errors import ValidationError
from .bulk import bulk_job, send_message_job
from .chunking import plan_chunks
from .fanout import DeviceResult as DeviceResult
from .fanout import each_job, fan_out_job
from .gather import DeviceInput as DeviceInput
from .jobs import Job, chunker, plan_job, stream_job
from .journal import Journal
from .labels import UnknownLabelError, label_add_job, label_remove_job
from .locate import locate_now_job
from .outcomes import (
    BulkReport,
    Freshness,
    Outcome,
    OutcomeStatus,
    Progress,
    collect,
)
from .plan import JobPlan as JobPlan
from .plan import JobSettings
from .preview import JobPreview, PlannedRequest
from .session import Session
from .waiter import Waiter, WaiterGaveUp

__all__ = [
    "BulkReport",
    "Freshness",
    "JobPreview",
    "JobSettings",
    "Journal",
    "Operations",
    "Outcome",
    "OutcomeStatus",
    "PlannedRequest",
    "Progress",
    "UnknownLabelError",
    "Waiter",
    "WaiterGaveUp",
    "plan_chunks",
]

P = ParamSpec("P")
F = TypeVar("F", bound=Callable[..., Any])
_Stream = AsyncGenerator[Outcome, None]

# -- one job definition, three methods -------------------------------------------------------
#
# Each operation is defined once, as a function of the client that returns its Job
# (``bulk.bulk_job`` and the like), with the signature and docstring ``stream_*`` shows.
# ``stream_*``, ``plan_*`` and the reducing method are derived from it, so the three cannot
# drift apart; the runtime signature (``help()``, ``inspect.signature``) is the definition's.


def _shown(
    method: F, source: Callable[..., Any], name: str, doc: str | None, returns: str,
    required: tuple[str, ...] = (),
) -> F:
    """Name ``method``, give it ``doc`` and the signature of ``source`` (whose first
    parameter becomes ``self``) returning ``returns``; ``required`` arguments lose their
    default."""
    signature = inspect.signature(source)
    first, *rest = signature.parameters.values()
    rest = [
        p.replace(default=inspect.Parameter.empty,
                  annotation=str(p.annotation).removesuffix(" | None"))
        if p.name in required else p
        for p in rest
    ]
    method.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[first.replace(name="self", annotation=inspect.Parameter.empty), *rest],
        return_annotation=returns,
    )
    method.__name__ = name
    method.__qualname__ = f"Operations.{name}"
    method.__doc__ = doc
    return method


def _operation(define: Callable[..., Job[Any]]) -> str:
    return define.__name__.removesuffix("_job")  # send_message_job -> send_message


def _streamer(
    define: Callable[Concatenate[Session, P], Job[Any]],
) -> Callable[Concatenate[Operations, P], _Stream]:
    """``stream_*``: the job run, one outcome per device."""

    def stream(self: Operations, /, *args: P.args, **kwargs: P.kwargs) -> _Stream:
        # The job is defined (its arguments checked) when the stream is made, not iterated.
        return stream_job(self._client, define(self._client, *args, **kwargs))

    return _shown(stream, define, f"stream_{_operation(define)}", define.__doc__,
                  "AsyncGenerator[Outcome, None]")


def _planner(
    define: Callable[Concatenate[Session, P], Job[Any]], doc: str,
    *, required: tuple[str, ...] = (),
) -> Callable[Concatenate[Operations, P], Awaitable[JobPreview]]:
    """``plan_*``: the job laid out, nothing sent. ``required``: keyword arguments the run
    may go without but a plan needs (``plan_each``'s ``request``)."""
    name = f"plan_{_operation(define)}"

    async def plan(self: Operations, /, *args: P.args, **kwargs: P.kwargs) -> JobPreview:
        for argument in required:
            if argument not in kwargs:
                raise TypeError(
                    f"Operations.{name}() missing 1 required keyword-only argument: "
                    f"{argument!r}"
                )
        return await plan_job(self._client, define(self._client, *args, **kwargs))

    return _shown(plan, define, name, doc, "JobPreview", required)


def _reducer(
    stream: Callable[Concatenate[Operations, P], AsyncIterator[Outcome]], doc: str,
    name: str | None = None,
) -> Callable[Concatenate[Operations, P], Awaitable[BulkReport]]:
    """The plain name: the stream reduced to a :class:`BulkReport`."""

    async def run(self: Operations, /, *args: P.args, **kwargs: P.kwargs) -> BulkReport:
        return await collect(stream(self, *args, **kwargs))

    return _shown(run, stream, name or stream.__name__.removeprefix("stream_"), doc,
                  "BulkReport")


class Operations:
    """``epmm.ops``: bulk chunking, bounded fan-out and locate-now over many devices."""

    def __init__(self, client: Session) -> None:
        """Bind to a client (its APIs, limits and job runs)."""
        self._client = client

    def _chunker(
        self,
        build: Callable[[Sequence[str]], ApiRequest],
        *,
        max_ids: int,
        line_limit: int | None,
    ) -> Callable[[list[str]], list[list[str]]]:
        """The units of a bulk job under this client's budget (:func:`.jobs.chunker`)."""
        return chunker(self._client, build, max_ids=max_ids, line_limit=line_limit)

    def stream_plan(self, preview: JobPreview) -> AsyncGenerator[Outcome, None]:
        """Run a planned job (``plan_*``) with the settings it was planned with: the same
        devices (not gathered nor looked up again) and, without a journal, exactly the
        preview's requests as first attempts. Yields one outcome per device, like the
        ``stream_*`` it was planned for. A preview may be run more than once."""
        if not isinstance(preview, JobPreview):
            raise ValidationError(f"stream_plan takes a JobPreview, not {type(preview).__name__}")
        return preview.start()

    # -- bulk ------------------------------------------------------------------------------

    stream_bulk = _streamer(bulk_job)
    plan_bulk = _planner(
        bulk_job,
        """The plan of :meth:`stream_bulk` with these arguments: its chunks and their
        requests, nothing sent (MACs are looked up, as the run would).""",
    )
    stream_send_message = _streamer(send_message_job)
    plan_send_message = _planner(
        send_message_job,
        "The plan of :meth:`stream_send_message` with these arguments, nothing sent.",
    )

    # -- per-device fan-out ----------------------------------------------------------------

    stream_fan_out = _streamer(fan_out_job)
    plan_fan_out = _planner(
        fan_out_job,
        """The plan of :meth:`stream_fan_out` with these arguments: one request per
        device, nothing sent (MACs are looked up only when the run would).""",
    )
    stream_each = _streamer(each_job)
    plan_each = _planner(
        each_job,
        """The plan of :meth:`stream_each` with these arguments; ``request(device)`` builds
        the request ``call`` sends (``epmm_async.core.requests``), for the preview.""",
        required=("request",),
    )

    # -- locate-now ------------------------------------------------------------------------

    stream_locate_now = _streamer(locate_now_job)
    plan_locate_now = _planner(
        locate_now_job,
        """The plan of :meth:`stream_locate_now`: each device's first request (with
        ``locatenow=true``, or a plain locate for a device known to be iOS) and the polls
        that may follow (:attr:`JobPreview.max_polls` per device at most).""",
    )

    # -- static-label membership (API v2) --------------------------------------------------

    stream_label_add = _streamer(label_add_job)
    plan_label_add = _planner(
        label_add_job,
        """The plan of :meth:`stream_label_add` with these arguments: its chunks and their
        requests, nothing sent (the label is looked up, as the run would).""",
    )
    stream_label_remove = _streamer(label_remove_job)
    plan_label_remove = _planner(
        label_remove_job,
        "The plan of :meth:`stream_label_remove` with these arguments, nothing sent.",
    )

    # -- reports ---------------------------------------------------------------------------

    bulk = _reducer(stream_bulk, ":meth:`stream_bulk` reduced to a :class:`BulkReport`.")
    send_message = _reducer(
        stream_send_message, ":meth:`stream_send_message` reduced to a :class:`BulkReport`."
    )
    fan_out = _reducer(stream_fan_out, ":meth:`stream_fan_out` reduced to a :class:`BulkReport`.")
    each = _reducer(stream_each, ":meth:`stream_each` reduced to a :class:`BulkReport`.")
    locate_now = _reducer(
        stream_locate_now, ":meth:`stream_locate_now` reduced to a :class:`BulkReport`."
    )
    label_add = _reducer(
        stream_label_add, ":meth:`stream_label_add` reduced to a :class:`BulkReport`."
    )
    label_remove = _reducer(
        stream_label_remove, ":meth:`stream_label_remove` reduced to a :class:`BulkReport`."
    )
    run_plan = _reducer(stream_plan, ":meth:`stream_plan` reduced to a :class:`BulkReport`.",
                        "run_plan")
