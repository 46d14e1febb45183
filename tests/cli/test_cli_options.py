"""The options the commands share: declared once (``cli/options.py``), offered alike, and only
where they apply (``--yes`` and ``--resend-unknown`` on the destructive actions alone)."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Annotated, Any

import pytest
import typer
from typer.testing import CliRunner

from epmm_async.cli import app
from epmm_async.cli.option_groups import OptionGroup, with_options
from epmm_async.cli.options import filter_options, job_options, target_options

ACTIONS = ("lock", "unlock", "wipe", "retire", "wakeup", "locate", "message", "roaming",
           "repush")
DESTRUCTIVE = ("wipe", "retire")


def _options(*path: str) -> list[str]:
    """A command's options, by their first spelling, in --help order."""
    command: Any = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    return [p.opts[0] for p in command.params
            if p.opts[0].startswith("--") and not getattr(p, "hidden", False)]


def _spellings(group: OptionGroup[Any]) -> list[str]:
    """The options of a group, by their first spelling."""
    spelled = []
    for param in group.params:
        info = param.annotation.__metadata__[0]
        spelled.append(info.default if isinstance(info.default, str) else
                       "--" + param.name.replace("_", "-"))
    return spelled


TARGETS = _spellings(target_options)
JOB = _spellings(job_options)


def test_groups_hold_the_options_they_name() -> None:
    assert TARGETS[:8] == ["--uuid", "--mac", "--from-file", "--label", "--status", "--user",
                           "--query", "--allow-empty"]
    assert TARGETS[8:-3] == _spellings(filter_options)
    assert TARGETS[-3:] == ["--from-report", "--only", "--no-preflight"]
    assert JOB == ["--reason", "--mode", "--dry-run", "--yes", "--journal", "--report",
                   "--output", "--resend-unknown"]


@pytest.mark.parametrize("command", ACTIONS)
def test_every_action_offers_the_shared_target_options_in_one_order(command: str) -> None:
    offered = _options(command)
    expected = [o for o in TARGETS if o != "--mac" or command not in ("roaming", "repush")]
    assert [o for o in offered if o in TARGETS] == expected
    start = offered.index("--uuid")
    assert offered[start:start + len(expected)] == expected  # together, as one block


@pytest.mark.parametrize("command", ACTIONS)
def test_yes_and_resend_unknown_only_where_they_apply(command: str) -> None:
    offered = set(_options(command))
    applies = command in DESTRUCTIVE
    assert ("--yes" in offered) is applies
    assert ("--resend-unknown" in offered) is applies
    assert {"--dry-run", "--journal", "--report", "--output"} <= offered


@pytest.mark.parametrize("command", ("lock", "unlock", "wakeup"))
def test_a_non_destructive_action_accepts_yes_unlisted(command: str) -> None:
    """A script that passes --yes (or --resend-unknown) to every action keeps working."""
    args = [command, "--uuid", "05dad041-2235-4c81-9fb1-1dd3c15e0b30", "--dry-run"]
    plain = CliRunner().invoke(app, args)
    given = CliRunner().invoke(app, [*args, "--yes", "--resend-unknown"])
    assert "No such option" not in given.output
    assert (given.exit_code, given.output) == (plain.exit_code, plain.output)
    assert "--yes" not in CliRunner().invoke(app, [command, "--help"]).output


def test_devices_list_offers_the_shared_filters() -> None:
    offered = _options("devices", "list")
    filters = _spellings(filter_options)
    start = offered.index(filters[0])
    assert offered[start:start + len(filters)] == filters


# -- the mechanism ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pair:
    left: Annotated[int, typer.Option("--left")] = 1
    right: Annotated[int, typer.Option("--right")] = 2


@dataclass(frozen=True)
class _Outer:
    first: Annotated[str, typer.Option("--first")] = "a"
    pair: _Pair = _Pair()
    last: Annotated[bool, typer.Option("--last")] = False


_PAIR = OptionGroup(_Pair)
_OUTER = OptionGroup(_Outer, pair=_PAIR)


def test_a_command_gets_the_groups_options_in_place_and_their_object() -> None:
    got: list[Any] = []

    @with_options(outer=_OUTER)
    def command(before: Annotated[int, typer.Option()] = 0, *, outer: _Outer,
                after: Annotated[int, typer.Option()] = 9) -> None:
        """Doc."""
        got.append((before, outer, after))

    params = inspect.signature(command).parameters
    assert list(params) == ["before", "first", "left", "right", "last", "after"]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params.values())
    assert command.__doc__ == "Doc." and command.__name__ == "command"
    command(before=1, first="x", left=3, right=4, last=True, after=5)
    assert got == [(1, _Outer("x", _Pair(3, 4), True), 5)]


def test_without_and_replacing() -> None:
    narrow = _OUTER.without("last")
    assert [p.name for p in narrow.params] == ["first", "left", "right"]
    assert narrow.make({"first": "y", "left": 0, "right": 0}) == _Outer("y", _Pair(0, 0))
    other = Annotated[str, typer.Option("--first", help="Another help.")]
    assert _OUTER.replacing(first=other).params[0].annotation is other
    assert [p.name for p in _OUTER.params] == ["first", "left", "right", "last"]  # unchanged
    with pytest.raises(TypeError, match="no option"):
        _OUTER.without("left")  # a nested group's option: drop it from that group
    with pytest.raises(TypeError, match="no option"):
        _OUTER.replacing(nothing=other)


def test_mistakes_are_refused_when_the_command_is_defined() -> None:
    def twice(*, left: Annotated[int, typer.Option()] = 0, pair: _Pair) -> None:
        """Doc."""

    with pytest.raises(TypeError, match="left given twice"):
        with_options(pair=_PAIR)(twice)
    with pytest.raises(TypeError, match="no parameter"):
        with_options(missing=_PAIR)(twice)
