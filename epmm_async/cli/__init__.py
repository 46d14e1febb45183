"""The ``epmm`` command line: typer + rich on top of the client and its operations layer.

The CLI is the top layer: it imports the library; nothing in the library imports it.
"""

from __future__ import annotations

from .app import app

__all__ = ["app", "main"]


def main() -> None:
    """Entry point of the ``epmm`` console script and ``python -m epmm_async``."""
    app(prog_name="epmm")
