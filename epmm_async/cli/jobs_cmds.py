"""``epmm jobs list|show``: what a job journal holds, read-only.

A journal file holds one job (its header names the action and parameters); ``list`` prints
one row per job it holds, ``show`` one job in detail, with the devices it left pending
(marked sent, no answer recorded: a destructive action may have been applied) or unknown.
The file is read with :meth:`Journal.read`: no lock is taken and nothing is written, so it
works while a run holds the journal, and never gets in that run's way.
"""

from __future__ import annotations

import csv
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from ..ops.journal import PENDING, Journal, JournalSnapshot
from ..ops.outcomes import OutcomeStatus
from .apps import app, settings_of
from .common import EXIT_OK, EXIT_USAGE, CliError, err, examples, out
from .options import OutputOpt
from .output import Column, OutputFormat, RecordWriter, cell, choose_format, encode_json
from .runner import guarded

__all__ = ["SHOW_LIMIT", "job_record", "jobs_app"]

jobs_app = typer.Typer(help="What a job journal holds: its job, outcomes, devices left "
                       "pending (read-only).", no_args_is_help=True,
                       context_settings={"help_option_names": ["-h", "--help"]})
app.add_typer(jobs_app, name="jobs")

SHOW_LIMIT = 20
"""Device ids a table lists per status (``-o json|jsonl|csv`` list all of them)."""

_STATUSES = [PENDING, *(s.value for s in OutcomeStatus)]
_DONE = (OutcomeStatus.SUCCEEDED.value, OutcomeStatus.INVALID.value)

JournalOpt = Annotated[Path, typer.Option(
    "--journal", metavar="FILE", help="The job journal (the --journal FILE of the job).")]


def _iso(seconds: float | None) -> str | None:
    if seconds is None or seconds <= 0:
        return None
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


def _read(path: Path) -> tuple[JournalSnapshot, float | None]:
    """The snapshot (never locking the file) and when the file was last written."""
    snapshot = Journal.read(path)  # a JournalError (exit 2) for anything but a journal
    try:
        modified: float | None = os.stat(path).st_mtime
    except OSError:
        modified = None
    return snapshot, modified


def _devices(snapshot: JournalSnapshot, status: str) -> list[str]:
    return sorted(d for d, e in snapshot.entries.items() if e.status == status)


def job_record(snapshot: JournalSnapshot, modified: float | None, *, job: int = 1,
               devices: bool = False) -> dict[str, Any]:
    """One job of a journal as plain data; with ``devices``, every pending/unknown id."""
    identity = dict(snapshot.identity)
    counts = {s: snapshot.counts.get(s, 0) for s in _STATUSES}
    record: dict[str, Any] = {
        "journal": str(snapshot.path),
        "job": job,
        "action": identity.pop("action", None),
        "parameters": identity,
        "created": _iso(snapshot.created),
        "last_written": _iso(modified),
        "devices": len(snapshot.entries),
        "done": sum(counts[s] for s in _DONE),
        **counts,
    }
    if devices:
        record["pending_devices"] = _devices(snapshot, PENDING)
        record["unknown_devices"] = _devices(snapshot, OutcomeStatus.UNKNOWN.value)
    return record


def _short(iso: str | None) -> str | None:
    """``2026-12-01 23:13``: an ISO time (UTC) as a table cell."""
    return iso[:16].replace("T", " ") if iso else None


def _params_text(params: dict[str, str]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in sorted(params.items())) or "-"


LIST_COLUMNS: list[Column] = [
    ("job", lambda r: r["job"]),
    ("action", lambda r: r["action"]),
    ("parameters", lambda r: _params_text(r["parameters"])),
    ("created (UTC)", lambda r: _short(r["created"])),
    ("last written", lambda r: _short(r["last_written"])),
    ("devices", lambda r: r["devices"]),
    ("done", lambda r: r["done"]),
    ("pending", lambda r: r[PENDING]),
    ("unknown", lambda r: r["unknown"]),
    ("failed", lambda r: r["failed"]),
    ("skipped", lambda r: r["skipped"]),
    ("cancelled", lambda r: r["cancelled"]),
]


