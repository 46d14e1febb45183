"""The typer options the commands share, each declared once.

An option several commands take is an ``Annotated`` alias here; the options they take together
are groups (:mod:`.option_groups`): the target options (:class:`Targets`, with the selection
filters, :class:`Filters`) and the job options (:class:`JobFlags`). Each holds the options as
given; :meth:`Targets.spec`, :meth:`Filters.selection` and :meth:`JobFlags.options` check them
and build what the commands run with.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from .common import EXIT_USAGE, CliError
from .device_filter import DeviceFilter
from .job_plan import JobOptions, Mode
from .option_groups import OptionGroup
from .output import OutputFormat
from .runner import usage_error
from .target_files import parse_only
from .targets import TargetSpec
from .v2_filters import check_query

__all__ = [
    "Filters",
    "JobFlags",
    "MessageMacOpt",
    "OutputOpt",
    "Targets",
    "filter_options",
    "job_options",
    "target_options",
]

OutputOpt = Annotated[OutputFormat | None, typer.Option(
    "--output", "-o", help="table (default on a terminal), json, jsonl (default in a pipe) "
    "or csv.")]
"""``-o`` of the read commands."""

# -- the target options of the action commands -----------------------------------------------

UuidOpt = Annotated[list[str] | None, typer.Option(
    "--uuid", metavar="UUID", help="Device uuid (repeatable).")]
MacOpt = Annotated[list[str] | None, typer.Option(
    "--mac", metavar="MAC", help="Wi-Fi MAC in any notation (repeatable; MAC targets are "
    "sent per device: the bulk endpoint takes uuids).")]
MessageMacOpt = Annotated[list[str] | None, typer.Option(
    "--mac", metavar="MAC", help="Wi-Fi MAC in any notation (repeatable; sent with "
    "send-message by MAC, so give MACs or uuids, not both).")]
FileOpt = Annotated[list[Path] | None, typer.Option(
    "--from-file", metavar="FILE", exists=True, dir_okay=False,
    help="One uuid or MAC per line, or a CSV with a uuid (or mac) column; blank lines and "
    "# comments ignored (repeatable; an empty file is an error).")]
LabelOpt = Annotated[list[str] | None, typer.Option(
    "--label", metavar="NAME", help="Select the devices of a label (repeatable: any of the "
    "labels; an unknown label is an error).")]
StatusOpt = Annotated[list[str] | None, typer.Option(
    "--status", metavar="STATUS", help="Select devices by status: ACTIVE, LOST, EXPIRED... "
    "(repeatable: any of them; with --label or --user: only those of that status).")]
UserOpt = Annotated[list[str] | None, typer.Option(
    "--user", metavar="USER_ID", help="Select the devices of a user id (repeatable: any of "
    "the users; a user without devices is an error).")]
AllowEmptyOpt = Annotated[bool, typer.Option(
    "--allow-empty", help="A selection or file that matches no device is a success (exit 0, "
    "nothing sent) instead of an error (exit 2). Unknown labels are still errors.")]

# -- the selection filters, shared by the read and action commands ---------------------------

PlatformOpt = Annotated[list[str] | None, typer.Option(
    "--platform", metavar="NAME", help="android, ios, windows or macos (repeatable: any of "
    "them; the first word of the device's platform).")]
OsVersionOpt = Annotated[list[str] | None, typer.Option(
    "--os-version", metavar="CMP", help="OS version comparison: '<17', '>=14.2', '=12' "
    "(numeric, dotted; the version in the device's platform, e.g. iOS 15.8; repeatable: "
    "any of them).")]
SeenBeforeOpt = Annotated[list[str] | None, typer.Option(
    "--last-seen-before", metavar="WHEN", help="Last check-in before WHEN: a duration ago "
    "(30d, 12h, 2w) or an ISO date (UTC).")]
SeenAfterOpt = Annotated[list[str] | None, typer.Option(
    "--last-seen-after", metavar="WHEN", help="Last check-in at or after WHEN: a duration "
    "ago (30d, 12h, 2w) or an ISO date (UTC).")]
ComplianceOpt = Annotated[list[str] | None, typer.Option(
    "--compliance", metavar="REASON", help="Non-compliant for REASON (a compliance reason "
    "name, e.g. compromised, os_version_unsupported), 'any' (non-compliant), or 'none' "
    "(compliant); repeatable: any of them.")]
QuarantinedOpt = Annotated[bool, typer.Option("--quarantined", help="Quarantined devices.")]
BlockedOpt = Annotated[bool, typer.Option("--blocked", help="Blocked devices (a block "
                       "reason set).")]
EmployeeOpt = Annotated[bool, typer.Option("--employee-owned", help="Employee-owned "
                        "devices (with --company-owned: either).")]
CompanyOpt = Annotated[bool, typer.Option("--company-owned", help="Company-owned devices.")]
AllLabelsOpt = Annotated[bool, typer.Option("--all-labels", help="With several --label: "
                         "the devices in every one of them (not any).")]
NoV2Opt = Annotated[bool, typer.Option("--no-v2", help="Check every filter on the client, "
                    "over the v1 device list, even when the server offers API v2 (by "
                    "default --platform, --last-seen-*, --compliance any|none and "
                    "--quarantined run on the server, as a v2 query).")]


@dataclass(frozen=True, slots=True)
class Filters:
    """The filter options (checked on each listed device), as given."""

    platform: PlatformOpt = None
    os_version: OsVersionOpt = None
    last_seen_before: SeenBeforeOpt = None
    last_seen_after: SeenAfterOpt = None
    compliance: ComplianceOpt = None
    quarantined: QuarantinedOpt = False
    blocked: BlockedOpt = False
    employee_owned: EmployeeOpt = False
    company_owned: CompanyOpt = False
    all_labels: AllLabelsOpt = False
    no_v2: NoV2Opt = False

    def selection(
        self, *, labels: list[str] | None = None, statuses: list[str] | None = None,
        users: list[str] | None = None, phones: list[str] | None = None,
        macs: list[str] | None = None,
    ) -> DeviceFilter:
        """These filters and the server's searches as one selection (``CliError``, exit 2,
        for a bad value)."""
        return DeviceFilter(
            labels=labels, statuses=statuses, users=users, phones=phones, macs=macs,
            platforms=self.platform, os_versions=self.os_version,
            last_seen_before=self.last_seen_before, last_seen_after=self.last_seen_after,
            compliance=self.compliance, quarantined=self.quarantined, blocked=self.blocked,
            employee_owned=self.employee_owned, company_owned=self.company_owned,
            all_labels=self.all_labels, use_v2=not self.no_v2)


filter_options = OptionGroup(Filters)


# -- follow-up jobs and pre-flight -------------------------------------------------------------

NoPreflightOpt = Annotated[bool, typer.Option(
    "--no-preflight", help="Send to selected devices in a state the action cannot apply to "
    "(a wiped device for lock, a retired one for wipe) instead of reporting them skipped.")]
FromReportOpt = Annotated[list[Path] | None, typer.Option(
    "--from-report", metavar="FILE", exists=True, dir_okay=False, help="The devices of an "
    "earlier run's report (--report, -o jsonl/json/csv) whose outcome is one of --only "
    "(repeatable).")]
QueryOpt = Annotated[list[str] | None, typer.Option(
    "--query", metavar="TEXT", help="The devices an API v2 device search selects, e.g. "
    "'\"common.model\" \"contains\" \"Pixel\"' (repeatable: any of them; the server "
    "must offer v2; an empty query is refused: it selects every device).")]
OnlyOpt = Annotated[list[str] | None, typer.Option(
    "--only", metavar="STATUSES", help="With --from-report: the outcomes to take, comma-"
    "separated (default failed,unknown,cancelled: the devices that did not succeed).")]


@dataclass(frozen=True, slots=True)
class Targets:
    """The target options of an action command, as given (:meth:`spec` checks them)."""

    uuid: UuidOpt = None
    mac: MacOpt = None
    from_file: FileOpt = None
    label: LabelOpt = None
    status: StatusOpt = None
    user: UserOpt = None
    query: QueryOpt = None
    allow_empty: AllowEmptyOpt = False
    filters: Filters = field(default_factory=Filters)
    from_report: FromReportOpt = None
    only: OnlyOpt = None
    no_preflight: NoPreflightOpt = False

    def spec(self) -> TargetSpec:
        """The options as a :class:`TargetSpec`; a bad status, MAC, filter or --only exits 2
        here, before anything is read or sent."""
        try:
            if self.only and not self.from_report:
                raise CliError("--only goes with --from-report", EXIT_USAGE)
            selection = self.filters.selection(labels=self.label, statuses=self.status,
                                               users=self.user)
            queries = [check_query(q) for q in self.query or []]
            if any(not q.strip() for q in queries):
                raise CliError('--query "" selects every device: give a query (for the '
                               "whole fleet use --status)", EXIT_USAGE)
            return TargetSpec(uuids=self.uuid or [], macs=self.mac or [],
                              queries=queries, from_files=self.from_file or [],
                              from_reports=self.from_report or [], only=parse_only(self.only),
                              selection=selection, allow_empty=self.allow_empty,
                              preflight=not self.no_preflight)
        except CliError as exc:
            usage_error(exc.message)


target_options = OptionGroup(Targets, filters=filter_options)


# -- how an action runs ------------------------------------------------------------------------

ModeOpt = Annotated[Mode, typer.Option(
    "--mode", help="auto: bulk for 10+ uuids without a reason; bulk; per-device.")]
DryRunOpt = Annotated[bool, typer.Option(
    "--dry-run", help="Show what would be sent; send nothing.")]
YesOpt = Annotated[bool, typer.Option(
    "--yes", "-y", help="Do not ask for confirmation (wipe, retire).")]
JournalOpt = Annotated[Path | None, typer.Option(
    "--journal", metavar="FILE", help="Journal file: a second run with the same file "
    "resumes the job.")]
ReportOpt = Annotated[Path | None, typer.Option(
    "--report", metavar="FILE", help="Per-device report: JSON lines, or CSV when FILE ends "
    "in .csv.")]
ReasonOpt = Annotated[str | None, typer.Option(
    "--reason", metavar="TEXT", help="Reason recorded by the server (per-device requests "
    "only; at most 512 characters).")]
JobOutputOpt = Annotated[OutputFormat | None, typer.Option(
    "--output", "-o", help="One record per device on stdout: table, json, jsonl or csv.")]
ResendOpt = Annotated[bool, typer.Option("--resend-unknown", help="With --journal: resend a "
                      "wipe/retire whose outcome an earlier run left unknown.")]
# Lock, unlock and wakeup have nothing to confirm and resend what is unknown anyway; they
# accept these two without listing them, so a script passing --yes to every action works.
QuietYesOpt = Annotated[bool, typer.Option("--yes", "-y", hidden=True)]
QuietResendOpt = Annotated[bool, typer.Option("--resend-unknown", hidden=True)]


@dataclass(frozen=True, slots=True)
class JobFlags:
    """The job options of an action command, as given; each is a :class:`JobOptions` field
    of the same name."""

    reason: ReasonOpt = None
    mode: ModeOpt = Mode.AUTO
    dry_run: DryRunOpt = False
    yes: YesOpt = False
    journal: JournalOpt = None
    report: ReportOpt = None
    output: JobOutputOpt = None
    resend_unknown: ResendOpt = False

    def options(self, **more: Any) -> JobOptions:
        """The :class:`JobOptions` of these flags and ``more`` (the command's own fields:
        ``deadline=``, ``message=``...; a field of both takes ``more``'s value)."""
        given = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return JobOptions(**{**given, **more})


job_options = OptionGroup(JobFlags)
"""Every job option: the destructive actions (wipe, retire)."""
