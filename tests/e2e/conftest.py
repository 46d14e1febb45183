"""End-to-end fixtures: the real client against the embedded EPMM simulator.

Every test runs in both response formats (``fmt``) and four quirk sets (``quirks_name``):
``real`` (``Quirks()``, what real servers do: Jettison-typed JSON), ``quoted``
(``Quirks.quoted()``, every scalar a string, the dialect older evidence suggested), ``clean``
(``Quirks.clean()``, all off; in ``make test-all`` only) and ``optional`` (the quirks that
are off by default, switched on). The simulator's fleet is the
ground truth; :class:`Truth` turns a ``SimDevice`` into what the client must decode.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio

from epmm_async import ClientConfig, ComplianceReason, Device, DeviceStatus, EpmmClient, RegType
from epmm_async.simulator import Quirks, SimDevice, Simulator

DEVICES = 300
SEED = 11
FORMATS = ("json", "xml")
QUIRKS: dict[str, Quirks] = {
    "real": Quirks(),
    "quoted": Quirks.quoted(),
    "clean": Quirks.clean(),
    "optional": Quirks(
        root_wrapper=True,
        enforce_32bit_integer=True,
        negative_exponent_as_string=True,
        escape_forward_slash_always=True,
        empty_elements="empty",
        empty_details="bare",
        misspelled_sucess=True,
        empty_as_404=False,
    ),
}


def make_sim(quirks_name: str, **kwargs: Any) -> Simulator:
    """A simulator with the small fixed fleet and a private copy of the named quirks."""
    kwargs.setdefault("devices", DEVICES)
    kwargs.setdefault("seed", SEED)
    return Simulator(quirks=dataclasses.replace(QUIRKS[quirks_name]), **kwargs)


def make_client(sim: Simulator, fmt: str, **kwargs: Any) -> EpmmClient:
    """A client for ``sim`` asking for ``fmt`` (the API account unless overridden)."""
    username = kwargs.pop("username", sim.username)
    password = kwargs.pop("password", sim.password)
    return EpmmClient(sim.url, username=username, password=password,
                      config=ClientConfig(response_format=fmt, **kwargs))


def _ts(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)


class Truth:
    """What the client must return, derived from the simulator's fleet only."""

    @staticmethod
    def device_fields(sd: SimDevice, *, single: bool = False) -> dict[str, Any]:
        op = sd.operator
        user = sd.user
        extras = sd.extras or {}
        details = sd.details
        out: dict[str, Any] = {
            "id": sd.id,
            "uuid": sd.uuid,
            "principal": sd.principal,
            "platform": sd.platform,
            "status": sd.status,
            "status_code": sd.status_code,
            "compliance": ComplianceReason(sd.compliance),
            "quarantined_status": ComplianceReason(sd.quarantined),
            "block_reason": ComplianceReason(sd.block_reason),
            "user_source": user.source,
            "phone_number": sd.phone_number,
            "operator": op.short_name if op else "PDA",
            "home_operator": op.short_name if op else "PDA",
            "operator_id": op.id if op else 0,
            "country_code": str(sd.country.code),
            "country_id": sd.country.id,
            "country_name": sd.country.name,
            "email_address": user.email,
            "email_domain": op.email_domain if op else None,
            "employee_owned": sd.employee_owned,
            "mdm_managed": sd.mdm_managed,
            "manufacturer": sd.manufacturer or None,
            "model": sd.model or None,
            "name": sd.name,
            "client_id": sd.client_id,
            "comment": sd.comment,
            "eas_uuid": sd.eas_uuid,
            "eas_last_sync_attempt": _ts(sd.last_connected_at - 120) if sd.eas_uuid else None,
            "last_connected_at": _ts(sd.last_connected_at),
            "user_uuid": user.uuid,
            "user_first_name": user.first,
            "user_last_name": user.last,
            "user_display_name": f"{user.first} {user.last}",
            "reg_type": RegType.DEFAULT,
            "notify_user": True,
            "device_count": 0,
            "reg_count": 0,
            "language_id": 1,
            "language_country_id": sd.country.id,
            "mdm_profile_url_id": None,
            "iphone_version": details.get("BuildVersion") if sd.kind == "ios" else None,
            "current_phone_number": sd.phone_number if single else None,
            # Undocumented extras (present on about a quarter of the records).
            "user_id": str(extras["userId"]) if "userId" in extras else None,
            "platform_type": extras.get("platformType"),
            "registered_at": _ts(int(extras["registeredAt"]) / 1000)
            if "registeredAt" in extras
            else None,
            "created_at": _ts(int(extras["createdAt"]) / 1000) if "createdAt" in extras else None,
            "wipe_reason": extras.get("wipeReason") or None,
            "non_gms": extras.get("nonGMS"),
            "auth_only": extras.get("authOnly"),
            "multi_user": extras.get("multiUser"),
            "tlv_version": str(extras["TLVVersion"]) if "TLVVersion" in extras else None,
            "migration_status": extras.get("migrationStatus"),
            "temporary_session_only": extras.get("temporarySessionOnly"),
        }
        return out

    @classmethod
    def check_device(cls, got: Device, sd: SimDevice, *, single: bool = False) -> None:
        """Assert every field of ``got`` equals the fleet's ``sd`` (details included)."""
        want = cls.device_fields(sd, single=single)
        have = {name: getattr(got, name) for name in want}
        diff = {k: (have[k], want[k]) for k in want if have[k] != want[k]}
        assert not diff, f"{sd!r}: (client, fleet) differ: {diff}"
        assert dict(got.details) == sd.details, f"{sd!r}: details differ"
        assert got.details.wifi_mac == (sd.wifi_mac if sd.details else None)
        assert got.status_from_code == sd.status
        assert got.compliant == (sd.compliance == 0)


