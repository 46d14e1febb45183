"""Shared helpers of the reliability suite (imported as ``rel_support``, not via conftest)."""

from __future__ import annotations

import base64
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from epmm_async import ClientConfig, EpmmClient, RetryPolicy
from epmm_async.ops import Outcome, OutcomeStatus
from epmm_async.simulator import Simulator

TERMINAL = frozenset(
    {OutcomeStatus.SUCCEEDED, OutcomeStatus.FAILED, OutcomeStatus.UNKNOWN, OutcomeStatus.INVALID}
)


def fast_retry(deadline: float = 20.0, attempts: int = 25) -> RetryPolicy:
    """Quick retries so fault runs stay short."""
    return RetryPolicy(attempts=attempts, initial_delay=0.005, max_delay=0.1, deadline=deadline,
                       max_retry_after=1.0)


def client_for(sim: Simulator, **options: Any) -> EpmmClient:
    """A client for ``sim`` with fast retries unless told otherwise."""
    options.setdefault("retry", fast_retry())
    return EpmmClient(sim.url, username=sim.username, password=sim.password,
                      config=ClientConfig(**options))


def active_uuids(sim: Simulator, n: int | None = None) -> list[str]:
    """The first ``n`` ACTIVE devices of the simulator fleet (all if ``n`` is None)."""
    found = [u for u, d in sim.fleet.devices.items() if d.status.value == "ACTIVE"]
    if n is not None:
        assert len(found) >= n, f"fleet has only {len(found)} active devices"
        return found[:n]
    return found


def check_against_ledger(
    outcomes: Iterable[Outcome],
    uuids: list[str],
    applied: Counter[str],
    *,
    destructive: bool,
) -> Counter[str]:
    """Every device has exactly one terminal outcome, and the ledger agrees with it.

    Returns the status counts.
    """
    outs = list(outcomes)
    devices = [o.device for o in outs]
    assert len(devices) == len(set(devices)), "a device got more than one outcome"
    assert set(devices) == set(uuids), "devices missing or unexpected"
    assert len(devices) == len(uuids)
    assert set(applied) <= set(uuids), "the server applied the action to a device not asked"
    for o in outs:
        assert o.status in TERMINAL, o
        n = applied[o.device]
        if o.status is OutcomeStatus.SUCCEEDED:
            assert n >= 1, f"SUCCEEDED but never applied: {o}"
        if o.status is OutcomeStatus.INVALID:
            assert n == 0, f"INVALID but applied: {o}"
        if destructive:
            assert n <= 1, f"{o.device} applied {n} times"
            if o.status is OutcomeStatus.SUCCEEDED:
                assert n == 1
            if o.status is OutcomeStatus.FAILED:
                # A destructive request is resent only after a certain refusal, so FAILED
                # means no attempt was applied (refused, or never sent).
                assert n == 0, f"FAILED but applied: {o}"
    return Counter(o.status.value for o in outs)


# -- secrets -----------------------------------------------------------------------------------


def secret_forms(username: str, password: str) -> list[bytes]:
    """The password in every form it could leak in (raw, Basic token, JSON/repr-escaped)."""
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    forms = {password, token, repr(password)[1:-1]}
    return [f.encode() for f in forms]


def assert_no_secret(blob: bytes | str, forms: list[bytes], where: str) -> None:
    data = blob.encode("utf-8", "backslashreplace") if isinstance(blob, str) else blob
    for form in forms:
        assert form not in data, f"secret found in {where}"


def self_signed_cert(directory: Path) -> tuple[Path, Path] | None:
    """A self-signed certificate for 127.0.0.1 made with the ``openssl`` CLI, or None."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    cert, key = directory / "cert.pem", directory / "key.pem"
    result = subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        capture_output=True,
        check=False,
        timeout=60,
    )
    if result.returncode != 0:
        return None
    return cert, key
