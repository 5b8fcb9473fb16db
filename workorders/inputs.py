"""Checks of what callers hand the store: text fields, choices, order numbers and instants.

Each refusal names the field (InvalidField), so an API can point at it and the dialogue can ask
for it again.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from workorders.model import mask_text
from workorders.numbering import parse_number
from workorders.states import WorkOrderError


class InvalidField(WorkOrderError, ValueError):
    """Input refused before anything was stored; `field` names the culprit."""

    def __init__(self, field: str, zh: str, en: str) -> None:
        self.field = field
        super().__init__(f"{field}: {zh} / {en}")


class OrderNotFound(WorkOrderError, LookupError):
    def __init__(self, number: str) -> None:
        self.number = number
        super().__init__(f"工单 {number} 不存在 / no work order {number}")


def text_field(field: str, value: str | None, limit: int, required: bool = False) -> str | None:
    value = (value or "").strip() or None
    if value is None:
        if required:
            raise InvalidField(field, "不能为空", "is required")
        return None
    if "\x00" in value:
        raise InvalidField(field, "含有非法字符", "contains a NUL character")
    if len(value) > limit:
        raise InvalidField(field, f"超过{limit}字", f"longer than {limit} characters")
    return value


def one_of(field: str, value: str | None, allowed: Iterable[str]) -> str | None:
    allowed = list(allowed)
    if value is not None and value not in allowed:
        raise InvalidField(
            field, f"「{value}」不在可选范围内", f"{value!r} is not one of {allowed}"
        )
    return value


def as_list(value: str | Iterable[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def canonical_number(number: str) -> str:
    """An order number as typed or read aloud (numbering.parse_number), or OrderNotFound."""
    canonical = parse_number(number)
    if canonical is None:
        raise OrderNotFound(mask_text(str(number))[:40])
    return canonical


def utc(now: datetime | None) -> datetime:
    """`now` in UTC (the current instant when None); a naive datetime is refused."""
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("naive datetime: give a timezone (e.g. Asia/Shanghai or UTC)")
    return now.astimezone(UTC)


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
