"""The fleet's plain records: countries, operators, users, profiles and location fixes."""

from __future__ import annotations

from dataclasses import dataclass

from epmm_async.enums import LookupResult, UserSource

__all__ = ["Fix", "PendingFix", "SimCountry", "SimOperator", "SimProfile", "SimUser"]


@dataclass(slots=True, frozen=True)
class SimCountry:
    """A country of ``GET /countries``."""

    id: int
    name: str
    code: int
    iso: str
    enabled: bool
    mcc: str
    locale: str


@dataclass(slots=True, frozen=True)
class SimOperator:
    """A carrier of ``GET /operators``."""

    id: int
    short_name: str
    carrier_type: str
    country: SimCountry
    enabled: bool
    mnc: str
    email_domain: str


@dataclass(slots=True)
class SimUser:
    """A user owning devices (``principal`` is the login name)."""

    principal: str
    first: str
    last: str
    email: str
    uuid: str
    source: UserSource


@dataclass(slots=True, frozen=True)
class SimProfile:
    """A configuration (APP) or policy (POLICY) applied to a device."""

    id: int
    uuid: str | None
    name: str
    policy_type: str
    profile_type: str
    last_updated_at: int


@dataclass(slots=True)
class Fix:
    """A location fix; ``lookup_result`` GPS or Cell (LookupFailure is "no fix")."""

    lookup_result: LookupResult
    latitude: float
    longitude: float
    radius: int
    captured_at_ms: int


@dataclass(slots=True)
class PendingFix:
    """A locate-now fix that appears at ``due`` (``time.monotonic()`` seconds)."""

    due: float
    fix: Fix
