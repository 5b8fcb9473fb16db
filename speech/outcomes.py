"""Calls and how they ended (table call_outcomes), for the PBX and for reports.

A row is made when the PBX registers a call (its caller number, before AudioSocket starts) or
when a call ends; `outcome` is NULL while the call is up. The transcript (both sides, call-clock
timings in seconds) is kept here; each bot turn is also in the conversation log.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hotline.db import Base, session_scope
from speech.session import CallOutcome


class CallRecord(Base):
    __tablename__ = "call_outcomes"

    call_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str | None] = mapped_column(String(16))
    caller_number: Mapped[str | None] = mapped_column(String(32))
    outcome: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(32))
    queue: Mapped[str | None] = mapped_column(String(64))
    work_order: Mapped[str | None] = mapped_column(String(20))
    turns: Mapped[int] = mapped_column(Integer, default=0)
    transcript: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    registered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Another speech process follows in the dialplan: a full process hands the call back at once
    pass_on: Mapped[bool | None] = mapped_column(Boolean)

    def public(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "outcome": self.outcome,
            "reason": self.reason,
            "queue": self.queue,
            "work_order": self.work_order,
        }


def register_call(url: str, call_id: str, caller_number: str | None, pass_on: bool = False) -> bool:
    """Remember the caller's number for a call about to start; False if that call has ended.

    ``pass_on``: the dialplan has another speech process to try if this one is full. A call a
    full process passed on (outcome refused, reason "full") may be registered again for the next.
    """
    with session_scope(url) as session:
        row = session.get(CallRecord, call_id)
        if row is None:
            session.add(
                CallRecord(
                    call_id=call_id,
                    caller_number=caller_number,
                    turns=0,
                    registered_at=datetime.now(UTC),
                    pass_on=pass_on,
                )
            )
            return True
        if row.outcome is not None and (row.outcome, row.reason) != ("refused", "full"):
            return False
        row.outcome = row.reason = None
        row.caller_number = caller_number
        row.pass_on = pass_on
        return True


def passes_on(url: str, call_id: str) -> bool:
    """Whether a full process should hand this call back to the dialplan (see register_call)."""
    with session_scope(url) as session:
        row = session.get(CallRecord, call_id)
        return bool(row and row.pass_on)


def registered_caller(url: str, call_id: str) -> str | None:
    with session_scope(url) as session:
        row = session.get(CallRecord, call_id)
        return row.caller_number if row else None


def record_outcome(url: str, outcome: CallOutcome) -> None:
    with session_scope(url) as session:
        row = session.get(CallRecord, outcome.call_id)
        if row is None:
            row = CallRecord(call_id=outcome.call_id)
            session.add(row)
        row.channel = outcome.channel
        row.caller_number = outcome.caller_number or row.caller_number
        row.outcome = outcome.outcome
        row.reason = outcome.reason
        row.queue = outcome.queue
        row.work_order = outcome.work_order
        row.turns = outcome.turns
        row.transcript = outcome.transcript
        row.started_at = outcome.started_at
        row.ended_at = outcome.ended_at


def get_call(url: str, call_id: str) -> CallRecord | None:
    with session_scope(url) as session:
        return session.get(CallRecord, call_id)
