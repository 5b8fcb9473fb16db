"""SLA clocks, warning levels and the reminder scan.

Two clocks per order:
- sign (签收): from each dispatch until the department signs for the order; runs in 已派单.
- reply (办理答复): from creation (restarted by 重办) until the department's 反馈; runs in every
  state before 已反馈, so an order sitting in 待派单 or returned by 退单 warns too: the citizen's
  wait does not stop while the centre re-routes.

A clock's deadline is the earliest of the configured rules that apply (kind, category,
priority). Its warning level is the elapsed share of it: yellow and orange at the configured
shares, red at the deadline (overdue). The instants of yellow/orange/red are computed once, when
the clock starts, and stored on the order: listing by warning and scanning are then plain SQL
comparisons, and "share ≥ threshold" and "now ≥ stored instant" agree by construction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Literal, TypeGuard

from sqlalchemy import ColumnElement, and_, case, literal, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from hotline.db import session_scope, table_of
from workorders.calendar import WorkCalendar
from workorders.config import Duration, Warnings, WorkOrderConfig, default_config
from workorders.model import (
    WorkOrder,
    WorkOrderReminder,
    append_event,
    lock_order,
    write_session,
)
from workorders.states import OVERDUE, REMINDER, REPLY_RUNNING, SIGN_RUNNING, Role, Status

log = logging.getLogger(__name__)

Level = Literal["none", "yellow", "orange", "red"]
LEVELS: tuple[Level, ...] = ("none", "yellow", "orange", "red")
# Keyed by str: levels read back from the reminder ledger's column are plain strings.
RANK: dict[str, int] = {level: i for i, level in enumerate(LEVELS)}
ClockName = Literal["sign", "reply"]
Basis = Literal["working", "wall"]  # a clock counts working time or wall-clock time
CLOCKS: tuple[ClockName, ...] = ("sign", "reply")
CLOCK_ZH = {"sign": "签收", "reply": "办理"}
LEVEL_ZH = {"yellow": "黄色", "orange": "橙色", "red": "红色"}
SCAN_ACTOR = "系统:sla"


@dataclass(frozen=True)
class Clock:
    basis: Basis
    started_at: datetime
    yellow_at: datetime
    orange_at: datetime
    due: datetime


# ---------------------------------------------------------------------------------------------
# Pure arithmetic


def due_after(cal: WorkCalendar, start: datetime, d: Duration) -> datetime:
    if d.wall_hours is not None:
        return start + timedelta(hours=d.wall_hours)
    return cal.add_working_time(start, hours=d.working_hours or 0, days=d.working_days or 0)


def clock_until(
    cal: WorkCalendar,
    start: datetime,
    due: datetime,
    basis: Basis,
    warnings: Warnings,
) -> Clock:
    """A clock from `start` to `due` with its warning instants at the configured shares."""
    if basis == "wall":
        span = due - start
        at = [start + span * share for share in (warnings.yellow, warnings.orange)]
    else:
        span = cal.working_time_between(start, due)
        shares = (warnings.yellow, warnings.orange)
        at = [cal.add_working_time(start, delta=span * share) for share in shares]
    utc = [t.astimezone(UTC) for t in (start, at[0], at[1], due)]
    return Clock(basis, *utc)


def start_clock(
    cal: WorkCalendar, start: datetime, rules: list[Duration], warnings: Warnings
) -> Clock:
    """The earliest deadline among `rules` wins; its basis decides how the share is counted."""
    due, rule = min(((due_after(cal, start, d), d) for d in rules), key=lambda pair: pair[0])
    return clock_until(cal, start, due, "wall" if rule.wall else "working", warnings)


def elapsed_share(
    cal: WorkCalendar,
    basis: Basis,
    start: datetime,
    due: datetime,
    now: datetime,
) -> float:
    """How much of the clock has been used at `now` (1.0 = the deadline)."""
    if basis == "wall":
        used, total = now - start, due - start
    else:
        used, total = cal.working_time_between(start, now), cal.working_time_between(start, due)
    if total <= timedelta():
        return 1.0 if now >= due else 0.0
    return max(used / total, 0.0)


def level_for_share(share: float, warnings: Warnings) -> Level:
    if share >= 1.0:
        return "red"
    if share >= warnings.orange:
        return "orange"
    if share >= warnings.yellow:
        return "yellow"
    return "none"


def sign_clock(cfg: WorkOrderConfig, start: datetime, priority: str) -> Clock:
    rules = [cfg.deadlines.sign.default]
    if priority in cfg.deadlines.sign.by_priority:
        rules.append(cfg.deadlines.sign.by_priority[priority])
    return start_clock(cfg.work_calendar, start, rules, cfg.warnings)


def reply_clock(
    cfg: WorkOrderConfig, start: datetime, kind: str, priority: str, category: str | None
) -> Clock:
    reply = cfg.deadlines.reply
    rules = [reply.by_kind[kind]]
    if category in reply.by_category:
        rules.append(reply.by_category[category])
    if priority in reply.by_priority:
        rules.append(reply.by_priority[priority])
    return start_clock(cfg.work_calendar, start, rules, cfg.warnings)


# ---------------------------------------------------------------------------------------------
# Clocks on an order


_CLOCK_FIELDS = ("basis", "started_at", "yellow_at", "orange_at", "due")


def set_clock(order: WorkOrder, name: ClockName, clock: Clock | None) -> None:
    """Store (or clear, with None) a clock's instants on the order."""
    values = (
        (clock.basis, clock.started_at, clock.yellow_at, clock.orange_at, clock.due)
        if clock
        else (None,) * 5
    )
    for suffix, value in zip(_CLOCK_FIELDS, values, strict=True):
        setattr(order, f"{name}_{suffix}", value)


