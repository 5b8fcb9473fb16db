"""回访 (satisfaction follow-up) after 办结: when it was started and on which channel, the
citizen's rating (不满意 reopens the order with 重办 to the same department), the operators'
call list, and 未回访 for orders nobody rated in time.

Delivery on the channels is the gateway's (gateway/followups.py); this module only records.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from hotline.db import session_scope
from workorders.inputs import InvalidField, OrderNotFound, canonical_number, one_of, utc
from workorders.model import WorkOrder, WorkOrderEvent, append_event, lock_order, write_session
from workorders.states import (
    FOLLOW_UP,
    SATISFACTION,
    UNSATISFIED,
    Action,
    Actor,
    Role,
    Status,
    WorkOrderError,
)
from workorders.transitions import transition

log = logging.getLogger(__name__)

PHONE = "phone"  # the follow-up channel of orders an operator must call back
SYSTEM = Actor.system("回访")


def channel_of(order: WorkOrder) -> str:
    """Where the 回访 goes: the web chat or WeChat conversation the order came from, else a call."""
    if order.channel == "web" and (order.conversation_id or "").startswith("web:"):
        return "web"
    if order.channel == "wechat" and order.wechat_openid:
        return "wechat"
    return PHONE


def record_start(
    url: str, number: str, channel: str, delivered: bool, now: datetime | None = None
) -> None:
    """The 回访 was sent on `channel` (delivered False: it could not be; an operator calls)."""
    now = utc(now)
    with write_session(url) as s:
        order = lock_order(s, number=canonical_number(number))
        if order is None:
            raise OrderNotFound(number)
        append_event(
            s, order, at=now, actor=SYSTEM.label, actor_role=Role.SYSTEM.value,
            action=FOLLOW_UP, from_status=order.status, to_status=order.status,
            data={"channel": channel, "delivered": delivered},
        )  # fmt: skip


def rate(
    url: str,
    number: str,
    satisfaction: str,
    comment: str | None,
    via: str,
    now: datetime | None = None,
) -> WorkOrder:
    """The citizen's answer: 回访 with the rating and comment; 不满意 also 重办 (reopened to the
    same department, its redo count up by one). IllegalTransition if not awaiting a rating."""
    one_of("satisfaction", satisfaction, SATISFACTION)
    actor = Actor.centre(f"回访·{via}")
    order = transition(url, number, Action.VISIT, actor, comment, now=now,
                       satisfaction=satisfaction)  # fmt: skip
    if satisfaction == UNSATISFIED:
        reason = "市民回访不满意，重新办理" + (f"：{comment}" if comment else "")
        order = transition(url, number, Action.REDO, actor, reason[:2000], now=now)
    return order


def awaiting(url: str, conversation_id: str) -> WorkOrder | None:
    """The newest order of this conversation whose 回访 is open (已办结), if any."""
    with session_scope(url) as s:
        return s.scalars(
            select(WorkOrder)
            .where(
                WorkOrder.conversation_id == conversation_id,
                WorkOrder.status == Status.CLOSED.value,
            )
            .order_by(WorkOrder.closed_at.desc(), WorkOrder.id.desc())
            .limit(1)
        ).first()


@dataclass(frozen=True)
class CallItem:
    order: WorkOrder
    started_at: datetime | None  # when the 回访 was started (None: before this feature)
    reason: str  # 电话渠道 / 微信未送达 …


def call_list(url: str, limit: int = 200) -> list[CallItem]:
    """已办结 orders an operator must call: phone citizens and those the message missed."""
    with session_scope(url) as s:
        orders = list(
            s.scalars(
                select(WorkOrder)
                .where(WorkOrder.status == Status.CLOSED.value)
                .order_by(WorkOrder.closed_at, WorkOrder.id)
                .limit(limit * 2)
            )
        )
        starts: dict[int, WorkOrderEvent] = {}
        if orders:
            rows = s.scalars(
                select(WorkOrderEvent)
                .where(
                    WorkOrderEvent.order_id.in_([o.id for o in orders]),
                    WorkOrderEvent.action == FOLLOW_UP,
                )
                .order_by(WorkOrderEvent.seq)
            )
            starts = {e.order_id: e for e in rows}
    out = []
    for order in orders:
        start = starts.get(order.id)
        data = start.data if start else {}
        if data.get("channel", channel_of(order)) == PHONE:
            out.append(CallItem(order, start.at if start else None, "电话回访"))
        elif start is not None and not data.get("delivered"):
            out.append(CallItem(order, start.at, "消息未送达，请电话回访"))
    return out[:limit]


def expire(url: str, after: timedelta, now: datetime | None = None) -> list[str]:
    """Close as 未回访 the orders 办结 more than `after` ago that nobody rated."""
    now = utc(now)
    with session_scope(url) as s:
        numbers = list(
            s.scalars(
                select(WorkOrder.number).where(
                    WorkOrder.status == Status.CLOSED.value,
                    WorkOrder.closed_at <= now - after,
                )
            )
        )
    closed = []
    for number in numbers:
        try:
            transition(url, number, Action.NOT_VISITED, SYSTEM, now=now)
        except WorkOrderError:  # rated (or changed) meanwhile: nothing to do
            continue
        closed.append(number)
    if closed:
        log.info("回访: %d orders closed as 未回访", len(closed))
    return closed


def parse_rating(text: str) -> tuple[str, str | None] | None:
    """满意 / 基本满意 / 不满意 at the start of a reply, and the rest as the comment."""
    stripped = text.strip()
    for choice in sorted(SATISFACTION, key=len, reverse=True):  # 不满意 before 满意
        if stripped.startswith(choice):
            rest = stripped[len(choice) :].lstrip("，,。.：: \n")
            return choice, rest or None
    return None


__all__ = ["InvalidField", "awaiting", "call_list", "expire", "parse_rating", "rate"]
