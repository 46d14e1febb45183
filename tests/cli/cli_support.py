"""Helpers of the CLI tests: a simulator on its own event loop thread, and a CLI runner."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from typer.testing import CliRunner, Result

from epmm_async.cli import app
from epmm_async.simulator import Simulator


class SimThread:
    """A simulator served from a background thread, so the CLI can run its own event loop."""

    def __init__(self, **kwargs: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.sim = Simulator(**kwargs)
        self.call(self.sim.start())

    def call(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def close(self) -> None:
        self.call(self.sim.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            "EPMM_URL": self.sim.url,
            "EPMM_USERNAME": self.sim.username,
            "EPMM_PASSWORD": self.sim.password,
        }
        env.update(extra)
        return env






Invoke = Callable[..., Result]


def make_invoke(st: SimThread) -> Invoke:
    def invoke(*args: str, input: str | None = None, env: dict[str, str] | None = None,
               unset: tuple[str, ...] = ()) -> Result:
        full_env: dict[str, str | None] = dict(st.env(**(env or {})))
        for name in unset:
            full_env[name] = None
        result = CliRunner().invoke(app, list(args), input=input, env=full_env)
        assert "Traceback" not in result.output, result.output
        return result

    return invoke
