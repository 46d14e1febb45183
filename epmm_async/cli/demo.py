"""``epmm demo``: a realistic job against an in-process simulator, with the real commands' code.

Every step calls what the commands call (:func:`show_labels`, :func:`run_action`,
:func:`read_targets_file`), so the demo shows the CLI's own tables, progress and summaries.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from ..enums import DeviceStatus
from ..simulator import Simulator
from ..validation import device_key
from .common import EXIT_OK, EXIT_SOME_FAILED, err, out
from .connection import ConnectionSettings
from .jobs import ACTIONS, JobOptions, JobResult, an, outcomes_in_words, run_action
from .output import OutputFormat
from .targets import Target, read_targets_file

__all__ = ["run_demo"]


def _step(n: int, title: str, what: str) -> None:
    out.print()
    out.rule(f"[bold cyan]{n}. {title}[/]", align="left")
    out.print(f"[dim]{what}[/]")


async def run_demo(
    *, devices: int = 20_000, seed: int = 7, reports_dir: Path = Path("epmm-reports"),
    time_scale: float = 0.05,
) -> int:
    """Start a simulator, play the demo job against it, return the exit code."""
    from .read_cmds import show_labels

    started = time.monotonic()
    journal = _prepare_dir(reports_dir)

    out.print(Panel.fit(
        f"[bold]epmm demo[/]: a simulated EPMM server with {devices:,} devices (seed {seed}),\n"
        "driven by the same code as the epmm commands.", border_style="cyan"))
    with err.status("starting the simulator..."):
        sim = Simulator(devices=devices, seed=seed, time_scale=time_scale)
        await sim.start()
    results: list[tuple[str, JobResult]] = []
    try:
        out.print(f"simulator listening on {sim.url} (user {sim.username})")
        settings = ConnectionSettings(url=sim.url, username=sim.username,
                                      password=sim.password)
        async with settings.client() as epmm:
            # 1. The fleet by label.
            _step(1, "The fleet by label", "epmm labels")
            labels = await show_labels(epmm, OutputFormat.TABLE)
            custom = [lb for lb in labels if not lb.is_default and (lb.device_count or 0) > 0]
            target_label = max(custom or labels, key=lambda lb: lb.device_count or 0)

            # 2. Bulk-lock one label.
            _step(2, f"Bulk-lock label {target_label.name!r}",
                  f"epmm lock --label {target_label.name!r}   (bulk: no reason, uuids only)")
            members = await epmm.devices.by_label(target_label.name)
            lock = await run_action(
                epmm, ACTIONS["lock"], [device_key(d) for d in members],
                JobOptions(report=reports_dir / "lock-report.jsonl", records=False),
            )
            results.append((f"lock {target_label.name}", lock))
            limits = epmm.bulk_limits
            line = limits.max_request_line
            out.print(
                f"[bold]{escape(outcomes_in_words(lock, ACTIONS['lock']))}[/] in "
                f"{lock.requests:,} bulk request(s) instead of {lock.total:,} per-device "
                f"requests (limits: {limits.max_uuids:,} uuids and {an(line)} {line:,}-byte "
                "request line per request)", highlight=False)

            # 3. Locate-now on a sample with offline and iOS devices.
            sample = _locate_sample(sim, 200, seed)
            deadline = max(4.0, 70 * time_scale)
            _step(3, f"Locate-now {len(sample)} devices",
                  f"epmm locate --now --deadline {deadline:g} --interval 0.5 --from-file ... "
                  "(the sample has offline devices, which never answer, and iOS devices, "
                  "which ignore locate-now)")
            loc = await run_action(
                epmm, ACTIONS["locate_now"], sample,
                JobOptions(deadline=deadline, interval=0.5,
                           report=reports_dir / "locate-report.csv", records=False),
            )
            results.append(("locate-now", loc))
            fresh, stale, unsupported = (loc.freshness.get(k, 0)
                                         for k in ("fresh", "stale", "unsupported"))
            others = outcomes_in_words(loc, ACTIONS["locate_now"]).split(", ")[
                sum(1 for n in (fresh, stale, unsupported) if n):]
            out.print(
                f"[bold]{fresh:,} fresh fixes[/]; {stale:,} stale (no fix before the "
                f"deadline: the last known location); {unsupported:,} unsupported (iOS "
                "ignores locate-now: the last known location)"
                + (f"; {escape(', '.join(others))}" if others else ""), highlight=False)

            # 4. Wipe the lost devices listed in a file, with a journal.
            lost = [device_key(d) async for d in epmm.devices.iter(DeviceStatus.LOST)][:40]
            lost_file = _write_lost_file(reports_dir, lost)
            _step(4, f"Wipe {len(lost)} lost devices from {lost_file}",
                  f"epmm wipe --from-file {lost_file} --reason 'Reported lost' "
                  f"--journal {journal} --yes")
            targets: list[Target] = read_targets_file(lost_file)
            wipe_opts = JobOptions(reason="Reported lost", yes=True, journal=journal,
                                   report=reports_dir / "wipe-report.csv", records=False,
                                   selection=f"{lost_file} ({len(targets)})")
            wipe = await run_action(epmm, ACTIONS["wipe"], targets, wipe_opts)
            results.append(("wipe lost", wipe))
            out.print("[dim]Running the same wipe again with the same journal: every device "
                      "is carried over, nothing is resent.[/]")
            again = await run_action(epmm, ACTIONS["wipe"], targets, wipe_opts)
            results.append(("wipe lost (rerun)", again))
            wiped_twice = [u for u, n in sim.ledger.actions("WIPE").items() if n > 1]
    finally:
        await sim.stop()

    _final(results, reports_dir, time.monotonic() - started, wiped_twice)
    failed = [name for name, r in results if r.aborted]
    return EXIT_SOME_FAILED if failed or wiped_twice else EXIT_OK


def _prepare_dir(reports_dir: Path) -> Path:
    """Create the reports directory; drop an earlier demo's journal (a new simulator)."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    journal = reports_dir / "wipe-lost.journal"
    for stale in (journal, Path(f"{journal}-wal"), Path(f"{journal}-shm")):
        stale.unlink(missing_ok=True)
    return journal


