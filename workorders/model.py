"""Work-order tables (SQLAlchemy 2, schema owned by migration 0003), masking helpers and the
transaction primitives every write goes through.

Tables are prefixed `work_order` so they never meet Rasa's own `events` table when both share
one PostgreSQL database.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from hotline.db import Base, session_scope
from hotline.privacy import mask_numbers

_ID = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER only


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on both databases.

    SQLite has no time zones: values are stored as naive UTC text, which also keeps `<=`
    comparisons in SQL correct (ISO text sorts like time).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: work-order times must carry a time zone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# ---------------------------------------------------------------------------------------------
# Masking: citizens' contact data never appears whole in lists, logs or reprs.


def mask_phone(phone: str | None) -> str:
    """13812345678 → 138****5678; 0571-88123456 → 0571-****3456."""
    if not phone:
        return ""
    if "-" in phone:
        area, local = phone.split("-", 1)
        return f"{area}-{'*' * max(len(local) - 4, 1)}{local[-4:]}"
    if len(phone) <= 7:
        return "*" * len(phone)
    return f"{phone[:3]}{'*' * (len(phone) - 7)}{phone[-4:]}"


def mask_name(name: str | None) -> str:
    """张三 → 张*, 欧阳小明 → 欧***; a single character is masked whole."""
    if not name:
        return ""
    return "*" if len(name) == 1 else name[0] + "*" * (len(name) - 1)


def mask_openid(openid: str | None) -> str:
    if not openid:
        return ""
    return openid[:4] + "***" if len(openid) > 6 else "***"


_PHONE_IN_TEXT = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")


def mask_text(text: str) -> str:
    """Mask mobile numbers that a citizen typed into free text (for logs)."""
    return _PHONE_IN_TEXT.sub(r"\1****\2", text)


# ---------------------------------------------------------------------------------------------
# Tables


class WorkOrder(Base):
    __tablename__ = "work_orders"
    __table_args__ = (
        UniqueConstraint("number", name="uq_work_orders_number"),
        UniqueConstraint("idempotency_key", name="uq_work_orders_idempotency_key"),
        Index("ix_work_orders_status_created", "status", "created_at"),
        Index("ix_work_orders_department_status", "department", "status"),
        Index("ix_work_orders_created", "created_at"),
        Index("ix_work_orders_phone", "citizen_phone"),
        Index("ix_work_orders_conversation", "conversation_id"),
        Index("ix_work_orders_sign_yellow", "status", "sign_yellow_at"),
        Index("ix_work_orders_reply_yellow", "status", "reply_yellow_at"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    number: Mapped[str] = mapped_column(String(20))  # 20261122-0042, see numbering.py
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(16))
    citizen_name: Mapped[str | None] = mapped_column(String(40))
    citizen_phone: Mapped[str | None] = mapped_column(String(20))
    wechat_openid: Mapped[str | None] = mapped_column(String(64))
    request_text: Mapped[str] = mapped_column(Text)  # in the citizen's own words
    summary: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(8))  # 咨询/求助/投诉/举报/建议/表扬
    category: Mapped[str | None] = mapped_column(String(40))
    department: Mapped[str | None] = mapped_column(String(80))  # 主办 unit
    co_departments: Mapped[list[str]] = mapped_column(JSON, default=list)  # 协办 units
    level: Mapped[str | None] = mapped_column(String(8))  # 市直/区县, derived from department
    district: Mapped[str | None] = mapped_column(String(40))
    address: Mapped[str | None] = mapped_column(String(200))
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    status: Mapped[str] = mapped_column(String(16))
    satisfaction: Mapped[str | None] = mapped_column(String(8))
    conversation_id: Mapped[str | None] = mapped_column(String(160))
    merged_into: Mapped[str | None] = mapped_column(
        ForeignKey("work_orders.number", name="fk_work_orders_merged_into")
    )
    redo_count: Mapped[int] = mapped_column(Integer, default=0)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    visited_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # SLA clocks (sla.py). The warning instants are fixed when a clock starts, so warning
    # filters and the scan are plain SQL comparisons; `basis` is "working" or "wall".
    sign_basis: Mapped[str | None] = mapped_column(String(8))
    sign_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sign_yellow_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sign_orange_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sign_due: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reply_basis: Mapped[str | None] = mapped_column(String(8))
    reply_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reply_yellow_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reply_orange_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reply_due: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return (
            f"<WorkOrder {self.number} {self.kind} {self.status} {self.department or '-'} "
            f"{mask_name(self.citizen_name) or '-'} {mask_phone(self.citizen_phone) or '-'}>"
        )

    def to_dict(self, *, reveal: bool = False, now: datetime | None = None) -> dict[str, Any]:
        """JSON-ready view; contact data masked unless `reveal` (the case handler's view),
        and so are phone and ID numbers the citizen wrote in the request or its summary."""
        text = self.request_text if reveal else mask_numbers(self.request_text)
        summary = self.summary if reveal else mask_numbers(self.summary)
        out: dict[str, Any] = {
            "number": self.number,
            "channel": self.channel,
            "citizen_name": self.citizen_name if reveal else mask_name(self.citizen_name),
            "citizen_phone": self.citizen_phone if reveal else mask_phone(self.citizen_phone),
            "wechat_openid": self.wechat_openid if reveal else mask_openid(self.wechat_openid),
            "request_text": text,
            "summary": summary,
            "kind": self.kind,
            "category": self.category,
            "department": self.department,
            "co_departments": list(self.co_departments or []),
            "level": self.level,
            "district": self.district,
            "address": self.address,
            "priority": self.priority,
            "status": self.status,
            "satisfaction": self.satisfaction,
            "conversation_id": self.conversation_id,
            "merged_into": self.merged_into,
            "redo_count": self.redo_count,
        }
        for name in ("created_at", "dispatched_at", "signed_at", "replied_at", "closed_at"):
            out[name] = _iso(getattr(self, name))
        out["sign_due"], out["reply_due"] = _iso(self.sign_due), _iso(self.reply_due)
        if now is not None:
            from workorders.sla import warning_of  # sla imports this module

            out["warning"] = warning_of(self, now)
        return out


class WorkOrderEvent(Base):
    """The timeline: append-only (database triggers refuse UPDATE and DELETE)."""

    __tablename__ = "work_order_events"
    __table_args__ = (
        UniqueConstraint("order_id", "seq", name="uq_work_order_events_seq"),
        Index("ix_work_order_events_action_at", "action", "at"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"))
    seq: Mapped[int] = mapped_column(Integer)  # 1, 2, … per order
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(120))
    actor_role: Mapped[str] = mapped_column(String(8))
    action: Mapped[str] = mapped_column(String(16))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    def __repr__(self) -> str:
        return (
            f"<WorkOrderEvent #{self.seq} {self.action} {self.from_status or ''}→"
            f"{self.to_status or ''} by {self.actor}>"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": _iso(self.at),
            "actor": self.actor,
            "actor_role": self.actor_role,
            "action": self.action,
            "from_status": self.from_status,
            "to_status": self.to_status,
            "note": self.note,
            "data": dict(self.data or {}),
        }


class WorkOrderLink(Base):
    """Related orders: `repeat` (same issue raised again) or `merged` (归并 into related)."""

    __tablename__ = "work_order_links"
    __table_args__ = (
        UniqueConstraint("order_id", "related_id", "kind", name="uq_work_order_links"),
        Index("ix_work_order_links_related", "related_id"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"))
    related_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"))
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(120))


class WorkOrderReminder(Base):
    """Ledger of SLA reminders: the unique key makes each (clock instance, level) fire once.

    `due_at` identifies the clock instance: a new dispatch, an approved 延期 or a 重办 starts a
    new one, which may warn again.
    """

    __tablename__ = "work_order_reminders"
    __table_args__ = (
        UniqueConstraint("order_id", "clock", "level", "due_at", name="uq_work_order_reminders"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"))
    clock: Mapped[str] = mapped_column(String(8))  # sign / reply
    level: Mapped[str] = mapped_column(String(8))  # yellow / orange / red
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class WorkOrderCounter(Base):
    """One row per local day: the last sequence number handed out (numbering.py)."""

    __tablename__ = "work_order_counters"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)  # 20261122
    value: Mapped[int] = mapped_column(Integer)


# ---------------------------------------------------------------------------------------------
# Transaction primitives


@contextmanager
def write_session(url: str) -> Iterator[Session]:
    """A session whose transaction holds the write lock from its first statement.

    On SQLite a plain (deferred) transaction that reads and then writes can interleave with
    another writer, and the later upgrade fails with "database is locked"; BEGIN IMMEDIATE takes
    the database's single write lock up front, so writers queue (busy_timeout) instead of
    racing. On PostgreSQL callers lock the rows they change (SELECT … FOR UPDATE).
    """
    with session_scope(url) as session:
        if session.get_bind().dialect.name == "sqlite":
            session.connection().exec_driver_sql("BEGIN IMMEDIATE")
        yield session


def lock_order(session: Session, **where: Any) -> WorkOrder | None:
    """Load one order with a row lock (FOR UPDATE; SQLite's IMMEDIATE lock covers it)."""
    stmt = select(WorkOrder).filter_by(**where).with_for_update()
    return session.execute(stmt).scalar_one_or_none()


def append_event(
    session: Session,
    order: WorkOrder,
    *,
    at: datetime,
    actor: str,
    actor_role: str,
    action: str,
    from_status: str | None,
    to_status: str | None,
    note: str | None = None,
    data: dict[str, Any] | None = None,
) -> WorkOrderEvent:
    """Add the next timeline entry. Call with the order's row locked: seq = max + 1."""
    last = session.execute(
        select(func.max(WorkOrderEvent.seq)).where(WorkOrderEvent.order_id == order.id)
    ).scalar()
    event = WorkOrderEvent(
        order_id=order.id,
        seq=(last or 0) + 1,
        at=at,
        actor=actor,
        actor_role=actor_role,
        action=action,
        from_status=from_status,
        to_status=to_status,
        note=note,
        data=data or {},
    )
    session.add(event)
    session.flush()
    return event


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