def clock_of(order: WorkOrder, name: ClockName) -> Clock | None:
    due = getattr(order, f"{name}_due")
    if due is None:
        return None
    return Clock(
        getattr(order, f"{name}_basis") or "working",
        getattr(order, f"{name}_started_at"),
        getattr(order, f"{name}_yellow_at"),
        getattr(order, f"{name}_orange_at"),
        due,
    )


def running_clocks(order: WorkOrder) -> list[tuple[ClockName, Clock]]:
    """The clocks that count in the order's current state."""
    running = {"sign": SIGN_RUNNING, "reply": REPLY_RUNNING}
    out = []
    for name in CLOCKS:
        clock = clock_of(order, name)
        if clock is not None and Status(order.status) in running[name]:
            out.append((name, clock))
    return out


def clock_level(clock: Clock, now: datetime) -> Level:
    if now >= clock.due:
        return "red"
    if now >= clock.orange_at:
        return "orange"
    if now >= clock.yellow_at:
        return "yellow"
    return "none"


def warning_of(order: WorkOrder, now: datetime) -> Level:
    """The order's warning colour: the worst of its running clocks."""
    levels = [clock_level(clock, now) for _, clock in running_clocks(order)]
    return max(levels, key=RANK.__getitem__, default="none")


def is_level(value: str) -> TypeGuard[Level]:
    """Whether a string (a filter's value, a ledger row) names a warning level."""
    return value in RANK


def warning_condition(level: str, now: datetime) -> ColumnElement[bool]:
    """SQL for "the order's warning at `now` is exactly `level`" (mirrors warning_of)."""
    if not is_level(level):
        raise ValueError(f"unknown warning level {level!r}; use one of {LEVELS}")
    if level == "none":
        return ~_reached("yellow", now)
    cond = _reached(level, now)
    if level != "red":
        cond = and_(cond, ~_reached(LEVELS[RANK[level] + 1], now))
    return cond


def _reached(level: Level, now: datetime) -> ColumnElement[bool]:
    col = {"yellow": "yellow_at", "orange": "orange_at", "red": "due"}[level]
    parts = []
    for name, states in (("sign", SIGN_RUNNING), ("reply", REPLY_RUNNING)):
        column = getattr(WorkOrder, f"{name}_{col}")
        # IS NOT NULL keeps the result two-valued, so that NOT(...) means what it says
        parts.append(and_(WorkOrder.status.in_(states), column.is_not(None), column <= now))
    return or_(*parts)


# ---------------------------------------------------------------------------------------------
# The reminder scan


@dataclass(frozen=True)
class Reminder:
    number: str
    clock: ClockName
    level: Level
    due: datetime
    at: datetime


def scan(
    url: str, now: datetime | None = None, *, config: WorkOrderConfig | None = None
) -> list[Reminder]:
    """Record 催办 (yellow, orange) and 超期督办 (red) events for the orders that reached a level.

    Safe to run from several workers at once: each order is handled in its own transaction
    holding the order's row lock (SQLite: the write lock), and the ledger's unique key on
    (order, clock, level, deadline) refuses a second entry, so every level of every clock
    instance is recorded exactly once. Only the highest level reached is recorded: an order
    first seen already overdue gets the red escalation, not three entries at once.
    """
    tz = (config or default_config()).tz  # only for the wording: instants are stored
    now = datetime.now(UTC) if now is None else _aware(now)
    recorded: list[Reminder] = []
    for order_id in _candidates(url, now):
        recorded += _remind(url, order_id, now, tz)
    if recorded:
        log.info("SLA scan recorded %d reminders", len(recorded))
    return recorded


