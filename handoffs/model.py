"""Tables of the handoff queue and of operators' presence (migration 0009)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hotline.db import Base
from workorders.model import UTCDateTime  # aware UTC times on SQLite and PostgreSQL

PENDING, ACTIVE, CLOSED = "pending", "active", "closed"
STATUSES = (PENDING, ACTIVE, CLOSED)


class Handoff(Base):
    """One request for a person: pending in the queue, active with an operator, then closed."""

    __tablename__ = "handoffs"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
    conversation_id: Mapped[str] = mapped_column(String(160))
    channel: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)  # masked, for the queue
    draft: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # whole, for the work order
    operator: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(16))
    # What a citizen outside the web page (WeChat) was last told about their place (0011).
    told_position: Mapped[int | None] = mapped_column(Integer)
    told_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notices: Mapped[int] = mapped_column(Integer, default=0)

    @property
    def sender(self) -> str:
        """The citizen's id on the channel (conversation ids are `channel:sender`)."""
        return self.conversation_id.split(":", 1)[-1]


class OperatorPresence(Base):
    __tablename__ = "operator_presence"

    operator: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
