"""Encoding of simulator replies as XML or Jettison-"mapped" JSON, with switchable quirks.

A reply is built once as a tree (:mod:`.tree`: dicts are elements, lists repeated elements,
``None`` a Java ``null``, scalars text); one module a step: :mod:`.quirks` (the switches),
:mod:`.scalars` (a scalar's text and its Jettison typing), :mod:`.json_writer`,
:mod:`.xml_writer` and :mod:`.negotiate` (which format a request asks for).

Both formats take the scalars' text from one function, :func:`xml_text` (what JAXB prints:
``true``/``false``, decimal integers, Java's ``Double.toString`` for floats). XML carries that
text; JSON then types it as the server's JSON provider would (:attr:`Quirks.typing`): by
default with Jettison's ``DefaultConverter`` (:func:`jettison_value`), so ``"97"`` is sent as
``97`` and ``"0612345678"`` stays a string. :func:`encode_json` and :func:`encode_xml` render
the tree the way a real EPMM server (Apache CXF with Jettison) would.
"""

from .json_writer import encode_json
from .negotiate import encode, wants_xml
from .quirks import Quirks
from .scalars import (
    JavaDouble,
    java_double_to_string,
    jettison_number_text,
    jettison_value,
    xml_text,
)
from .tree import ROOT, Tree
from .xml_writer import encode_xml

__all__ = [
    "ROOT",
    "JavaDouble",
    "Quirks",
    "Tree",
    "encode",
    "encode_json",
    "encode_xml",
    "java_double_to_string",
    "jettison_number_text",
    "jettison_value",
    "wants_xml",
    "xml_text",
]
