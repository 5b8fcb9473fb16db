"""The queue of conversations waiting for a person, and their takeover by operators.

Every change is one conditional UPDATE, so two operators accepting the same conversation (on
one process or on several replicas) cannot both win: the second finds it no longer pending.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError

from handoffs.model import ACTIVE, CLOSED, PENDING, Handoff
from hotline.db import session_scope
from workorders.model import mask_text


class NotFound(Exception):
    """No handoff with this id."""


class Conflict(Exception):
    """The handoff is not in a state that allows this (taken by another operator, closed)."""


@dataclass(frozen=True)
class Place:
    """Where a pending handoff stands: 1 = next to be taken."""

    position: int
    expected_wait_minutes: int


def _now() -> datetime:
    return datetime.now(UTC)


def enqueue(
    url: str,
    conversation: str,
    channel: str,
    reason: str,
    summary: dict[str, Any],
    draft: dict[str, Any] | None = None,
) -> tuple[Handoff, bool]:
    """Put a conversation in the queue; returns the handoff and whether it is new. A
    conversation already waiting or with an operator keeps its handoff (and its place).
    `draft`: what the bot collected for a work order (contact data whole)."""
    if (found := open_for(url, conversation)) is not None:
        return found, False
    item = Handoff(conversation_id=conversation, channel=channel, reason=reason, status=PENDING,
                   summary=summary, draft=draft, created_at=_now())  # fmt: skip
    try:
        with session_scope(url) as session:
            session.add(item)
    except IntegrityError:  # a concurrent request of the same conversation won the race
        if (found := open_for(url, conversation)) is not None:
            return found, False
        raise
    return item, True


def get(url: str, handoff_id: int) -> Handoff:
    with session_scope(url) as session:
        item = session.get(Handoff, handoff_id)
    if item is None:
        raise NotFound(f"no handoff {handoff_id}")
    return item


def open_for(url: str, conversation: str) -> Handoff | None:
    """The conversation's pending or active handoff, if any."""
    with session_scope(url) as session:
        stmt = select(Handoff).where(
            Handoff.conversation_id == conversation, Handoff.status.in_((PENDING, ACTIVE))
        )
        return session.scalars(stmt).first()


def latest_for(url: str, conversation: str) -> Handoff | None:
    """The conversation's most recent handoff, whatever its state (a call's, for the PBX)."""
    with session_scope(url) as session:
        stmt = select(Handoff).where(Handoff.conversation_id == conversation)
        return session.scalars(stmt.order_by(Handoff.id.desc()).limit(1)).first()


def listed(url: str, status: str, operator: str | None = None, limit: int = 200) -> list[Handoff]:
    """Handoffs of one status, oldest first (closed: newest first)."""
    with session_scope(url) as session:
        stmt = select(Handoff).where(Handoff.status == status)
        if operator:
            stmt = stmt.where(Handoff.operator == operator)
        order = Handoff.id.desc() if status == CLOSED else Handoff.id
        return list(session.scalars(stmt.order_by(order).limit(limit)))


def _change(url: str, handoff_id: int, when: tuple[str, ...], owner: str | None,
            **values: Any) -> Handoff:  # fmt: skip
    """Apply `values` if the handoff is in one of the states `when` (and, given an owner, is
    that operator's); Conflict otherwise."""
    with session_scope(url) as session:
        stmt = update(Handoff).where(Handoff.id == handoff_id, Handoff.status.in_(when))
        if owner is not None:
            stmt = stmt.where(Handoff.operator == owner)
        changed = session.execute(stmt.values(**values)).rowcount  # type: ignore[attr-defined]
    if changed == 1:
        return get(url, handoff_id)
    current = get(url, handoff_id)  # NotFound when there is none
    who = f" (operator {current.operator})" if current.operator else ""
    raise Conflict(f"handoff {handoff_id} is {current.status}{who}")


def accept(url: str, handoff_id: int, operator: str) -> Handoff:
    """Take a waiting conversation (接入); exactly one of several operators wins."""
    return _change(url, handoff_id, (PENDING,), None, status=ACTIVE, operator=operator,
                   accepted_at=_now())  # fmt: skip


