"""The plan of a job, before anything is sent: its devices, its requests, a sample of them.

``epmm.ops.plan_bulk(...)``, ``plan_fan_out(...)`` and the other ``plan_*`` methods take the
arguments of the matching ``stream_*`` and return a :class:`JobPreview`, made by the code the
run uses (the same validation, deduplication, MAC resolution, chunker and request builders).
``epmm.ops.stream_plan(preview)`` runs exactly that plan: a run without a journal sends the
preview's :attr:`JobPreview.requests` as their first attempts, no more and no fewer.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field

from ..core.requests import ApiRequest
from ..errors import ValidationError
from .outcomes import Outcome

__all__ = ["JobPreview", "PlannedRequest"]


@dataclass(frozen=True, slots=True)
class PlannedRequest:
    """One request a run of the job sends (its first attempt), and the devices it carries."""

    request: ApiRequest
    """Method, path, encoded query and form body, exactly as the run builds them. Never
    credentials: they travel in the ``Authorization`` header, which no plan holds."""
    devices: tuple[str, ...]
    """The devices (uuids, or MACs sent to a ``/mac/`` endpoint) this request acts on."""

    @property
    def method(self) -> str:
        """``POST``, ``PUT``, ``GET``."""
        return self.request.method

    @property
    def target(self) -> str:
        """Path and query as in the request line, below the base URL's path
        (``/api/v1/dm/bulk/devices/LOCK?deviceUuids=...``)."""
        return self.request.target

    def request_line_length(self, base_path: str = "") -> int:
        """Bytes of the request line (``METHOD SP target SP HTTP/1.1``) under ``base_path``."""
        return self.request.request_line_length(base_path)


@dataclass(frozen=True, slots=True)
class JobPreview:
    """What a job will do, planned without acting: devices, requests, a sample request.

    The only requests planning makes are MAC look-ups (reads, counted in :attr:`lookups`),
    when the run would make them: a bulk job, a job naming devices both by uuid and by MAC,
    a destructive job with a journal. Run it with ``epmm.ops.stream_plan(preview)`` (or
    ``run_plan``), which uses the settings it was planned with. Retries, the halves of a
    chunk refused as too long, and locate-now polls come on top of :attr:`requests`; with a
    journal, devices an earlier run recorded are carried over and not sent again.
    """

    action: str
    """The registry's name of the action (``lock``, ``locate_now``), as in outcomes."""
    how: str
    """``bulk``, ``send-message``, ``per-device``, ``locate-now`` or
    ``label-membership``."""
    devices: tuple[str, ...]
    """The devices to send to, validated and deduplicated, in order (a MAC resolved to its
    uuid is listed by uuid)."""
    requests: tuple[PlannedRequest, ...]
    """Every request a fresh run sends first, in the order the run takes them up."""
    early: tuple[Outcome, ...] = ()
    """Outcomes already known: a MAC that names no device (``invalid``, ``not_found``)."""
    lookups: int = 0
    """MAC look-ups (``GET /devices/mac/{MAC}``) made while planning."""
    destructive: bool = False
    """Wipe and retire: journalled pending before sending, never resent once they may apply."""
    max_polls: int = 0
    """Locate-now: plain locate requests per device after its first one, at most."""
    _start: Callable[[], AsyncGenerator[Outcome, None]] | None = field(
        default=None, repr=False, compare=False
    )

    @property
    def chunk_sizes(self) -> list[int]:
        """How many devices each request carries (1 per request for per-device jobs)."""
        return [len(r.devices) for r in self.requests]

    @property
    def sample(self) -> PlannedRequest | None:
        """The first request, or None when nothing would be sent."""
        return self.requests[0] if self.requests else None

    @property
    def total(self) -> int:
        """Outcomes a run yields: one per device, the early ones included."""
        return len(self.devices) + len(self.early)

    def start(self) -> AsyncGenerator[Outcome, None]:
        """Run the plan (what ``epmm.ops.stream_plan`` calls)."""
        if self._start is None:
            raise ValidationError("this preview was not made by epmm.ops.plan_*: it cannot be run")
        return self._start()
