"""Operators' presence (在线 / 离开): set in the console or through the API; an "available"
operator who shows no activity for the idle limit counts as away."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update

from handoffs.model import OperatorPresence
from hotline.db import session_scope

AVAILABLE, AWAY = "available", "away"


def set_status(url: str, operator: str, status: str) -> None:
    if status not in (AVAILABLE, AWAY):
        raise ValueError(f"status must be {AVAILABLE} or {AWAY}, not {status!r}")
    now = datetime.now(UTC)
    with session_scope(url) as session:
        row = session.get(OperatorPresence, operator)
        if row is None:
            session.add(OperatorPresence(operator=operator, status=status, changed_at=now,
                                         seen_at=now))  # fmt: skip
        else:
            row.status, row.changed_at, row.seen_at = status, now, now


TOUCH_EVERY = timedelta(seconds=30)  # presence is kept in minutes: fewer writes


def touch(url: str, operator: str) -> None:
    """Record activity of the operator (any console or API call), keeping presence alive; at
    most one write per TOUCH_EVERY, so busy operators do not queue for the database's lock."""
    now = datetime.now(UTC)
    stmt = (
        update(OperatorPresence)
        .where(OperatorPresence.operator == operator, OperatorPresence.seen_at < now - TOUCH_EVERY)
        .values(seen_at=now)
    )
    with session_scope(url) as session:
        session.execute(stmt)


def status_of(url: str, operator: str, idle: timedelta) -> str:
    with session_scope(url) as session:
        row = session.get(OperatorPresence, operator)
    if row is None or row.status != AVAILABLE or row.seen_at < datetime.now(UTC) - idle:
        return AWAY
    return AVAILABLE


def available_count(url: str, idle: timedelta) -> int:
    """Operators available now (set so, and active within the idle limit)."""
    since = datetime.now(UTC) - idle
    with session_scope(url) as session:
        count = session.scalar(
            select(func.count()).where(
                OperatorPresence.status == AVAILABLE, OperatorPresence.seen_at >= since
            )
        )
    return int(count or 0)


def parse_hours(spec: str) -> tuple[time, time | None]:
    """ "08:00-20:00" → (08:00, 20:00); an end of 24:00 is None (until midnight)."""
    start, _, end = spec.partition("-")
    h, m = (int(x) for x in start.strip().split(":"))
    first = time(h, m)
    eh, em = (int(x) for x in end.strip().split(":"))
    return first, None if (eh, em) == (24, 0) else time(eh, em)


def within_hours(spec: str, zone: str, now: datetime | None = None) -> bool:
    """Whether operators serve chat now (HOTLINE_OPERATOR_HOURS in the centre's timezone)."""
    start, end = parse_hours(spec)
    local = (now or datetime.now(UTC)).astimezone(ZoneInfo(zone)).time()
    return local >= start and (end is None or local < end)