def _write_lost_file(reports_dir: Path, uuids: list[str]) -> Path:
    """The list of lost devices an admin would be handed: one uuid per line, a comment."""
    path = reports_dir / "lost-devices.txt"
    path.write_text(
        "# Devices reported lost this week (one uuid per line; # comments ignored)\n"
        + "\n".join(uuids) + "\n", encoding="utf-8")
    return path


def _locate_sample(sim: Simulator, size: int, seed: int) -> list[Target]:
    """Active devices: some offline, some iOS, the rest at random (seeded)."""
    rng = random.Random(seed)
    active = [d for d in sim.fleet.devices.values() if d.status == DeviceStatus.ACTIVE]
    offline = [d for d in active if not d.online and not d.platform.startswith("iOS")]
    ios = [d for d in active if d.platform.startswith("iOS") and d.online]
    online = [d for d in active if d.online and not d.platform.startswith("iOS")]
    picked = rng.sample(offline, min(len(offline), size // 20))
    picked += rng.sample(ios, min(len(ios), size // 5))
    picked += rng.sample(online, min(len(online), size - len(picked)))
    rng.shuffle(picked)
    return [device_key(d) for d in picked]


def _final(results: list[tuple[str, JobResult]], reports_dir: Path, elapsed: float,
           wiped_twice: list[str]) -> None:
    out.print()
    out.rule("[bold cyan]Summary[/]", align="left")
    table = Table(header_style="bold")
    table.add_column("job", no_wrap=True)
    for header in ("devices", "requests"):
        table.add_column(header, justify="right")
    table.add_column("outcomes")
    table.add_column("from journal", justify="right")
    for name, r in results:
        table.add_row(name, f"{r.total:,}", f"{r.requests:,}",
                      outcomes_in_words(r, ACTIONS[r.action]), f"{r.from_journal:,}")
    out.print(table)
    if wiped_twice:
        out.print(f"[bold red]{len(wiped_twice)} device(s) were wiped twice![/]")
    else:
        out.print("The simulator's ledger shows each lost device wiped exactly once.")
    out.print(f"Reports and the journal are in [bold]{reports_dir.resolve()}[/]:")
    for path in sorted(reports_dir.iterdir()):
        if path.is_file() and not path.name.endswith(("-wal", "-shm")):
            out.print(f"  {path.name}")
    out.print(f"Demo finished in {elapsed:.1f}s.")
