"""Switchable wire-format behaviours of the simulator's replies (:class:`Quirks`)."""

from __future__ import annotations

from dataclasses import InitVar, dataclass
from typing import Literal

__all__ = ["Quirks"]

Typing = Literal["jettison", "quoted", "schema"]
EmptyElements = Literal["missing", "empty", "null"]
EmptyDetails = Literal["element", "bare", "missing"]
OverCap = Literal["clamp", "error"]
DynamicLabel = Literal["error", "records"]


@dataclass(slots=True)
class Quirks:
    """Switchable wire-format behaviours; the defaults are what real EPMM servers do.

    Attributes:
        typing: how JSON types a scalar's text. ``"jettison"`` (default): Jettison's
            ``DefaultConverter`` writes text that round-trips as a Java long, double or
            boolean bare (``97``, ``2.2``, ``true``) and everything else as a string
            (``"0612345678"``, ``"4.5.0"``); attributes (``@id``) stay strings.
            ``"quoted"``: every scalar is a JSON string (``"97"``, ``"false"``).
            ``"schema"``: each value keeps the type the server's model gives it
            (``97``, ``false``, but a phone number stays ``"4085551212"``).
        enforce_32bit_integer: Jettison started with
            ``jettison.mapped.typeconverter.enforce_32bit_integer=true``: integers beyond
            32 bits (most phone numbers, IMEIs) stay strings.
        negative_exponent_as_string: Jettison 1.5's converter (2022 on) rejects a ``-``
            after the exponent, so ``1.0E-4`` stays a string (older ones send ``1.0E-4``).
        escape_forward_slash_always: ``/`` is written ``\\/`` in every JSON string
            (Jettison before 1.3.6); off, only ``</`` is escaped (Jettison 1.3.6 and later,
            and CXF's default).
        single_as_object: Jettison's mapped convention: a one-element list is a bare object,
            an empty element is ``""`` and a list of none is no key at all. Off: lists are
            always arrays and an empty element is an object.
        root_wrapper: wrap JSON in ``{"deviceManagementWebServiceResponse": ...}``.
        empty_as_404: an empty search or list is a 404 with a ``messages`` body.
        empty_elements: how a ``null`` property is sent: ``"missing"`` (default, JAXB omits
            it in XML and so JSON has no key), ``"empty"`` (``<x/>``, ``""``) or ``"null"``
            (``<x/>``, JSON ``null``).
        details_wrapped_in_list: ``"details": [{"entry": [...]}]`` (a one-element array).
        empty_details: empty details (registration pending): ``"element"`` (default: an
            empty element like any other, so ``[""]`` when wrapped, ``""`` otherwise),
            ``"bare"`` (``""`` even when wrapped) or ``"missing"`` (no ``details`` at all).
        mac_lookup_singular: ``GET /devices/mac/{mac}`` answers ``device`` (one object) and
            ``totalCount``; off: the document's ``devices``/``device`` list.
        no_role_status: the answer to a valid account without the API role: 401 (default,
            like a wrong password) or 403 (with the API's ``messages`` body).
        auth_error_body: body of a 401: ``"html"`` (default, the web server's page) or
            ``"api"`` (the API's ``messages`` body, in the negotiated format).
        misspelled_sucess: the registration status reads ``SUCESS``.
        bulk_form_body: bulk endpoints also read uuids from a form-encoded body.
        invalid_devices_in_messages: bulk replies nest ``invalidDevices`` inside ``messages``.
        scalars_as_strings: old spelling (constructor only): True is ``typing="quoted"``,
            False ``typing="schema"``.
        numeric_strings_as_numbers: old spelling (constructor only): True is
            ``typing="jettison"``.

    API v2 (``/api/v2``, plain JSON; each switch is an unknown of the v2 subset, see
    ``docs/simulator.md``):

    Attributes:
        v2_enabled: serve ``/api/v2`` at all; False: every v2 path is the web server's HTML
            404 (a server without v2, for clients that fall back to v1).
        v2_device_space_id: the admin's one device space (``device_spaces/mine``, the only
            ``adminDeviceSpaceId`` accepted); None: no space (an empty list, every call 400).
        v2_page_cap: the largest ``limit`` of device search (None: no cap).
        v2_label_page_cap: the largest ``limit`` of ``labels/label_summary`` (200, the doc).
        v2_over_cap: a ``limit`` above its cap is lowered to the cap (``"clamp"``) or
            answered 400 (``"error"``).
        v2_offset_as_page: ``offset`` is a page number (first entry ``offset * limit``)
            instead of the index of the first entry.
        v2_max_fields: more ``fields`` than this in one search is a 400 (None: no cap).
        v2_max_query_length: a longer ``query`` is a 400 (255, the doc; None: no cap).
        v2_left_to_right: ``AND`` and ``OR`` bind alike, evaluated left to right; off (the
            assumption): ``AND`` binds tighter than ``OR``.
        v2_max_label_uuids: more ``deviceUuids`` than this in one label add/remove is
            answered ``v2_label_cap_status`` ("too many"), nothing applied (None: no cap).
        v2_label_cap_status: the status of that answer.
        v2_partial_failure: the status of a label add/remove with a failed device
            (``successful: false``); 200 by default.
        v2_success_records: add/remove records also list the (label, device) pairs that
            succeeded (``failureCode`` null); off: failures only.
        v2_remove_records: the remove answer carries ``results.records`` like add's.
        v2_unknown_label_status: the status for an unknown label name or id (404 or 400).
        v2_dynamic_label: manual membership on a dynamic label: ``"error"`` (400, nothing
            applied) or ``"records"`` (a failure record per device, ``LABEL_NOT_STATIC``).
    """

    typing: Typing = "jettison"
    enforce_32bit_integer: bool = False
    negative_exponent_as_string: bool = False
    escape_forward_slash_always: bool = False
    single_as_object: bool = True
    root_wrapper: bool = False
    empty_as_404: bool = True
    empty_elements: EmptyElements = "missing"
    details_wrapped_in_list: bool = True
    empty_details: EmptyDetails = "element"
    mac_lookup_singular: bool = True
    no_role_status: int = 401
    auth_error_body: Literal["html", "api"] = "html"
    misspelled_sucess: bool = False
    bulk_form_body: bool = True
    invalid_devices_in_messages: bool = False
    scalars_as_strings: InitVar[bool | None] = None
    numeric_strings_as_numbers: InitVar[bool | None] = None
    v2_enabled: bool = True
    v2_device_space_id: int | None = 1
    v2_page_cap: int | None = None
    v2_label_page_cap: int | None = 200
    v2_over_cap: OverCap = "clamp"
    v2_offset_as_page: bool = False
    v2_max_fields: int | None = 512
    v2_max_query_length: int | None = 255
    v2_left_to_right: bool = False
    v2_max_label_uuids: int | None = None
    v2_label_cap_status: int = 400
    v2_partial_failure: int = 200
    v2_success_records: bool = False
    v2_remove_records: bool = False
    v2_unknown_label_status: int = 404
    v2_dynamic_label: DynamicLabel = "error"

    def __post_init__(
        self, scalars_as_strings: bool | None, numeric_strings_as_numbers: bool | None
    ) -> None:
        if scalars_as_strings is not None:
            self.typing = "quoted" if scalars_as_strings else "schema"
        if numeric_strings_as_numbers:
            self.typing = "jettison"
        checks: tuple[tuple[str, object, tuple[object, ...]], ...] = (
            ("typing", self.typing, ("jettison", "quoted", "schema")),
            ("empty_elements", self.empty_elements, ("missing", "empty", "null")),
            ("empty_details", self.empty_details, ("element", "bare", "missing")),
            ("no_role_status", self.no_role_status, (401, 403)),
            ("auth_error_body", self.auth_error_body, ("html", "api")),
            ("v2_over_cap", self.v2_over_cap, ("clamp", "error")),
            ("v2_dynamic_label", self.v2_dynamic_label, ("error", "records")),
        )
        for name, value, allowed in checks:
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, not {value!r}")
        for status_name in ("v2_label_cap_status", "v2_partial_failure"):
            status = getattr(self, status_name)
            if not 200 <= status <= 599:
                raise ValueError(f"{status_name} must be an HTTP status, not {status!r}")
        if self.v2_unknown_label_status not in (400, 404):
            raise ValueError(
                f"v2_unknown_label_status must be 400 or 404, not {self.v2_unknown_label_status!r}"
            )

    @classmethod
    def clean(cls) -> Quirks:
        """Every JSON-shape quirk off: arrays are arrays, values typed by the model, ``null``
        as ``null``, 200 on empty; the answers that are not about shape (the singular MAC
        lookup, 401 pages) stay as real servers give them."""
        return cls(
            typing="schema",
            enforce_32bit_integer=False,
            negative_exponent_as_string=False,
            escape_forward_slash_always=False,
            single_as_object=False,
            root_wrapper=False,
            empty_as_404=False,
            empty_elements="null",
            details_wrapped_in_list=False,
            empty_details="element",
            mac_lookup_singular=True,
            no_role_status=401,
            auth_error_body="html",
            misspelled_sucess=False,
            bulk_form_body=False,
            invalid_devices_in_messages=False,
        )

    @classmethod
    def quoted(cls) -> Quirks:
        """The dialect the simulator spoke before the typed-JSON evidence: every scalar a
        string, ``details`` an object, ``null`` properties as ``""``, MAC lookups a list,
        403 for an account without the API role and 401 with the API's body."""
        return cls(
            typing="quoted",
            details_wrapped_in_list=False,
            empty_elements="empty",
            mac_lookup_singular=False,
            no_role_status=403,
            auth_error_body="api",
        )