@jobs_app.command("list", epilog=examples(
    "epmm jobs list --journal wipe.journal",
    "epmm jobs list --journal wipe.journal -o json",
))
def jobs_list(ctx: typer.Context, journal: JournalOpt, output: OutputOpt = None) -> None:
    """The job(s) a journal holds: action, parameters, when, and devices per outcome.

    A journal file holds one job. Read-only: it never locks or changes the file, so it
    works while the job runs. A missing file or one that is not a journal: exit 2.
    """
    settings = settings_of(ctx)

    def body() -> int:
        snapshot, modified = _read(journal)
        writer = RecordWriter(choose_format(output), LIST_COLUMNS, title=f"Jobs in {journal}",
                              quiet=settings.quiet, no_wrap=("created (UTC)", "last written"),
                              drop_order=("cancelled", "skipped", "last written",
                                          "created (UTC)", "parameters"))
        try:
            writer.write(job_record(snapshot, modified))
        finally:
            writer.close()
        return EXIT_OK

    guarded(body)


def _pick(journal: Path, job: str | None, record: dict[str, Any]) -> None:
    if job is None or job.strip() in ("1", str(record["action"])):
        return
    raise CliError(f"journal {journal} holds no job {job!r}; it holds one job: 1 "
                   f"({record['action']}); see epmm jobs list --journal {journal}", EXIT_USAGE)


def _id_lines(ids: list[str], limit: int) -> str:
    if not ids:
        return "none"
    shown = "\n".join(ids[:limit])
    more = len(ids) - limit
    return shown + (f"\n... and {more:,} more (-o csv lists them all)" if more > 0 else "")


def _show_table(record: dict[str, Any], limit: int) -> None:
    table = Table(title=f"Job {record['job']} in {record['journal']}", show_header=False,
                  title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    table.add_row("action", cell(record["action"]))
    table.add_row("parameters", _params_text(record["parameters"]))
    table.add_row("created", cell(record["created"]))
    table.add_row("last written", cell(record["last_written"]))
    table.add_row("devices", f"{record['devices']:,} recorded, {record['done']:,} done "
                  "(succeeded or invalid: not sent again)")
    for status in _STATUSES:
        if record[status]:
            table.add_row(status, f"{record[status]:,}")
    table.add_row("pending devices", _id_lines(record["pending_devices"], limit))
    table.add_row("unknown devices", _id_lines(record["unknown_devices"], limit))
    out.print(table)


def _show_csv(record: dict[str, Any]) -> None:
    writer = csv.DictWriter(out.file, fieldnames=["job", "action", "device", "status"],
                            lineterminator="\n")
    writer.writeheader()
    for status, key in ((PENDING, "pending_devices"), ("unknown", "unknown_devices")):
        for device in record[key]:
            writer.writerow({"job": record["job"], "action": record["action"],
                             "device": device, "status": status})
    out.file.flush()


@jobs_app.command("show", epilog=examples(
    "epmm jobs show --journal wipe.journal",
    "epmm jobs show --journal wipe.journal -o json | jq -r '.pending_devices[]'",
    "epmm jobs show --journal wipe.journal -o csv > left.csv",
))
def jobs_show(
    ctx: typer.Context,
    journal: JournalOpt,
    job: Annotated[str | None, typer.Argument(
        help="The job: 1 or its action (a journal holds one job).")] = None,
    output: OutputOpt = None,
) -> None:
    """One job of a journal: its counts, and the devices left pending or unknown.

    Pending: a request was sent (or about to be) and no answer recorded; the job was
    stopped or killed meanwhile, so a destructive action may have been applied (a resume
    reports them unknown and does not resend without --resend-unknown). A table lists the
    first ids; json and jsonl print the job as one object with every id, csv one row per
    pending or unknown device. Read-only; works while the job runs.
    """
    settings = settings_of(ctx)

    def body() -> int:
        snapshot, modified = _read(journal)
        record = job_record(snapshot, modified, devices=True)
        _pick(journal, job, record)
        fmt = choose_format(output)
        if fmt in (OutputFormat.JSON, OutputFormat.JSONL):
            out.file.write(encode_json(record) + "\n")
            out.file.flush()
        elif fmt is OutputFormat.CSV:
            _show_csv(record)
        else:
            _show_table(record, SHOW_LIMIT)
            left = record[PENDING] + record["unknown"]
            if left and not settings.quiet:
                err.print(f"[yellow]{left:,} device(s) pending or unknown:[/] the "
                          f"{escape(str(record['action']))} may have been applied to them; "
                          "a resume of a destructive action does not send them again "
                          "unless --resend-unknown", highlight=False)
        return EXIT_OK

    guarded(body)
