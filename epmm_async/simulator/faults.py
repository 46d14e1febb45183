"""Fault injection settings and the seeded decisions made from them."""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["FaultPlan", "FaultState", "Faults"]


@dataclass(slots=True)
class Faults:
    """Faults the simulator injects into API requests (all off by default).

    Attributes:
        latency: seconds added to every API request, plus uniform ``±jitter``.
        error_rate: fraction answered with a status from ``error_statuses`` before anything
            is applied (``Retry-After`` on 503/429).
        rate_limit_rate: fraction answered 429; each one also makes the next
            ``rate_limit_burst`` requests 429.
        drop_rate: fraction whose state change IS applied, then the connection is cut after
            the headers and part of the body.
        slow_rate: fraction answered only after ``slow_seconds`` (state applied first).
        malformed_rate: fraction answered 200 with a truncated/garbled body (state applied).
        applied_error_rate: fraction whose state change IS applied, then answered with a
            status from ``applied_error_statuses`` (a gateway timing out after the backend
            acted): an HTML proxy page for 502/503/504, the API's error body otherwise.
        redirect_rate: fraction answered ``302 Found`` to ``redirect_location`` with the body
            ``{}`` (``application/json``) and nothing applied (a session or SSO front end
            sending the client to a login page).
        retry_after: ``Retry-After`` seconds (fractions allowed) on a 429 or a 503 of
            ``error_rate``; ``None`` sends no ``Retry-After``.
        header_limit_status: the answer when the request line plus headers pass the
            simulator's ``max_header_bytes``: 400 (Tomcat's, body "Request header is too
            large") or 431. It applies to every request, whatever ``paths`` says.
        paths: only requests whose path (with or without ``/api/v1/dm``) starts with one of
            these prefixes get faults; empty means every API request.
        seed: seed of the fault RNG.
    """

    latency: float = 0.0
    jitter: float = 0.0
    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = (500, 502, 503)
    retry_after: float | None = 1.0
    rate_limit_rate: float = 0.0
    rate_limit_burst: int = 0
    drop_rate: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 5.0
    malformed_rate: float = 0.0
    applied_error_rate: float = 0.0
    applied_error_statuses: tuple[int, ...] = (500, 502, 504)
    redirect_rate: float = 0.0
    redirect_location: str = "/mifs/login/login.jsp"
    header_limit_status: int = 400
    paths: tuple[str, ...] = ()
    seed: int = 0

    def __post_init__(self) -> None:
        if self.header_limit_status not in (400, 431):
            raise ValueError(
                f"header_limit_status must be 400 or 431, not {self.header_limit_status}"
            )
        if self.applied_error_rate and not self.applied_error_statuses:
            raise ValueError("applied_error_rate needs at least one applied_error_statuses")

    def applies_to(self, path: str) -> bool:
        """Whether ``path`` is targeted by these faults."""
        if not self.paths:
            return True
        rel = path[len("/api/v1/dm") :] if path.startswith("/api/v1/dm") else path
        return any(path.startswith(p) or rel.startswith(p) for p in self.paths)


@dataclass(slots=True)
class FaultPlan:
    """What happens to one request.

    ``status`` (with its ``kind``: ``error``, ``rate_limit`` or ``redirect``) is answered
    before anything is applied; ``after`` (``drop``, ``slow``, ``malformed`` or
    ``applied_error``, with ``after_status`` for the last) acts on the handler's answer.
    """

    delay: float = 0.0
    status: int | None = None
    rate_limited: bool = False
    kind: str | None = None
    after: str | None = None
    after_status: int | None = None


class FaultState:
    """Live faults plus the seeded RNG and the pending 429 burst."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self.rng = random.Random(faults.seed)
        self.burst_left = 0

    def plan(self, path: str) -> FaultPlan:
        """Decide the faults of one request to ``path``."""
        f = self.faults
        plan = FaultPlan()
        if not f.applies_to(path):
            return plan
        rng = self.rng
        if f.latency or f.jitter:
            plan.delay = max(0.0, f.latency + rng.uniform(-f.jitter, f.jitter))
        if self.burst_left > 0:
            self.burst_left -= 1
            plan.status, plan.rate_limited, plan.kind = 429, True, "rate_limit"
            return plan
        if f.error_rate and rng.random() < f.error_rate:
            plan.status = f.error_statuses[rng.randrange(len(f.error_statuses))]
            plan.kind = "error"
            return plan
        if f.rate_limit_rate and rng.random() < f.rate_limit_rate:
            plan.status, plan.rate_limited, plan.kind = 429, True, "rate_limit"
            self.burst_left = f.rate_limit_burst
            return plan
        if f.redirect_rate and rng.random() < f.redirect_rate:
            plan.status, plan.kind = 302, "redirect"
            return plan
        roll = rng.random()
        for kind, rate in (
            ("drop", f.drop_rate),
            ("slow", f.slow_rate),
            ("malformed", f.malformed_rate),
            ("applied_error", f.applied_error_rate),
        ):
            if rate and roll < rate:
                plan.after = kind
                if kind == "applied_error":
                    statuses = f.applied_error_statuses
                    plan.after_status = statuses[rng.randrange(len(statuses))]
                return plan
            roll -= rate
        return plan