def release(url: str, handoff_id: int, operator: str | None) -> Handoff:
    """Give the conversation back to the bot (转回智能客服). `operator` None: any (admins)."""
    return _change(url, handoff_id, (ACTIVE,), operator, status=CLOSED, closed_at=_now(),
                   outcome="released")  # fmt: skip


def close(url: str, handoff_id: int, operator: str | None) -> Handoff:
    """End the conversation's handoff: a pending one (not taken), or the operator's own."""
    states = (PENDING, ACTIVE) if operator is None else (ACTIVE,)
    return _change(url, handoff_id, states, operator, status=CLOSED, closed_at=_now(),
                   outcome="closed")  # fmt: skip


def cancel(url: str, handoff_id: int) -> Handoff:
    """The citizen stops waiting (取消排队) before an operator took it."""
    return _change(url, handoff_id, (PENDING,), None, status=CLOSED, closed_at=_now(),
                   outcome="cancelled")  # fmt: skip


def note_order(url: str, handoff_id: int, number: str) -> Handoff:
    """Record the work order made from the conversation in its summary (the queue shows it)."""
    with session_scope(url) as session:
        item = session.get(Handoff, handoff_id)
        if item is None:
            raise NotFound(f"no handoff {handoff_id}")
        item.summary = {**item.summary, "order_number": number}
    return item


def place(url: str, item: Handoff, operators: int, minutes_per_citizen: float) -> Place | None:
    """The pending handoff's place in the queue and a rough expected wait: the citizens ahead
    (and this one) shared among the available operators, each taking `minutes_per_citizen`."""
    if item.status != PENDING:
        return None
    with session_scope(url) as session:
        ahead = session.scalar(
            select(func.count()).where(Handoff.status == PENDING, Handoff.id <= item.id)
        )
    position = int(ahead or 1)
    wait = position * minutes_per_citizen / max(operators, 1)
    return Place(position, max(1, round(wait)))


def waiting_seconds(item: Handoff, now: datetime | None = None) -> int:
    """How long the citizen waited: until accepted, or until now while pending."""
    end = item.accepted_at or item.closed_at if item.status != PENDING else None
    return max(0, int(((end or now or _now()) - item.created_at).total_seconds()))


def pending_of_channel(url: str, channel: str) -> list[Handoff]:
    """The waiting conversations of one channel, oldest first."""
    with session_scope(url) as session:
        stmt = select(Handoff).where(Handoff.status == PENDING, Handoff.channel == channel)
        return list(session.scalars(stmt.order_by(Handoff.id)))


def mark_told(url: str, handoff_id: int, position: int) -> None:
    """The citizen was told this place in their own turn (it is not sent again)."""
    with session_scope(url) as session:
        session.execute(
            update(Handoff).where(Handoff.id == handoff_id).values(told_position=position,
                                                                    told_at=_now())
        )  # fmt: skip


def claim_notice(url: str, handoff_id: int, position: int, every: timedelta,
                 most: int) -> bool:  # fmt: skip
    """Whether this process should tell the waiting citizen their new place: the place
    changed, the last notice is at least `every` old and fewer than `most` were sent. One
    conditional UPDATE, so two replicas reacting to the same change send it once."""
    now = _now()
    stmt = (
        update(Handoff)
        .where(
            Handoff.id == handoff_id,
            Handoff.status == PENDING,
            or_(Handoff.told_position.is_(None), Handoff.told_position != position),
            or_(Handoff.told_at.is_(None), Handoff.told_at <= now - every),
            Handoff.notices < most,
        )
        .values(told_position=position, told_at=now, notices=Handoff.notices + 1)
    )
    with session_scope(url) as session:
        changed = session.execute(stmt).rowcount  # type: ignore[attr-defined]
    return bool(changed == 1)


def note_undelivered(url: str, handoff_id: int, text: str) -> Handoff:
    """Add a message that could not reach the citizen to the summary the operator reads
    (masked, the last three)."""
    with session_scope(url) as session:
        item = session.get(Handoff, handoff_id)
        if item is None:
            raise NotFound(f"no handoff {handoff_id}")
        kept = [*item.summary.get("undelivered", []), mask_text(text)][-3:]
        line = str(item.summary.get("line", "")).split(" · 未送达：")[0]
        item.summary = {**item.summary, "undelivered": kept,
                        "line": f"{line} · 未送达：{kept[-1][:60]}"}  # fmt: skip
    return item
