"""``epmm devices search`` and ``epmm devices count``: the API v2 device search.

A search result is a record keyed by the dotted field names asked for (``common.uuid``,
``user.user_id``...): a table's columns, JSON objects' keys, CSV's header, in the order
given, ``common.uuid`` first when not asked. A field a device lacks is null (empty in CSV).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer

from ..client import EpmmClient
from ..errors import ValidationError
from ..v2 import DeviceRecord, JsonValue
from ..v2.requests import device_search
from .apps import devices_app, settings_of
from .common import EXIT_OK, EXIT_USAGE, CliError, examples, out
from .label_cmds import find_labels
from .options import OutputOpt
from .output import Column, ReadProgress, RecordWriter, choose_format, write_one
from .runner import run_with_client
from .v2_filters import UUID_FIELD, V2Access, check_query

__all__ = ["DEFAULT_FIELDS", "search_record"]

DEFAULT_FIELDS = ("common.uuid", "user.user_id", "common.platform", "common.os_version",
                  "common.status", "common.compliant", "common.last_connected_at")
"""What ``devices search`` shows without ``--fields``."""

QueryTextOpt = Annotated[str, typer.Option(
    "--query", metavar="TEXT", help="The query: '\"field\" OP value' joined by AND / OR, "
    "e.g. '\"common.platform\"=\"iOS\" AND \"common.compliant\"=false' (at most 255 "
    "characters; empty: every device).")]


def _fields(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",")]
    if any(not name for name in names):
        raise CliError(f"--fields {text!r}: an empty field name (comma-separated dotted "
                       "names, e.g. common.uuid,user.user_id)", EXIT_USAGE)
    fields = list(dict.fromkeys(names))
    return fields if UUID_FIELD in fields else [UUID_FIELD, *fields]


def _getter(name: str) -> Callable[[dict[str, JsonValue]], JsonValue]:
    return lambda record: record[name]


def search_record(record: DeviceRecord, fields: list[str]) -> dict[str, JsonValue]:
    """One result as written: every field asked for, in order (None when absent)."""
    return {name: record.get(name) for name in fields}


@devices_app.command("search", epilog=examples(
    "epmm devices search --query '\"common.platform\"=\"Android\"'",
    "epmm devices search --query '\"common.compliant\"=false' "
    "--fields common.uuid,user.email_address -o csv",
    "epmm devices search --label Sales --fields common.uuid,common.model",
    "epmm devices search --query '\"common.model\" \"contains\" \"Pixel\"' -o jsonl | jq -r "
    "'.\"common.uuid\"'",
))
def devices_search(
    ctx: typer.Context,
    query: QueryTextOpt = "",
    fields: Annotated[str, typer.Option(
        "--fields", metavar="A,B,...", help="The dotted field names to return, comma-"
        "separated (common.uuid always; epmm devices fields lists them).")] = ",".join(
        DEFAULT_FIELDS),
    label: Annotated[str | None, typer.Option(
        "--label", metavar="NAME", help="The devices of this label (its exact name) instead "
        "of a query.")] = None,
    page_size: Annotated[int, typer.Option("--page-size", metavar="N", help="Devices per "
                         "request.")] = 200,
    output: OutputOpt = None,
) -> None:
    """Devices an API v2 query (or a label) selects, with the fields asked for; rows are
    written as they arrive."""
    settings = settings_of(ctx)
    names: list[str] = []

    def prepare() -> None:
        if label is not None and query.strip():
            raise CliError("--label and --query cannot go together (how the server combines "
                           "them is unknown): give one", EXIT_USAGE)
        if page_size < 1:
            raise CliError("--page-size must be at least 1", EXIT_USAGE)
        names.extend(_fields(fields))
        try:
            device_search(check_query(query), names)
        except ValidationError as exc:
            raise CliError(str(exc), EXIT_USAGE) from None

    async def job(epmm: EpmmClient) -> int:
        await V2Access.of(epmm).require("devices search")
        label_id = None
        if label is not None:
            found = find_labels([x async for x in epmm.v2.labels()], [label])
            label_id = found[0].id
        fmt = choose_format(output)
        columns: list[Column] = [(name, _getter(name)) for name in names]
        writer = RecordWriter(fmt, columns, title="Devices", quiet=settings.quiet,
                              no_wrap=(UUID_FIELD,), drop_order=names[:0:-1])
        try:
            with ReadProgress("devices", fmt=fmt, quiet=settings.quiet) as progress:
                async for record in epmm.v2.search("" if label_id is not None else query,
                                                   names, label_id=label_id,
                                                   page_size=page_size):
                    writer.write(search_record(record, names))
                    progress.advance()
        finally:
            writer.close()
        return EXIT_OK

    run_with_client(ctx, job, prepare=prepare)


@devices_app.command("count", epilog=examples(
    "epmm devices count --query '\"common.compliant\"=false'",
    "epmm devices count                           # every device",
    "epmm devices count --query '\"common.platform\"=\"iOS\"' -o json",
))
def devices_count(
    ctx: typer.Context,
    query: QueryTextOpt = "",
    output: OutputOpt = None,
) -> None:
    """How many devices an API v2 query selects. Prints the number alone (also in a pipe)
    unless -o asks for json, jsonl, csv or a table."""

    def prepare() -> None:
        check_query(query)

    async def job(epmm: EpmmClient) -> int:
        await V2Access.of(epmm).require("devices count")
        total = await epmm.v2.count(query)
        if output is None or not write_one({"query": query, "count": total}, output):
            out.file.write(f"{total}\n")
        return EXIT_OK

    run_with_client(ctx, job, prepare=prepare)


@devices_app.command("fields", epilog=examples(
    "epmm devices fields",
    "epmm devices fields | grep ^user.",
))
def devices_fields(ctx: typer.Context) -> None:
    """The field names the API v2 device search knows, one a line (for --fields and
    --query)."""

    async def job(epmm: EpmmClient) -> int:
        await V2Access.of(epmm).require("devices fields")
        for name in await epmm.v2.search_fields():
            out.file.write(name + "\n")
        return EXIT_OK

    run_with_client(ctx, job)
