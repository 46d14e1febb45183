"""Options that several commands take together, declared once: :class:`OptionGroup`.

Typer reads a command's options from its signature, one parameter each, so commands that take
the same options would each repeat the whole list. A group is the parameters of one callable
(a dataclass, usually) that holds their values; :func:`with_options` puts a group's parameters
in a command's signature in place of one parameter, and calls the command with the group's
object built from their values. ``--help`` lists the group's options where that parameter
stands, in the group's order.

A group may hold another one (``OptionGroup(Targets, filters=filter_options)``), and a command
may take a group without some of its options (:meth:`OptionGroup.without`) or with another
declaration of one (:meth:`OptionGroup.replacing`).
"""

from __future__ import annotations

import copy
import functools
import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar

__all__ = ["OptionGroup", "with_options"]

T = TypeVar("T")
R = TypeVar("R")

_Part = tuple[inspect.Parameter, "OptionGroup[Any] | None"]


def _parts(func: Callable[..., object], groups: Mapping[str, OptionGroup[Any]]) -> list[_Part]:
    """``func``'s parameters, each with the group that stands for it (None: an option)."""
    params = inspect.signature(func, eval_str=True).parameters
    unknown = sorted(set(groups) - set(params))
    if unknown:
        raise TypeError(f"{func.__qualname__} has no parameter {', '.join(unknown)}")
    return [(p, groups.get(p.name)) for p in params.values()]


def _flat(parts: list[_Part]) -> list[inspect.Parameter]:
    """The parameters typer sees: every group replaced by its own, in order."""
    flat: list[inspect.Parameter] = []
    for param, group in parts:
        flat.extend(group.params if group is not None else [param])
    return flat


def _take(parts: list[_Part], values: dict[str, Any]) -> dict[str, Any]:
    """The arguments of the callable ``parts`` come from, taken out of typer's ``values``."""
    return {param.name: group.make(values) if group is not None else values.pop(param.name)
            for param, group in parts}


class OptionGroup(Generic[T]):
    """The options of ``build``'s parameters (``Annotated`` typer options with defaults);
    ``nested`` names the parameters that are groups themselves."""

    def __init__(self, build: Callable[..., T], **nested: OptionGroup[Any]) -> None:
        """Read ``build``'s signature: its parameters are the group's options."""
        self._build = build
        self._parts = _parts(build, nested)

    @property
    def params(self) -> list[inspect.Parameter]:
        """The group's typer parameters, nested groups expanded, in order."""
        return _flat(self._parts)

    def make(self, values: dict[str, Any]) -> T:
        """The group's object, built from its options' values (taken out of ``values``)."""
        return self._build(**_take(self._parts, values))

    def _known(self, names: Iterable[str]) -> None:
        missing = sorted(set(names) - {param.name for param, _ in self._parts})
        if missing:
            raise TypeError(f"{self._build.__qualname__} has no option {', '.join(missing)}")

    def without(self, *names: str) -> OptionGroup[T]:
        """This group without the options ``names``: a command that does not offer them (the
        object gets their defaults)."""
        self._known(names)
        group = copy.copy(self)
        group._parts = [(p, g) for p, g in self._parts if p.name not in names]
        return group

    def replacing(self, **annotations: object) -> OptionGroup[T]:
        """This group with other declarations (``Annotated`` aliases) of some options: the same
        option with a help text of its own."""
        self._known(annotations)
        group = copy.copy(self)
        group._parts = [(p.replace(annotation=annotations[p.name]) if p.name in annotations
                         else p, g) for p, g in self._parts]
        return group


def with_options(**groups: OptionGroup[Any]) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Give a command the options of ``groups``, each in place of the parameter of its name;
    the command is called with each group's object there.

    The command's other parameters stay as they are, in order. A name two parts share is an
    error (``TypeError``), when the command is defined.
    """

    def decorate(command: Callable[..., R]) -> Callable[..., R]:
        parts = _parts(command, groups)
        # Typer passes every value by name, so every parameter can be keyword-only: the
        # options then keep the order of --help without Python's rule on defaults.
        params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in _flat(parts)]
        names = [p.name for p in params]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise TypeError(f"{command.__qualname__}: {', '.join(twice)} given twice")

        @functools.wraps(command)
        def wrapper(**values: Any) -> R:
            return command(**_take(parts, dict(values)))

        # What typer reads: the signature (inspect follows __signature__) and the type hints.
        wrapper.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in params}
        return wrapper

    return decorate
