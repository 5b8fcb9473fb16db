"""Numbers citizens read aloud and type: 20261122-0042."""

from __future__ import annotations

from datetime import date

import pytest

from workorders.numbering import format_number, parse_number


def test_format() -> None:
    assert format_number(date(2026, 11, 22), 42) == "20261122-0042"
    assert format_number(date(2026, 11, 22), 12345) == "20261122-12345"  # grows, never wraps


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("20261122-0042", "20261122-0042"),
        ("202611220042", "20261122-0042"),
        (" 20261122 0042 ", "20261122-0042"),
        ("２０２６１１２２－００４２", "20261122-0042"),
        ("20261122—42", "20261122-0042"),
        ("20261122-12345", "20261122-12345"),
    ],
)
def test_parse_what_citizens_type(typed: str, canonical: str) -> None:
    assert parse_number(typed) == canonical


@pytest.mark.parametrize(
    "bad",
    ["", "abc", "20261122", "20261122-0000", "20261340-0001", "2026112-0001", "٢٠٢٦١١٢٢-٠٠٤٢"],
)
def test_reject_what_is_not_a_number(bad: str) -> None:
    assert parse_number(bad) is None
