"""Seeded scripts of per-attempt failures for the retry invariants
(``test_rel_retry_invariants.py``): each trial runs one request against a scripted transport
and reports what the transport received and what the caller got."""
from __future__ import annotations

import asyncio
import json
import random
from contextlib import asynccontextmanager

import structlog

from epmm_async import ClientConfig, EpmmClient, RetryPolicy
from epmm_async.errors import ConnectError, TlsError, TransportError
from epmm_async.errors import TimeoutError as ETimeout

BASE = "https://epmm.trace.test"
UUID = "727afb16-327f-40cf-bf34-fd2fee389193"
KINDS = ["ok", "refuse", "timeout_sent", "drop_body", "500", "502", "503", "503ra", "429",
         "429ra", "302", "empty", "login", "nodata404", "html404", "400", "tls", "ok_xml",
         "bad_json", "emfile"]
CSV = b"UUID,Phone Number\n" + b"".join(b"x%d,+1\n" % i for i in range(30))


class Reply:
    def __init__(self, status, body, ctype, location=None, retry_after=None, drop=False,
                 path="/"):
        self.status, self._body, self.content_type = status, body, ctype
        self.location, self.retry_after, self._drop, self._path = location, retry_after, drop, path

    async def read(self, limit):
        await asyncio.sleep(0)
        if self._drop:
            raise TransportError("dropped mid-body", method="PUT", path=self._path, sent=True)
        return self._body

    async def chunks(self, size):
        for i in range(0, len(self._body), size):
            if self._drop and i >= size:
                raise TransportError("dropped mid-body", method="GET", path=self._path, sent=True)
            await asyncio.sleep(0)
            yield self._body[i:i + size]


class ScriptTransport:
    extra_header_bytes = 0

    def __init__(self, scripts):
        self.scripts = scripts  # path -> list of kinds
        self.requests = []
        self.open_exchanges = 0

    async def open(self):
        pass

    async def close(self):
        pass

    @asynccontextmanager
    async def exchange(self, request):
        self.requests.append(request.path)
        script = self.scripts.setdefault(request.path, ["ok"])
        kind = script.pop(0) if len(script) > 1 else script[0]
        p = request.path
        await asyncio.sleep(0)
        if kind == "refuse":
            raise ConnectError("refused", method=request.method, path=p, sent=False)
        if kind == "emfile":
            raise ConnectError("emfile", method=request.method, path=p, sent=False, errno=24)
        if kind == "tls":
            raise TlsError("tls", method=request.method, path=p)
        if kind == "timeout_sent":
            raise ETimeout("timeout", method=request.method, path=p, sent=True)
        csv = p.endswith(".csv")
        okbody = CSV if csv else json.dumps(
            {"messages": {"message": "done"}, "deviceUuid": UUID}).encode()
        okct = "text/csv" if csv else "application/json"
        table = {
            "ok": (200, okbody, okct, {}),
            "ok_xml": (200, b"<deviceManagementWebServiceResponse><deviceUuid>" + UUID.encode()
                       + b"</deviceUuid></deviceManagementWebServiceResponse>",
                       "application/xml", {}),
            "drop_body": (200, okbody, okct, {"drop": True}),
            "500": (500, b"<html>500</html>", "text/html", {}),
            "502": (502, b"<html>502</html>", "text/html", {}),
            "503": (503, b"<html>503</html>", "text/html", {}),
            "503ra": (503, b"<html>503</html>", "text/html", {"retry_after": "0"}),
            "429": (429, b"", "text/html", {}),
            "429ra": (429, b"", "text/html", {"retry_after": "0"}),
            "302": (302, b"", "text/html", {"location": "https://sso.example/login?x=1"}),
            "empty": (200, b"{}", "application/json", {}),
            "login": (200, b"<html><form action='/mifs/login.jsp'>", "text/html", {}),
            "bad_json": (200, b'{"messages":', "application/json", {}),
            "nodata404": (404, json.dumps({"messages": {"message": "No data found"}}).encode(),
                          "application/json", {}),
            "html404": (404, b"<html>404</html>", "text/html", {}),
            "400": (400, json.dumps({"messages": {"message": "bad"}}).encode(),
                    "application/json", {}),
        }
        status, body, ct, extra = table[kind]
        self.open_exchanges += 1
        try:
            yield Reply(status, body, ct, path=p, **extra)
        finally:
            self.open_exchanges -= 1


def summarise(value):
    if isinstance(value, BaseException):
        return {"error": type(value).__name__, "attempts": getattr(value, "attempts", None),
                "earlier": getattr(value, "earlier_attempt_may_have_applied", None),
                "status": getattr(value, "status", None)}
    if isinstance(value, list):
        return {"rows": len(value)}
    out = {"ok": type(value).__name__}
    for f in ("attempts", "device_uuid", "messages"):
        if hasattr(value, f):
            v = getattr(value, f)
            out[f] = list(v) if isinstance(v, tuple) else v
    return out


async def single(seed):
    rng = random.Random(seed)
    op = rng.choice(["wipe", "retire", "lock", "get", "export", "wakeup", "export"])
    n = rng.randint(1, 5)
    script = [rng.choice(KINDS) for _ in range(n)]
    attempts = rng.randint(1, 5)
    policy = RetryPolicy(initial_delay=0.0005, max_delay=0.001, attempts=attempts,
                         deadline=10.0)
    path = {"wipe": f"/devices/wipe/{UUID}", "retire": f"/devices/retire/{UUID}",
            "lock": f"/devices/lock/{UUID}", "get": f"/devices/{UUID}",
            "wakeup": f"/devices/wakeup/{UUID}", "export": "/devices.csv"}[op]
    transport = ScriptTransport({path: list(script)})
    # an earlier request so "answered" is true sometimes
    warm = rng.random() < 0.5
    if warm:
        transport.scripts["/labels"] = ["ok"]
    result = None
    with structlog.testing.capture_logs() as logs:
        async with EpmmClient(BASE, username="u", password="pw",
                              config=ClientConfig(retry=policy, connection_limit=1),
                              transport=transport) as epmm:
            if warm:
                try:
                    await epmm.labels.list()
                except Exception:
                    pass
            transport.requests.clear()
            n_logs = len(logs)
            try:
                if op == "wipe":
                    result = await epmm.devices.wipe(UUID, reason="r")
                elif op == "retire":
                    result = await epmm.devices.retire(UUID)
                elif op == "lock":
                    result = await epmm.devices.lock(UUID, reason="lost")
                elif op == "wakeup":
                    result = await epmm.devices.wakeup(UUID)
                elif op == "get":
                    result = await epmm.devices.get(UUID)
                else:
                    result = [r async for r in epmm.devices.export_csv()]
            except Exception as exc:
                result = exc
            slots = epmm.sender._slots.value
    events = [(e["event"], e.get("attempt"), e.get("status"), e.get("error"))
              for e in logs[n_logs:] if e["event"] in ("http.request", "http.retry")]
    return {"seed": seed, "op": op, "script": script, "policy_attempts": attempts,
            "requests": len(transport.requests), "result": summarise(result),
            "events": events, "slots_after": slots, "open": transport.open_exchanges}
