"""``epmm label``: static labels through API v2.

``label add`` / ``label remove`` are jobs like the action commands (the same target options,
filters, ``--dry-run``, ``--journal``, ``--report``, ``-o`` and exit codes; run by
``epmm.ops.stream_label_add`` / ``stream_label_remove``, planned by ``plan_label_*``).
Membership is not destructive: nothing to confirm. ``label create`` makes a static label,
``label delete`` deletes labels (destructive: confirmed like a wipe, or ``--yes``), ``label
list`` and ``label show`` read ``label_summary``.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ..client import EpmmClient
from ..errors import ValidationError
from ..v2 import LabelSummary
from ..v2.requests import check_label_name
from .action_cmds import act
from .apps import label_app, settings_of
from .common import (
    EXIT_OK,
    EXIT_SOME_FAILED,
    EXIT_USAGE,
    CliError,
    err,
    examples,
    out,
    stdin_is_terminal,
)
from .connection import profile_note
from .job_plan import server_of
from .option_groups import with_options
from .options import (
    DryRunOpt,
    JobFlags,
    OutputOpt,
    QuietResendOpt,
    QuietYesOpt,
    Targets,
    YesOpt,
    job_options,
    target_options,
)
from .output import (
    Column,
    OutputFormat,
    ReadProgress,
    RecordWriter,
    cell,
    choose_format,
    to_plain,
    write_all,
    write_one,
)
from .runner import run_with_client, usage_error
from .v2_filters import V2Access

__all__ = ["LABEL_COLUMNS", "find_labels"]

UuidFileOpt = Annotated[list[Path] | None, typer.Option(
    "--from-file", metavar="FILE", exists=True, dir_okay=False,
    help="One uuid per line, or a CSV with a uuid column; blank lines and # comments ignored "
    "(repeatable; an empty file is an error; a MAC is refused: v2 membership takes uuids).")]
_MEMBERSHIP_TARGETS = target_options.without("mac", "no_preflight").replacing(
    from_file=UuidFileOpt)
"""V2 membership takes uuids (no --mac); no state refuses it (no pre-flight to turn off)."""
_MEMBERSHIP_JOB = job_options.without("reason", "mode").replacing(
    yes=QuietYesOpt, resend_unknown=QuietResendOpt)
"""No reason, no mode; nothing to confirm, and a resume resends what is unknown anyway (the
two options are accepted, unlisted, as for lock)."""

MaxUuidsOpt = Annotated[int, typer.Option(
    "--max-uuids", metavar="N", help="Uuids per membership request at most (the server's cap "
    "is unknown: a request it refuses as too large is split, and the smaller size kept).")]

LABEL_COLUMNS: list[Column] = [
    ("id", lambda x: x.id),
    ("name", lambda x: x.name),
    ("static", lambda x: x.is_static),
    ("devices", lambda x: f"{x.device_count:,}" if x.device_count is not None else ""),
    ("type", lambda x: x.row_type),
    ("description", lambda x: x.description),
]

_NOTE = ("Targets are those of the action commands (uuids: v2 membership takes no MAC). "
         "Membership changes are idempotent: a resumed --journal run sends again every "
         "device not done. An unknown or dynamic label is refused before anything is sent.")


def _membership(verb: str, doc: str, lines: tuple[str, ...]) -> None:
    """Register ``label add`` or ``label remove``."""

    def command(
        ctx: typer.Context,
        name: Annotated[str, typer.Argument(metavar="NAME", help="The static label "
                        "(its exact name).", show_default=False)],
        *,
        targets: Targets,
        max_uuids: MaxUuidsOpt = 100,
        job: JobFlags,
    ) -> None:
        try:
            label = check_label_name(name)
        except ValidationError as exc:
            usage_error(str(exc))
        if max_uuids < 1:
            usage_error("--max-uuids must be at least 1")
        act(ctx, f"label_{verb}", targets.spec(), job.options(label=label,
                                                              max_uuids=max_uuids))

    command.__doc__ = doc
    label_app.command(verb, epilog=f"{_NOTE}\n\n{examples(*lines)}")(
        with_options(targets=_MEMBERSHIP_TARGETS, job=_MEMBERSHIP_JOB)(command))


_membership("add", "Add devices to a static label (API v2), in chunks of --max-uuids.", (
    "epmm label add Quarantine --platform android --compliance any --dry-run",
    "epmm label add Travellers --from-file travellers.txt --journal add.journal",
    "epmm label add Pixels --query '\"common.model\" \"contains\" \"Pixel\"' -o jsonl",
))
_membership("remove", "Remove devices from a static label (API v2).", (
    "epmm label remove Travellers --from-file back.txt",
    "epmm label remove Quarantine --label Quarantine --compliance none",
))


async def _all_labels(epmm: EpmmClient, what: str, quiet: bool) -> list[LabelSummary]:
    await V2Access.of(epmm).require(what)
    with ReadProgress("labels", fmt=OutputFormat.TABLE, quiet=quiet) as progress:
        labels = []
        async for label in epmm.v2.labels():
            labels.append(label)
            progress.advance()
    return labels


def find_labels(labels: list[LabelSummary], names: list[str]) -> list[LabelSummary]:
    """The label of each name (exact, case-sensitive), in order; an unknown name (with the
    closest names) or one two labels share is exit 2."""
    chosen: list[LabelSummary] = []
    problems: list[str] = []
    for name in dict.fromkeys(names):
        found = [label for label in labels if label.name == name]
        if len(found) == 1:
            chosen.append(found[0])
        elif found:
            ids = ", ".join(str(label.id) for label in found)
            problems.append(f"{len(found)} labels are named {name!r} (ids {ids})")
        else:
            close = difflib.get_close_matches(name, [label.name for label in labels], n=3)
            hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
            problems.append(f"no label is named {name!r}{hint}")
    if problems:
        raise CliError("; ".join(problems) + ": nothing was changed", EXIT_USAGE)
    return chosen


@label_app.command("list", epilog=examples(
    "epmm label list",
    "epmm label list -o jsonl | jq -r 'select(.is_static) | .name'",
))
def label_list(
    ctx: typer.Context,
    page_size: Annotated[int, typer.Option("--page-size", metavar="N", help="Labels per "
                         "request (at most 200).")] = 200,
    output: OutputOpt = None,
) -> None:
    """Every label of the device space (API v2 label_summary, paged): id, name, static or
    dynamic, device count, ADMIN or SYSTEM."""
    settings = settings_of(ctx)
    if not 1 <= page_size <= 200:
        usage_error("--page-size must be between 1 and 200")

    async def job(epmm: EpmmClient) -> int:
        await V2Access.of(epmm).require("label list")
        fmt = choose_format(output)
        writer = RecordWriter(fmt, LABEL_COLUMNS, title="Labels", quiet=settings.quiet)
        try:
            with ReadProgress("labels", fmt=fmt, quiet=settings.quiet) as progress:
                async for label in epmm.v2.labels(page_size=page_size):
                    writer.write(label)
                    progress.advance()
        finally:
            writer.close()
        return EXIT_OK

    run_with_client(ctx, job)


@label_app.command("show", epilog=examples(
    "epmm label show Sales",
    "epmm label show Sales -o json | jq .device_count",
    "epmm devices search --label Sales --fields common.uuid,user.user_id   # its devices",
))
def label_show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The label (its exact name).",
                    show_default=False)],
    output: OutputOpt = None,
) -> None:
    """Every field of one label (API v2 label_summary): id, static, criteria, device count."""
    settings = settings_of(ctx)

    async def job(epmm: EpmmClient) -> int:
        (label,) = find_labels(await _all_labels(epmm, "label show", settings.quiet), [name])
        _show(label, choose_format(output))
        return EXIT_OK

    run_with_client(ctx, job)


def _show(label: LabelSummary, fmt: OutputFormat) -> None:
    plain = to_plain(label)
    if write_one(plain, fmt):
        return
    table = Table(title=f"Label {label.name}", show_header=False, title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in plain.items():
        table.add_row(key, cell(value))
    out.print(table)


@label_app.command("create", epilog=examples(
    "epmm label create Quarantine --description \"Devices held for review\"",
    "epmm label create Travellers -o json | jq .id",
))
def label_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The new label's name (no "
                    "comma: membership calls separate names by commas).", show_default=False)],
    description: Annotated[str, typer.Option("--description", metavar="TEXT",
                           help="What the label is for.")] = "",
    output: OutputOpt = None,
) -> None:
    """Create a static label (API v2). A label of that name (in any case) already there is
    exit 2: the request is never resent, and a second label of one name is ambiguous."""
    settings = settings_of(ctx)
    try:
        check_label_name(name)
    except ValidationError as exc:
        usage_error(str(exc))

    async def job(epmm: EpmmClient) -> int:
        labels = await _all_labels(epmm, "label create", settings.quiet)
        same = [label for label in labels if label.name.casefold() == name.casefold()]
        if same:
            raise CliError(f"a label named {same[0].name!r} exists already (id "
                           f"{same[0].id}): nothing was created", EXIT_USAGE)
        created = await epmm.v2.create_label(name, description, static=True)
        columns: list[Column] = [("id", lambda x: x.id), ("name", lambda x: x.name),
                                 ("static", lambda x: x.static)]
        write_all([created], choose_format(output), columns, title="Created label",
                  quiet=settings.quiet)
        return EXIT_OK

    run_with_client(ctx, job)


@label_app.command("delete", epilog=examples(
    "epmm label delete Travellers --reason \"Trip over\" --dry-run",
    "epmm label delete Old1 Old2 --reason \"Cleanup\" --yes",
))
def label_delete(
    ctx: typer.Context,
    names: Annotated[list[str], typer.Argument(metavar="NAME", help="The labels (exact "
                     "names).", show_default=False)],
    reason: Annotated[str, typer.Option("--reason", metavar="TEXT", help="Why (recorded "
                      "by the server; required).", show_default=False)],
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    output: OutputOpt = None,
) -> None:
    """Delete labels (API v2), in one request. Asks you to type the number of labels (or
    --yes). SYSTEM labels (the server's own: iOS, Android...) are refused (exit 2)."""
    settings = settings_of(ctx)
    if not reason.strip():
        usage_error("--reason must not be empty")

    async def job(epmm: EpmmClient) -> int:
        chosen = find_labels(await _all_labels(epmm, "label delete", settings.quiet), names)
        system = [label.name for label in chosen if (label.row_type or "").upper() == "SYSTEM"]
        if system:
            raise CliError(f"{', '.join(repr(n) for n in system)}: SYSTEM label(s), the "
                           "server's own: not deleted (nothing was)", EXIT_USAGE)
        fmt = choose_format(output)
        if dry_run:
            _records(chosen, "planned", fmt, settings.quiet)
            if not settings.quiet:
                err.print(f"[bold yellow]DRY RUN[/]: nothing was sent; would delete "
                          f"{len(chosen):,} label(s) on {escape(server_of(epmm))}.",
                          highlight=False)
            return EXIT_OK
        if not yes:
            _confirm(chosen, server_of(epmm))
        deleted = await epmm.v2.delete_labels([label.id for label in chosen], reason)
        _records(chosen, "deleted" if deleted else "failed", fmt, settings.quiet)
        if not deleted:
            err.print("[bold red]the server answered successful: false[/]: the labels may "
                      "not have been deleted (epmm label list shows them)")
        return EXIT_OK if deleted else EXIT_SOME_FAILED

    run_with_client(ctx, job)


def _records(labels: list[LabelSummary], status: str, fmt: OutputFormat, quiet: bool) -> None:
    rows = [{"id": label.id, "name": label.name, "device_count": label.device_count,
             "status": status} for label in labels]
    columns: list[Column] = [("id", lambda r: r["id"]), ("name", lambda r: r["name"]),
                             ("devices", lambda r: r["device_count"]),
                             ("status", lambda r: r["status"])]
    write_all(rows, fmt, columns, title="Labels", quiet=quiet)


def _confirm(labels: list[LabelSummary], server: str) -> None:
    n = len(labels)
    what = f"{n:,} label(s) on {server}{profile_note()}"
    names = ", ".join(f"{label.name!r} ({label.device_count or 0:,} devices)"
                      for label in labels)
    if not stdin_is_terminal():
        raise CliError(f"refusing to delete {what} ({names}) without confirmation: no "
                       "terminal to ask on; pass --yes", EXIT_USAGE)
    err.print(f"[bold red]DELETE {escape(what)}[/]", highlight=False)
    err.print(f"  labels: {escape(names)}. This cannot be undone.", highlight=False)
    answer = typer.prompt(f"Type the number of labels ({n}) to confirm", default="",
                          show_default=False, err=True)
    if answer.strip().replace(",", "") != str(n):
        raise CliError("not confirmed: no label was deleted", EXIT_USAGE)
