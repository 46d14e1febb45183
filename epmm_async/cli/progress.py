"""Job feedback: a rich progress bar on a terminal, plain periodic lines otherwise."""

from __future__ import annotations

import sys
import time
from types import TracebackType

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    ProgressColumn,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import (
    Progress as RichProgress,
)

from ..ops import Progress
from .common import err

__all__ = ["STATUS_STYLE", "JobProgress", "counts_text"]

STATUS_STYLE: dict[str, str] = {
    "succeeded": "green",
    "invalid": "yellow",
    "failed": "red",
    "unknown": "magenta",
    "skipped": "dim",
    "cancelled": "dim",
}
"""The colour of each outcome status in progress lines and summaries."""


def counts_text(counts: dict[str, int], *, markup: bool) -> str:
    """``succeeded 12 · failed 1`` (statuses with a count only)."""
    parts = []
    for status, style in STATUS_STYLE.items():
        n = counts.get(status, 0)
        if n:
            parts.append(f"[{style}]{status} {n:,}[/]" if markup else f"{status} {n:,}")
    return " · ".join(parts)


def _is_tty(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError):
        return False


class JobProgress:
    """A context manager whose :meth:`update` is the job's progress callback.

    On a terminal: a bar with done/total, per-status counts, rate, elapsed time and ETA. In a
    pipe: a line on stderr every ``every`` seconds and one at the end. Not ``enabled``
    (``-q``): nothing at all. It always keeps the last :class:`Progress` (the summary uses
    its request count).
    """

    def __init__(self, label: str, total: int, *, every: float = 2.0,
                 enabled: bool = True) -> None:
        """Prepare a display for ``total`` devices: a bar on a terminal, lines elsewhere."""
        self.label = label
        self.total = total
        self.every = every
        self.enabled = enabled
        self.last: Progress | None = None
        self.live = enabled and err.is_terminal
        self._bar: RichProgress | None = None
        self._task: TaskID | None = None
        self._last_line = 0.0
        self._final_printed = False

    def __enter__(self) -> JobProgress:
        if self.live:
            # An 80-column terminal keeps every count readable: a shorter bar, no elapsed
            # time (the summary has it); wider ones get the full bar.
            width = err.width
            columns: list[ProgressColumn] = [
                SpinnerColumn(),
                TextColumn("[bold]{task.description}"),
                BarColumn(bar_width=max(10, min(40, width - 80))),
                MofNCompleteColumn(),
                TextColumn("{task.fields[counts]}"),
                TextColumn("[cyan]{task.fields[rate]}"),
            ]
            if width >= 100:
                columns.append(TimeElapsedColumn())
            columns += [TextColumn("ETA"), TimeRemainingColumn()]
            self._bar = RichProgress(
                *columns,
                console=err,
                transient=False,
                # Records written to stdout meanwhile: above the bar when stdout is this
                # terminal too; straight to the file or pipe otherwise (never onto stderr).
                redirect_stdout=_is_tty(sys.stdout),
                refresh_per_second=8,
            )
            self._bar.__enter__()
            self._task = self._bar.add_task(self.label, total=self.total, counts="", rate="")
        return self

    def update(self, progress: Progress) -> None:
        """The job's progress callback."""
        self.last = progress
        if self._bar is not None and self._task is not None:
            self._bar.update(
                self._task,
                completed=progress.done,
                total=max(progress.total, 1),
                counts=counts_text(progress.counts, markup=True),
                rate=f"{progress.rate:,.0f}/s",
            )
            return
        if not self.enabled:
            return
        now = time.monotonic()
        final = progress.done >= progress.total
        if final and self._final_printed:
            return
        if final or now - self._last_line >= self.every:
            self._final_printed = final
            self._last_line = now
            pct = 100.0 * progress.done / progress.total if progress.total else 100.0
            eta = (
                (progress.total - progress.done) / progress.rate if progress.rate > 0 else 0.0
            )
            print(
                f"{self.label}: {progress.done}/{progress.total} ({pct:.0f}%) "
                f"{counts_text(progress.counts, markup=False)} "
                f"{progress.rate:.0f}/s elapsed {progress.elapsed:.1f}s eta {eta:.0f}s",
                file=sys.stderr,
                flush=True,
            )

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.__exit__(exc_type, exc, tb)
            self._bar = None
