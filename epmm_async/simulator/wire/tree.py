"""The reply tree every encoder renders, and the XML root element around it.

A ``dict`` is an element with children (keys starting with ``@`` are XML attributes), a
``list`` is a repeated element, ``None`` is a Java ``null`` property and a scalar
(``str``/``int``/``float``/``bool``) is text. An element with no children (``{}``, or a dict
whose lists are all empty, such as ``{"message": []}``) is an empty element, ``<messages/>``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ROOT", "Tree"]

ROOT = "deviceManagementWebServiceResponse"
"""Root element of every XML reply (dropped from JSON unless ``Quirks.root_wrapper``)."""

Tree = dict[str, Any]
"""A reply tree (see the module docstring)."""
