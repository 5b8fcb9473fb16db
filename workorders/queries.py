"""Which orders: one typed filter (`OrderFilter`) for listing, counting and any export, so that
a page, its total and a download of the same filter always cover the same orders."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select

from hotline.db import session_scope
from workorders import sla
from workorders.config import WorkOrderConfig, default_config
from workorders.inputs import InvalidField, as_list, one_of, utc
from workorders.model import WorkOrder
from workorders.states import Status

MAX_PAGE = 500


@dataclass(frozen=True)
class OrderFilter:
    """Orders matching every field given (None: any).

    `status` and `warning` take one value or several (any of them); `warning` (none, yellow,
    orange, red) is evaluated at `as_of` (default: when the query runs). `created_to` is
    exclusive, and a date means the local day (a `created_to` date includes that whole day).
    `text` is searched in the request, summary, address and number; `phone` is compared
    normalised (as stored). Unknown statuses and warning levels are refused (InvalidField) when
    the filter is made.
    """

    status: str | tuple[str, ...] | None = None
    department: str | None = None
    warning: str | tuple[str, ...] | None = None
    created_from: datetime | date | None = None
    created_to: datetime | date | None = None
    text: str | None = None
    category: str | None = None
    district: str | None = None
    phone: str | None = None
    conversation_id: str | None = None  # channel:sender, the chat that made the order
    as_of: datetime | None = None

    def __post_init__(self) -> None:
        statuses = [s.value for s in Status]
        object.__setattr__(self, "status", _choices("status", self.status, statuses))
        object.__setattr__(self, "warning", _choices("warning", self.warning, sla.LEVELS))

    def conditions(self, config: WorkOrderConfig | None = None) -> list[ColumnElement[bool]]:
        """The WHERE clauses of this filter (dates are local days of the configuration)."""
        from workorders.store import normalise_phone  # the store re-exports this module

        cfg = config or default_config()
        conds: list[ColumnElement[bool]] = []
        if self.status is not None:
            conds.append(WorkOrder.status.in_(self.status))
        if self.warning is not None:
            at = utc(self.as_of)
            conds.append(or_(*(sla.warning_condition(w, at) for w in self.warning)))
        for column, value in (
            (WorkOrder.department, self.department),
            (WorkOrder.category, self.category),
            (WorkOrder.district, self.district),
            (WorkOrder.conversation_id, self.conversation_id),
        ):
            if value:
                conds.append(column == value)
        if self.phone:
            conds.append(WorkOrder.citizen_phone == normalise_phone(self.phone))
        if self.created_from is not None:
            conds.append(WorkOrder.created_at >= _instant(self.created_from, cfg, end=False))
        if self.created_to is not None:
            conds.append(WorkOrder.created_at < _instant(self.created_to, cfg, end=True))
        if self.text and self.text.strip():
            pattern = "%" + re.sub(r"([\\%_])", r"\\\1", self.text.strip()) + "%"
            searched = (WorkOrder.request_text, WorkOrder.summary, WorkOrder.address,
                        WorkOrder.number)  # fmt: skip
            conds.append(or_(*(col.like(pattern, escape="\\") for col in searched)))
        return conds


def list_orders(
    url: str,
    where: OrderFilter | None = None,
    *,
    limit: int = 50,
    offset: int = 0,
    config: WorkOrderConfig | None = None,
    urgent_first: bool = False,
    **fields: Any,
) -> list[WorkOrder]:
    """One page of the orders matching `where`, newest first; with `urgent_first` the open
    emergencies come before everything else (the console: an operator sees them first).

    The filter's fields may also be given by keyword (``list_orders(url, phone=...)``).
    """
    if not 0 < limit <= MAX_PAGE:
        raise InvalidField("limit", f"须在1至{MAX_PAGE}之间", f"must be 1..{MAX_PAGE}")
    if offset < 0:
        raise InvalidField("offset", "不能为负", "must not be negative")
    conds = _filter(where, fields).conditions(config)
    with session_scope(url) as s:
        done = (Status.CLOSED.value, Status.VISITED.value, Status.MERGED.value)
        urgent = and_(WorkOrder.priority == "emergency", WorkOrder.status.not_in(done))
        first = [case((urgent, 0), else_=1)] if urgent_first else []
        stmt = (
            select(WorkOrder)
            .where(*conds)
            .order_by(*first, WorkOrder.created_at.desc(), WorkOrder.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return list(s.scalars(stmt))


def count_orders(
    url: str,
    where: OrderFilter | None = None,
    *,
    config: WorkOrderConfig | None = None,
    **fields: Any,
) -> int:
    """How many orders list_orders pages through with the same filter."""
    conds = _filter(where, fields).conditions(config)
    with session_scope(url) as s:
        return s.scalar(select(func.count()).select_from(WorkOrder).where(*conds)) or 0


def _filter(where: OrderFilter | None, fields: dict[str, Any]) -> OrderFilter:
    if where is not None and fields:
        raise TypeError("give an OrderFilter or its fields by keyword, not both")
    return where if where is not None else OrderFilter(**fields)


def _choices(field: str, value: str | Iterable[str] | None, allowed: Iterable[str]) -> Any:
    if value is None:
        return None
    allowed = list(allowed)
    return tuple(one_of(field, v, allowed) for v in as_list(value))


def _instant(value: datetime | date, cfg: WorkOrderConfig, *, end: bool) -> datetime:
    if isinstance(value, datetime):
        return utc(value)
    day = value + timedelta(days=1) if end else value
    return datetime.combine(day, time.min, cfg.tz)