@pytest.fixture(scope="session")
def truth() -> type[Truth]:
    """The ground-truth helper (fixtures cannot be imported from conftest)."""
    return Truth


# "clean" (every quirk off: no real server's dialect) runs in make test-all only, to keep
# make test under five minutes.
@pytest.fixture(params=[pytest.param(name, marks=pytest.mark.slow) if name == "clean" else name
                        for name in QUIRKS], scope="module")
def quirks_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=FORMATS, scope="module")
def fmt(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# -- read-only modules: one simulator per quirk set, started once per module -----------------


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared_sims() -> AsyncIterator[dict[str, Simulator]]:
    """One running simulator per quirk set, shared by a module's read-only tests."""
    sims = {name: make_sim(name) for name in QUIRKS}
    for sim in sims.values():
        await sim.start()
    try:
        yield sims
    finally:
        for sim in sims.values():
            await sim.stop()


@pytest.fixture(scope="module")
def shared(shared_sims: dict[str, Simulator], quirks_name: str) -> Simulator:
    """The shared simulator of the current quirk set (never mutate its fleet)."""
    return shared_sims[quirks_name]


@pytest_asyncio.fixture(loop_scope="module")
async def reader(shared: Simulator, fmt: str) -> AsyncIterator[EpmmClient]:
    """A client on the shared simulator in the current format."""
    async with make_client(shared, fmt) as epmm:
        yield epmm


@pytest_asyncio.fixture(loop_scope="module")
async def both(shared: Simulator) -> AsyncIterator[tuple[EpmmClient, EpmmClient]]:
    """A JSON and an XML client on the same shared simulator."""
    async with make_client(shared, "json") as j, make_client(shared, "xml") as x:
        yield j, x


# -- mutating modules: a fresh simulator per test ------------------------------------------------


@pytest.fixture
def world_factory() -> Callable[..., contextlib.AbstractAsyncContextManager[Any]]:
    """``async with world_factory(quirks_name, fmt, **sim_kwargs) as (sim, epmm)``."""

    @contextlib.asynccontextmanager
    async def run(
        quirks_name: str, fmt: str, client_kwargs: dict[str, Any] | None = None, **kw: Any
    ) -> AsyncIterator[tuple[Simulator, EpmmClient]]:
        async with make_sim(quirks_name, **kw) as sim:
            async with make_client(sim, fmt, **(client_kwargs or {})) as epmm:
                yield sim, epmm

    return run


@pytest_asyncio.fixture
async def world(
    quirks_name: str, fmt: str, world_factory: Callable[..., Any]
) -> AsyncIterator[tuple[Simulator, EpmmClient]]:
    """A fresh simulator (small fleet, fixed seed) and a client, for tests that change state."""
    async with world_factory(quirks_name, fmt) as pair:
        yield pair


def pick(
    sim: Simulator,
    *,
    kind: str | None = None,
    status: DeviceStatus | None = DeviceStatus.ACTIVE,
    where: Callable[[SimDevice], bool] | None = None,
    n: int = 1,
    skip: int = 0,
) -> list[SimDevice]:
    """``n`` fleet devices matching the filters (fleet order), after skipping ``skip``."""
    found = [
        d
        for d in sim.fleet.devices.values()
        if (kind is None or d.kind == kind)
        and (status is None or d.status == status)
        and (where is None or where(d))
    ][skip : skip + n]
    assert len(found) == n, f"the fleet has fewer than {n + skip} such devices"
    return found


@pytest.fixture(scope="session")
def picker() -> Callable[..., list[SimDevice]]:
    """:func:`pick` as a fixture."""
    return pick
