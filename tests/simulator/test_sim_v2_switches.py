"""Every API v2 switch: its default, its command-line flag (both ways) and its checks."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from epmm_async.simulator import Quirks
from epmm_async.simulator.__main__ import build_parser, quirks_from_args

DEFAULTS: dict[str, Any] = {
    "v2_enabled": True,
    "v2_device_space_id": 1,
    "v2_page_cap": None,
    "v2_label_page_cap": 200,
    "v2_over_cap": "clamp",
    "v2_offset_as_page": False,
    "v2_max_fields": 512,
    "v2_max_query_length": 255,
    "v2_left_to_right": False,
    "v2_max_label_uuids": None,
    "v2_label_cap_status": 400,
    "v2_partial_failure": 200,
    "v2_success_records": False,
    "v2_remove_records": False,
    "v2_unknown_label_status": 404,
    "v2_dynamic_label": "error",
}


def _quirks(*argv: str) -> Quirks:
    return quirks_from_args(build_parser().parse_args(list(argv)))


def test_defaults_and_no_flags() -> None:
    names = {f.name for f in dataclasses.fields(Quirks) if f.name.startswith("v2_")}
    assert names == set(DEFAULTS)
    for quirks in (Quirks(), _quirks(), Quirks.clean(), Quirks.quoted()):
        assert {k: getattr(quirks, k) for k in DEFAULTS} == DEFAULTS


@pytest.mark.parametrize(
    ("argv", "field", "value"),
    [
        (["--no-v2"], "v2_enabled", False),
        (["--v2"], "v2_enabled", True),
        (["--v2-device-space-id", "7"], "v2_device_space_id", 7),
        (["--v2-device-space-id", "0"], "v2_device_space_id", None),
        (["--v2-page-cap", "200"], "v2_page_cap", 200),
        (["--v2-page-cap", "0"], "v2_page_cap", None),
        (["--v2-label-page-cap", "50"], "v2_label_page_cap", 50),
        (["--v2-label-page-cap", "0"], "v2_label_page_cap", None),
        (["--v2-over-cap", "error"], "v2_over_cap", "error"),
        (["--v2-over-cap", "clamp"], "v2_over_cap", "clamp"),
        (["--v2-offset-as-page"], "v2_offset_as_page", True),
        (["--no-v2-offset-as-page"], "v2_offset_as_page", False),
        (["--v2-max-fields", "10"], "v2_max_fields", 10),
        (["--v2-max-fields", "0"], "v2_max_fields", None),
        (["--v2-max-query-length", "1000"], "v2_max_query_length", 1000),
        (["--v2-max-query-length", "0"], "v2_max_query_length", None),
        (["--v2-left-to-right"], "v2_left_to_right", True),
        (["--no-v2-left-to-right"], "v2_left_to_right", False),
        (["--v2-max-label-uuids", "100"], "v2_max_label_uuids", 100),
        (["--v2-max-label-uuids", "0"], "v2_max_label_uuids", None),
        (["--v2-label-cap-status", "413"], "v2_label_cap_status", 413),
        (["--v2-partial-failure", "207"], "v2_partial_failure", 207),
        (["--v2-success-records"], "v2_success_records", True),
        (["--no-v2-success-records"], "v2_success_records", False),
        (["--v2-remove-records"], "v2_remove_records", True),
        (["--no-v2-remove-records"], "v2_remove_records", False),
        (["--v2-unknown-label-status", "400"], "v2_unknown_label_status", 400),
        (["--v2-unknown-label-status", "404"], "v2_unknown_label_status", 404),
        (["--v2-dynamic-label", "records"], "v2_dynamic_label", "records"),
        (["--v2-dynamic-label", "error"], "v2_dynamic_label", "error"),
    ],
)
def test_each_flag(argv: list[str], field: str, value: object) -> None:
    quirks = _quirks(*argv)
    assert getattr(quirks, field) == value
    others = {k: getattr(quirks, k) for k in DEFAULTS if k != field}
    assert others == {k: v for k, v in DEFAULTS.items() if k != field}


def test_flags_combine_with_a_preset() -> None:
    quirks = _quirks("--clean", "--no-v2", "--v2-page-cap", "100")
    assert quirks.typing == "schema" and quirks.v2_enabled is False and quirks.v2_page_cap == 100


@pytest.mark.parametrize(
    "bad",
    [
        {"v2_over_cap": "drop"},
        {"v2_dynamic_label": "ignore"},
        {"v2_unknown_label_status": 410},
        {"v2_label_cap_status": 99},
        {"v2_partial_failure": 700},
    ],
)
def test_bad_values_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Quirks(**bad)


def test_unknown_label_status_flag_takes_only_400_or_404() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--v2-unknown-label-status", "410"])
