"""Errors of API v2 calls that the shared hierarchy (:mod:`epmm_async.errors`) lacks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import EpmmError

if TYPE_CHECKING:
    from .models import LabelSummary

__all__ = ["AmbiguousLabelError"]


class AmbiguousLabelError(EpmmError, LookupError):
    """More than one label has the name looked up: which one is meant cannot be told.

    ``name`` is the name, ``labels`` every label listed with it (use their ``id``).
    """

    def __init__(self, name: str, labels: tuple[LabelSummary, ...]) -> None:
        """Keep the name and the labels that have it."""
        ids = ", ".join(str(label.id) for label in labels)
        super().__init__(f"{len(labels)} labels are named {name!r} (ids {ids}): "
                         "name the label by id")
        self.name = name
        self.labels = labels
