"""Which devices a command is about: --uuid, --mac, --from-file, --from-report, or a
selection, and which of them pre-flight leaves out.

Targets add up: every ``--uuid``, ``--mac``, ``--from-file`` and ``--from-report`` and the
devices of the selection form one union, deduplicated by device. Inside the selection, the
values of one option are alternatives (``--label A --label B``: the devices of A or B) and
different options narrow each other (``--label A --status LOST``: the LOST devices of A).

Reading the files is :mod:`.target_files`, the selection :mod:`.device_filter`, finding it on
the server :mod:`.selection`; their names are re-exported here, where the commands and the
tests import them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..client import EpmmClient
from ..enums import DeviceStatus
from ..errors import ValidationError
from ..validation import MacAddress, device_key
from .common import EXIT_USAGE, CliError
from .device_filter import DeviceFilter, phone_digits
from .selection import Selector, check_selection_exists, select_devices, selected_key
from .target_files import (
    DEFAULT_RETRY,
    REPORT_STATUSES,
    Target,
    parse_only,
    parse_target,
    read_report_file,
    read_targets_file,
)
from .v2_filters import STATUS_FIELD, UUID_FIELD, record_status

__all__ = [
    "REPORT_STATUSES",
    "DeviceFilter",
    "Target",
    "TargetSpec",
    "check_given",
    "check_selection_exists",
    "parse_only",
    "parse_target",
    "phone_digits",
    "preflight_skips",
    "read_report_file",
    "read_targets_file",
    "resolve_targets",
    "select_devices",
]


@dataclass(slots=True)
class TargetSpec:
    """The target options of an action command, as given."""

    uuids: list[str] = field(default_factory=list)
    macs: list[str] = field(default_factory=list)
    from_files: list[Path] = field(default_factory=list)
    from_reports: list[Path] = field(default_factory=list)
    only: list[str] = field(default_factory=lambda: list(DEFAULT_RETRY))
    """``--only``: the report outcomes whose devices ``--from-report`` takes."""
    selection: DeviceFilter = field(default_factory=DeviceFilter)
    queries: list[str] = field(default_factory=list)
    """``--query``: API v2 device-search queries; their devices are targets (checked)."""
    allow_empty: bool = False
    """``--allow-empty``: a selection or file with no devices is a success (nothing to do)."""
    preflight: bool = True
    """Report selected devices in a state the action cannot apply to SKIPPED, unsent
    (``--no-preflight``: False)."""
    _file_counts: dict[Path, int] = field(default_factory=dict, init=False, repr=False)

    def explicit(self) -> list[Target]:
        """The devices named on the command line and in the files (validated, in order).

        An empty file is a usage error naming it, unless :attr:`allow_empty`.
        """
        targets: list[Target] = []
        for value in self.uuids:
            try:
                targets.append(device_key(value))
            except ValidationError as exc:
                raise CliError(f"--uuid: {exc}", EXIT_USAGE) from None
        for value in self.macs:
            try:
                targets.append(MacAddress(value))
            except ValidationError as exc:
                raise CliError(f"--mac: {exc}", EXIT_USAGE) from None
        for path in self.from_files:
            found = read_targets_file(path)
            if not found and not self.allow_empty:
                raise CliError(f"{path}: no devices in this file (pass --allow-empty if an "
                               "empty list is expected)", EXIT_USAGE)
            self._file_counts[path] = len(found)
            targets.extend(found)
        for path in self.from_reports:
            found = read_report_file(path, self.only)
            self._file_counts[path] = len(found)
            targets.extend(found)
        return targets

    @property
    def given(self) -> bool:
        """Whether any target option was given."""
        return bool(self.named or not self.selection.empty)

    @property
    def named(self) -> bool:
        """Whether devices are named beside the selection (uuids, MACs, files, queries)."""
        return bool(self.uuids or self.macs or self.from_files or self.from_reports
                    or self.queries)

    def describe(self) -> str:
        """The targets in words, for a confirmation: ``label "Sales" + 2 uuids + lost.txt``.

        Files read by :meth:`explicit` show their device count (``lost.txt (12)``).
        """
        parts: list[str] = []
        if not self.selection.empty:
            parts.append(self.selection.describe())
        parts.extend(f"query {q}" for q in self.queries)
        if self.uuids:
            n = len(self.uuids)
            parts.append(f"uuid {self.uuids[0]}" if n == 1 else f"{n} uuids")
        if self.macs:
            n = len(self.macs)
            parts.append(f"MAC {self.macs[0]}" if n == 1 else f"{n} MACs")
        for path in self.from_files:
            count = self._file_counts.get(path)
            parts.append(f"{path}" if count is None else f"{path} ({count:,})")
        for path in self.from_reports:
            count = self._file_counts.get(path)
            what = f"{path} [{','.join(self.only)}]"
            parts.append(what if count is None else f"{what} ({count:,})")
        return " + ".join(parts) if parts else "no targets"


def check_given(spec: TargetSpec) -> None:
    """Refuse a command with no target option at all, and filters that would add devices.

    A filter alone (``--platform ios``) selects from the fleet; beside devices named
    explicitly (``--uuid``, ``--mac``, ``--from-file``, ``--from-report``) it would add the
    whole matching fleet to them, not narrow them: "retry the failed iOS ones" must never
    lock every iOS device. That combination is refused.
    """
    if not spec.given:
        raise CliError(
            "no devices: give --uuid, --mac, --from-file, --from-report, --query, or a "
            "selection (--label, --status, --user, --platform...)",
            EXIT_USAGE,
        )
    chosen = spec.selection
    server_side = chosen.labels or chosen.statuses or chosen.users or chosen.phones or chosen.macs
    if spec.named and chosen.client_side and not server_side:
        raise CliError(
            "filters (--platform, --os-version, --last-seen-*, --compliance, --quarantined, "
            "--blocked, --employee-owned/--company-owned) select from the fleet: beside "
            "--uuid/--mac/--from-file/--from-report/--query they would add devices, not "
            "narrow those; give them with --label/--status/--user (or in the --query), or "
            "drop them",
            EXIT_USAGE,
        )
    if spec.queries and not chosen.use_v2:
        raise CliError("--query is an API v2 search: it cannot go with --no-v2", EXIT_USAGE)


async def resolve_targets(
    epmm: EpmmClient, spec: TargetSpec, explicit: list[Target] | None = None,
    statuses: dict[str, DeviceStatus | None] | None = None,
) -> list[Target]:
    """Every device the options name: the union, deduplicated (first mention wins).

    ``explicit`` is ``spec.explicit()`` if already read (it is checked before any request).
    Each ``--query`` is searched (API v2; the server must offer it). The selection is checked
    (:func:`check_selection_exists`) and listed (its filters on the server when it can: see
    :mod:`.v2_filters`); a selected device whose Wi-Fi MAC is already a ``--mac`` target is
    not added again. Nothing at all is a usage error (``CliError``, exit 2) unless
    ``spec.allow_empty``. ``statuses``, if given, receives the status of each device the
    queries and the selection found, by uuid (what pre-flight reads).
    """
    check_given(spec)
    targets = list(explicit) if explicit is not None else spec.explicit()
    found = statuses if statuses is not None else {}
    selector = Selector(epmm)
    if spec.queries:
        await selector.v2.require("--query")
    for text in spec.queries:
        async for record in epmm.v2.search(text, [UUID_FIELD, STATUS_FIELD]):
            key = selected_key(record)
            targets.append(key)
            found.setdefault(key, record_status(record))
    if not spec.selection.empty:
        await selector.check(spec.selection, users=not spec.allow_empty)
        macs = {t for t in targets if isinstance(t, MacAddress)}
        async for key, status in selector.targets(spec.selection, macs=macs):
            targets.append(key)
            found.setdefault(key, status)
    resolved = list(dict.fromkeys(targets))
    if not resolved and not spec.allow_empty:
        raise CliError(
            f"no devices matched {spec.describe()} (pass --allow-empty if an empty "
            "selection is expected)", EXIT_USAGE)
    return resolved


def preflight_skips(refused: Iterable[DeviceStatus],
                    statuses: dict[str, DeviceStatus | None]) -> dict[str, str]:
    """The listed devices whose status is one the action cannot apply to (the registry's
    ``ActionSpec.refused_states``), by uuid, with the status as the reason (``wiped``)."""
    states = set(refused)
    skips: dict[str, str] = {}
    for key, status in statuses.items():
        if status is not None and status in states:
            skips[key] = status.value.lower()
    return skips
