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
        retry_after: ``Retry-After`` seconds (fractions allowed).
        paths: only requests whose path (with or without ``/api/v1/dm``) starts with one of
            these prefixes get faults; empty means every API request.
        seed: seed of the fault RNG.
    """

    latency: float = 0.0
    jitter: float = 0.0
    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = (500, 502, 503)
    retry_after: float = 1.0
    rate_limit_rate: float = 0.0
    rate_limit_burst: int = 0
    drop_rate: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 5.0
    malformed_rate: float = 0.0
    paths: tuple[str, ...] = ()
    seed: int = 0

    def applies_to(self, path: str) -> bool:
        """Whether ``path`` is targeted by these faults."""
        if not self.paths:
            return True
        rel = path[len("/api/v1/dm") :] if path.startswith("/api/v1/dm") else path
        return any(path.startswith(p) or rel.startswith(p) for p in self.paths)


@dataclass(slots=True)
class FaultPlan:
    """What happens to one request: ``before`` (status or None) and ``after`` (kind or None)."""

    delay: float = 0.0
    status: int | None = None
    rate_limited: bool = False
    after: str | None = None


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
            plan.status, plan.rate_limited = 429, True
            return plan
        if f.error_rate and rng.random() < f.error_rate:
            plan.status = f.error_statuses[rng.randrange(len(f.error_statuses))]
            return plan
        if f.rate_limit_rate and rng.random() < f.rate_limit_rate:
            plan.status, plan.rate_limited = 429, True
            self.burst_left = f.rate_limit_burst
            return plan
        roll = rng.random()
        for kind, rate in (
            ("drop", f.drop_rate),
            ("slow", f.slow_rate),
            ("malformed", f.malformed_rate),
        ):
            if rate and roll < rate:
                plan.after = kind
                return plan
            roll -= rate
        return plan