def _candidates(url: str, now: datetime) -> list[int]:
    """Orders whose highest level reached on a running clock is not in the ledger yet.

    Decided in SQL (an anti-join on the ledger's unique key), so a scan over a million orders
    reads only the few that crossed a threshold since the last scan; _remind re-checks each one
    under its row lock.
    """
    with session_scope(url) as s:
        return list(s.scalars(select(WorkOrder.id).where(or_(*_needs_reminder(now)))))


def _needs_reminder(now: datetime) -> list[ColumnElement[bool]]:
    conds = []
    for name, states in (("sign", SIGN_RUNNING), ("reply", REPLY_RUNNING)):
        yellow, orange, due = (
            getattr(WorkOrder, f"{name}_{c}") for c in ("yellow_at", "orange_at", "due")
        )
        highest = case(
            (and_(due.is_not(None), due <= now), literal("red")),
            (and_(orange.is_not(None), orange <= now), literal("orange")),
            else_=literal("yellow"),
        )
        recorded = (
            select(WorkOrderReminder.id)
            .where(
                WorkOrderReminder.order_id == WorkOrder.id,
                WorkOrderReminder.clock == name,
                WorkOrderReminder.due_at == due,
                WorkOrderReminder.level == highest,
            )
            .exists()
        )
        reached = or_(and_(yellow.is_not(None), yellow <= now), and_(due.is_not(None), due <= now))
        conds.append(and_(WorkOrder.status.in_(states), reached, ~recorded))
    return conds


def _ledger(s: Session, order_ids: list[int]) -> dict[tuple[int, str, datetime], int]:
    """Highest recorded level rank per (order, clock, deadline)."""
    out: dict[tuple[int, str, datetime], int] = {}
    for chunk in range(0, len(order_ids), 500):
        rows = s.execute(
            select(
                WorkOrderReminder.order_id,
                WorkOrderReminder.clock,
                WorkOrderReminder.due_at,
                WorkOrderReminder.level,
            ).where(WorkOrderReminder.order_id.in_(order_ids[chunk : chunk + 500]))
        )
        for order_id, clock, due, level in rows:
            key = (order_id, clock, due)
            out[key] = max(out.get(key, 0), RANK[level])
    return out


def _remind(url: str, order_id: int, now: datetime, tz: tzinfo) -> list[Reminder]:
    out: list[Reminder] = []
    with write_session(url) as s:
        order = lock_order(s, id=order_id)
        if order is None:
            return out
        ledger = _ledger(s, [order.id])  # read under the lock: sees any rival's commit
        for name, clock in running_clocks(order):
            level = clock_level(clock, now)
            if RANK[level] <= ledger.get((order.id, name, clock.due), 0):
                continue
            if not _record(s, order, name, level, clock.due, now):
                continue
            append_event(
                s,
                order,
                at=now,
                actor=SCAN_ACTOR,
                actor_role=Role.SYSTEM.value,
                action=OVERDUE if level == "red" else REMINDER,
                from_status=order.status,
                to_status=order.status,
                note=_note(name, level, clock.due.astimezone(tz), order),
                data={"clock": name, "level": level, "due": clock.due.isoformat()},
            )
            out.append(Reminder(order.number, name, level, clock.due, now))
    return out


def _record(
    s: Session, order: WorkOrder, clock: ClockName, level: Level, due: datetime, now: datetime
) -> bool:
    """Insert the ledger row; False when it already exists (the unique key decides)."""
    table = table_of(WorkOrderReminder)
    dialect = s.get_bind().dialect.name
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    stmt = (
        insert.values(order_id=order.id, clock=clock, level=level, due_at=due, at=now)
        .on_conflict_do_nothing()
        .returning(table.c.id)
    )
    return s.execute(stmt).scalar() is not None


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: give a timezone (e.g. Asia/Shanghai or UTC)")
    return moment.astimezone(UTC)


def _note(clock: ClockName, level: Level, due: datetime, order: WorkOrder) -> str:
    local = due.strftime("%Y-%m-%d %H:%M")
    who = order.department or "12345热线中心"
    if level == "red":
        return f"{CLOCK_ZH[clock]}已超期（时限 {local}），请{who}立即处理"
    return f"{CLOCK_ZH[clock]}{LEVEL_ZH[level]}预警：请{who}在 {local} 前完成{CLOCK_ZH[clock]}"


__all__ = [
    "CLOCKS",
    "LEVELS",
    "Clock",
    "Level",
    "Reminder",
    "clock_level",
    "clock_until",
    "elapsed_share",
    "level_for_share",
    "reply_clock",
    "running_clocks",
    "scan",
    "set_clock",
    "sign_clock",
    "start_clock",
    "warning_condition",
    "warning_of",
]
