"""The ``epmm`` command: the typer application with every command registered.

Importing the command modules registers their commands on :data:`app`; this module only
puts them together and adds the simulator and the demo.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

# Imported for what importing them does: each registers its commands on ``app``.
from . import (  # noqa: F401
    action_cmds,
    config_cmds,
    jobs_cmds,
    label_cmds,
    read_cmds,
    search_cmds,
)
from .apps import app
from .runner import guarded

__all__ = ["app"]


@app.command(
    "simulator",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def simulator_cmd(ctx: typer.Context) -> None:
    """Run the EPMM simulator in the foreground (options: epmm simulator --help)."""
    from ..simulator.__main__ import run

    raise typer.Exit(run(list(ctx.args)))


@app.command("demo")
def demo_cmd(
    devices: Annotated[int, typer.Option(help="Simulated fleet size.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Fleet seed.")] = 7,
    reports_dir: Annotated[Path, typer.Option(help="Where the demo writes its files.")] = Path(
        "epmm-reports"),
    time_scale: Annotated[float, typer.Option(help="Scale of simulated delays (locate-now "
                          "fixes arrive within 60 s x this).")] = 0.05,
) -> None:
    """Play a realistic job against an in-process simulator (what make demo runs)."""
    from .demo import run_demo

    guarded(lambda: asyncio.run(run_demo(devices=devices, seed=seed, reports_dir=reports_dir,
                                         time_scale=time_scale)))
