"""What a dry run shows: the plan of a job, in words or as JSON or CSV, with nothing sent.

A dry run's plan is its result, so it goes to stdout.
"""

from __future__ import annotations

import csv
import json
import sys
from collections import Counter
from collections.abc import Sequence

from rich.markup import escape

from ..ops import OutcomeStatus, PlannedRequest
from ..validation import MacAddress
from .common import out
from .job_plan import JobOptions, JobPlan, Mode
from .output import OutputFormat, encode_json
from .targets import Target

__all__ = ["describe_targets", "dry_run_record", "selection_of", "show_dry_run"]


def _sizes_text(sizes: Sequence[int]) -> str:
    """``160, 40`` for a few chunks; ``312 × 160, 1 × 80`` for many."""
    if len(sizes) <= 6:
        return ", ".join(f"{n:,}" for n in sizes)
    runs: list[list[int]] = []
    for n in sizes:
        if runs and runs[-1][1] == n:
            runs[-1][0] += 1
        else:
            runs.append([1, n])
    return ", ".join(f"{count:,} × {n:,}" for count, n in runs)


def _request_line(req: PlannedRequest, limit: int = 160) -> str:
    line = f"{req.method} {req.target}"
    return line if len(line) <= limit else line[: limit - 3] + "..."


def dry_run_record(plan: JobPlan, opts: JobOptions) -> dict[str, object]:
    """The plan as one JSON object (``--dry-run -o json``/``jsonl``)."""
    preview = plan.preview
    sample = preview.sample
    return {
        "dry_run": True,
        "server": plan.server,
        "selection": selection_of(plan, opts),
        "action": plan.spec.name,
        "mode": plan.mode.value,
        "how": plan.how,
        "device_count": plan.devices,
        "devices": list(preview.devices),
        "not_found": [o.device for o in preview.early
                      if o.status is not OutcomeStatus.SKIPPED],
        "skipped": {o.device: o.reason for o in preview.early
                    if o.status is OutcomeStatus.SKIPPED},
        "requests": plan.requests,
        "chunk_sizes": preview.chunk_sizes,
        "first_request": None if sample is None else {
            "method": sample.method, "target": sample.target, "devices": len(sample.devices),
        },
        "mac_lookups": preview.lookups,
        "max_polls_per_device": preview.max_polls,
        "journal": str(opts.journal) if opts.journal is not None else None,
    }


def show_dry_run(plan: JobPlan, opts: JobOptions) -> None:
    """Print what the job would send, and that nothing was sent (stdout: it is the result).

    ``-o json``/``jsonl``: the plan as one JSON object; ``-o csv``: one row per request.
    """
    fmt = opts.output
    if fmt in (OutputFormat.JSON, OutputFormat.JSONL):
        record = dry_run_record(plan, opts)
        text = encode_json(record)
        if fmt is OutputFormat.JSON:
            text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
        return
    if fmt is OutputFormat.CSV:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["request", "method", "target", "devices"])
        for n, req in enumerate(plan.preview.requests, 1):
            writer.writerow([n, req.method, req.target, len(req.devices)])
        sys.stdout.flush()
        return
    preview = plan.preview
    rows = [("server", plan.server), ("selection", selection_of(plan, opts))]
    action = plan.spec.label if plan.how == plan.spec.label else (
        f"{plan.spec.label}, {plan.how}")
    rows += [("action", action), ("devices", f"{plan.devices:,}")]
    early = [o for o in preview.early if o.status is not OutcomeStatus.SKIPPED]
    if early:
        missing = ", ".join(o.device for o in early[:3])
        more = f", ... ({len(early) - 3:,} more)" if len(early) > 3 else ""
        rows.append(("not found", f"{len(early):,} MAC address(es) name no device "
                                  f"(reported invalid): {missing}{more}"))
    skipped = Counter(o.reason for o in preview.early if o.status is OutcomeStatus.SKIPPED)
    if skipped:
        rows.append(("skipped", ", ".join(f"{n:,} {why}" for why, n in skipped.items())
                     + " (pre-flight: not sent; --no-preflight sends them)"))
    rows.append(("requests", f"{plan.requests:,} {plan.request_note}"))
    if plan.mode is Mode.BULK and preview.requests:
        rows.append(("devices each", _sizes_text(preview.chunk_sizes)))
    sample = ", ".join(preview.devices[:5])
    if len(preview.devices) > 5:
        sample += f", ... ({len(preview.devices) - 5:,} more)"
    rows.append(("sample", sample or "(none)"))
    first = preview.sample
    if first is not None:
        rows.append(("first request",
                     f"{_request_line(first)} ({len(first.devices):,} device(s))"))
    if preview.lookups:
        rows.append(("look-ups", f"{preview.lookups:,} MAC look-up(s) made to plan this "
                                 "(reads; nothing was acted on)"))
    if opts.journal is not None:
        rows.append(("journal", f"{opts.journal}: devices it already records are carried "
                                "over, not sent again"))
    out.print("[bold yellow]DRY RUN[/]: nothing was sent.")
    for key, value in rows:
        out.print(f"  [bold]{key + ':':<15}[/]{escape(value)}", highlight=False)


def describe_targets(targets: Sequence[Target]) -> str:
    """The targets in words when the command gave no description: ``12 uuids + MAC X``."""
    macs = [t for t in targets if isinstance(t, MacAddress)]
    uuids = [t for t in targets if not isinstance(t, MacAddress)]
    parts = []
    if uuids:
        parts.append(f"uuid {uuids[0]}" if len(uuids) == 1 else f"{len(uuids):,} uuids")
    if macs:
        parts.append(f"MAC {macs[0]}" if len(macs) == 1 else f"{len(macs):,} MACs")
    return " + ".join(parts) or "no devices"


def selection_of(plan: JobPlan, opts: JobOptions) -> str:
    """What the command was asked to act on: its own words, else the targets counted."""
    return opts.selection or describe_targets(plan.targets)

