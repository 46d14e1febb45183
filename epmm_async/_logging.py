"""The library's loggers: silent unless the application asks for the events.

A library must not print. structlog's built-in defaults print every event, debug included, to
stdout, so an application that has not configured logging would get a line per HTTP request.
The library's loggers therefore look at structlog's state at every event:

* once the application has configured structlog (``structlog.configure``, as the ``epmm``
  command does, or ``structlog.testing.capture_logs``), events go through structlog with the
  application's processors, level filter and output;
* until then they go to the standard library logger of the same name (``epmm_async``,
  ``epmm_async.ops``...), which has a ``NullHandler``: nothing is printed unless the
  application configures :mod:`logging` (``logging.basicConfig(level=logging.DEBUG)`` shows
  them as ``http.request method=GET path=/labels status=200 ...``).

Nothing global is changed: structlog's configuration, and so the application's own structlog
loggers, are left as they are.
"""

from __future__ import annotations

import logging
from typing import Any

import structlog

__all__ = ["LibraryLogger", "get_logger"]

ROOT = "epmm_async"

logging.getLogger(ROOT).addHandler(logging.NullHandler())


def _text(value: object) -> str:
    text = str(value)
    return repr(text) if not text or any(c.isspace() for c in text) else text


class LibraryLogger:
    """A structlog-style logger (``log.info("event", key=value)``) that prints nothing by
    default (see the module docstring)."""

    __slots__ = ("_stdlib", "_structlog", "name")

    def __init__(self, name: str) -> None:
        """A logger named ``name`` (under ``epmm_async``)."""
        self.name = name
        self._stdlib = logging.getLogger(name)
        self._structlog: Any = structlog.get_logger(name)

    def __repr__(self) -> str:
        return f"LibraryLogger({self.name!r})"

    def enabled(self, level: int) -> bool:
        """Whether an event at ``level`` would go anywhere: a hot path asks before it builds
        the event's fields (an unconfigured application drops them all)."""
        if structlog.is_configured():
            # A filtering bound logger says its level; any other wrapper takes everything.
            check = getattr(structlog.get_config()["wrapper_class"], "is_enabled_for", None)
            try:
                return bool(check(None, level)) if check is not None else True
            except Exception:  # a wrapper whose check needs an instance: assume it logs
                return True
        return self._stdlib.isEnabledFor(level)

    def _emit(self, level: int, method: str, event: str, fields: dict[str, Any]) -> None:
        if structlog.is_configured():
            getattr(self._structlog, method)(event, **fields)
            return
        if self._stdlib.isEnabledFor(level):
            rendered = " ".join([event, *(f"{k}={_text(v)}" for k, v in fields.items())])
            self._stdlib.log(
                level, "%s", rendered, extra={"epmm_event": event, "epmm_fields": fields}
            )

    def debug(self, event: str, **fields: Any) -> None:
        """Log ``event`` at DEBUG."""
        self._emit(logging.DEBUG, "debug", event, fields)

    def info(self, event: str, **fields: Any) -> None:
        """Log ``event`` at INFO."""
        self._emit(logging.INFO, "info", event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        """Log ``event`` at WARNING."""
        self._emit(logging.WARNING, "warning", event, fields)

    def error(self, event: str, **fields: Any) -> None:
        """Log ``event`` at ERROR."""
        self._emit(logging.ERROR, "error", event, fields)


def get_logger(name: str = ROOT) -> LibraryLogger:
    """The library logger ``name`` (use it instead of ``structlog.get_logger`` in the
    library: see the module docstring)."""
    return LibraryLogger(name)
