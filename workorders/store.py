"""The work-order store: what a new order may hold (Draft, validation), its creation, and reads.

`create` commits the order and its first event before returning: a number given to a citizen is
always durable. Changes go through `transition` (workorders/transitions.py), lists and counts
through an `OrderFilter` (workorders/queries.py), retries through an idempotency key
(workorders/idempotency.py); their names are importable from here as well.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from hotline.db import session_scope
from hotline.numbers import InvalidPhone, canonical_phone
from workorders import sla
from workorders.config import KINDS, PRIORITIES, WorkOrderConfig, default_config
from workorders.idempotency import (
    IdempotencyConflict,
    checked_key,
    idempotency_key,
    order_with_key,
    same_request,
)
from workorders.inputs import (
    InvalidField,
    OrderNotFound,
    canonical_number,
    iso,
    one_of,
    text_field,
    utc,
)
from workorders.model import (
    WorkOrder,
    WorkOrderEvent,
    WorkOrderLink,
    append_event,
    write_session,
)
from workorders.numbering import next_number
from workorders.queries import MAX_PAGE, OrderFilter, count_orders, list_orders
from workorders.states import CREATED, Actor, Status, WorkOrderError
from workorders.transitions import link, transition

__all__ = [
    "MAX_PAGE",
    "Draft",
    "IdempotencyConflict",
    "InvalidField",
    "OrderFilter",
    "OrderNotFound",
    "WorkOrderError",
    "count_orders",
    "create",
    "get",
    "get_or_create",
    "idempotency_key",
    "link",
    "list_orders",
    "normalise_phone",
    "related",
    "summarise",
    "timeline",
    "transition",
    "validate_draft",
]

log = logging.getLogger(__name__)


class Draft(BaseModel):
    """What a channel or an operator knows when a work order is created."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    channel: str
    request_text: str  # in the citizen's own words
    kind: str  # 咨询/求助/投诉/举报/建议/表扬
    summary: str | None = None  # one line; derived from request_text when absent
    citizen_name: str | None = None
    citizen_phone: str | None = None
    wechat_openid: str | None = None
    category: str | None = None
    department: str | None = None  # proposed unit (e.g. from the router); 派单 decides
    district: str | None = None
    address: str | None = None
    priority: str = "normal"
    conversation_id: str | None = None


# ---------------------------------------------------------------------------------------------
# Validation


_OPENID = re.compile(r"[A-Za-z0-9_-]{6,64}", re.ASCII)


def normalise_phone(raw: str) -> str:
    """hotline.numbers.canonical_phone, refusing with InvalidField like every other field.
    actions/ import it too (to switch to hotline.numbers)."""
    try:
        return canonical_phone(raw)
    except InvalidPhone as exc:
        raise InvalidField("citizen_phone", exc.zh, exc.en) from None


def summarise(text: str, limit: int) -> str:
    """A one-line summary: the first line, cut at `limit` characters."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def validate_draft(draft: Draft | Mapping[str, Any], cfg: WorkOrderConfig) -> dict[str, Any]:
    """Column values of a new order, or InvalidField naming the first bad field."""
    if not isinstance(draft, Draft):
        try:
            draft = Draft.model_validate(dict(draft))
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"]) or "draft"
            raise InvalidField(field, "格式不正确", err["msg"]) from None
    lim = cfg.limits
    text = text_field("request_text", draft.request_text, lim.request_text, required=True)
    assert text is not None
    values: dict[str, Any] = {
        "channel": one_of("channel", draft.channel, cfg.channels),
        "request_text": text,
        "kind": one_of("kind", draft.kind, KINDS),
        "summary": text_field("summary", draft.summary, lim.summary)
        or summarise(text, lim.summary),
        "citizen_name": text_field("citizen_name", draft.citizen_name, lim.citizen_name),
        "citizen_phone": normalise_phone(draft.citizen_phone) if draft.citizen_phone else None,
        "wechat_openid": _openid(draft.wechat_openid),
        "category": one_of("category", draft.category or None, cfg.category_by_name),
        "department": one_of("department", draft.department or None, cfg.all_departments),
        "district": one_of("district", draft.district or None, cfg.districts),
        "address": text_field("address", draft.address, lim.address),
        "priority": one_of("priority", draft.priority, PRIORITIES),
        "conversation_id": text_field("conversation_id", draft.conversation_id, 160),
    }
    if values["department"]:
        values["level"] = cfg.level_of(values["department"])
    return values


def _openid(value: str | None) -> str | None:
    if value and not _OPENID.fullmatch(value):
        raise InvalidField("wechat_openid", "格式不正确", "not a WeChat openid")
    return value or None


# ---------------------------------------------------------------------------------------------
# Create and read


def create(
    url: str,
    draft: Draft | Mapping[str, Any],
    idempotency_key: str | None = None,
    *,
    actor: Actor | None = None,
    now: datetime | None = None,
    config: WorkOrderConfig | None = None,
    routing: Mapping[str, Any] | None = None,
) -> WorkOrder:
    """Store a new order (status 待派单) with its first event and its reply clock.

    A retry with the same `idempotency_key` returns the order the first call made; the same key
    with a different request text raises IdempotencyConflict. `routing` (the router's proposal:
    category, confidence, gate…) is recorded in the first event for the operators.
    """
    order, _ = get_or_create(
        url, draft, idempotency_key, actor=actor, now=now, config=config, routing=routing
    )
    return order


def get_or_create(
    url: str,
    draft: Draft | Mapping[str, Any],
    idempotency_key: str | None = None,
    *,
    actor: Actor | None = None,
    now: datetime | None = None,
    config: WorkOrderConfig | None = None,
    routing: Mapping[str, Any] | None = None,
) -> tuple[WorkOrder, bool]:
    """`create`, also saying whether this call stored the order (False: a retry of its key),
    so that what follows a creation (dispatch, repeat links) happens once."""
    cfg = config or default_config()
    now = utc(now)
    values = validate_draft(draft, cfg)
    key = checked_key(idempotency_key)
    actor = actor or Actor.citizen(values["channel"])
    try:
        order, created = _insert(url, values, key, actor, now, cfg, routing)
    except IntegrityError:
        # PostgreSQL: a concurrent create with the same key committed first.
        existing = order_with_key(url, key) if key else None
        if existing is None:
            raise
        return same_request(existing, values["request_text"]), False
    if created:
        log.info("work order created %r", order)
    return order, created


def _insert(
    url: str,
    values: dict[str, Any],
    key: str | None,
    actor: Actor,
    now: datetime,
    cfg: WorkOrderConfig,
    routing: Mapping[str, Any] | None,
) -> tuple[WorkOrder, bool]:
    with write_session(url) as s:
        if key and (
            existing := s.scalars(select(WorkOrder).filter_by(idempotency_key=key)).first()
        ):
            return same_request(existing, values["request_text"]), False
        order = WorkOrder(
            number=next_number(s, now.astimezone(cfg.tz).date()),
            idempotency_key=key,
            status=Status.PENDING.value,
            created_at=now,
            updated_at=now,
            co_departments=[],
            redo_count=0,
            **values,
        )
        clock = sla.reply_clock(cfg, now, order.kind, order.priority, order.category)
        sla.set_clock(order, "reply", clock)
        s.add(order)
        s.flush()
        data: dict[str, Any] = {
            "channel": order.channel, "kind": order.kind, "reply_due": iso(clock.due),
        }  # fmt: skip
        if routing:
            data["routing"] = dict(routing)
        append_event(
            s,
            order,
            at=now,
            actor=actor.label,
            actor_role=actor.role.value,
            action=CREATED,
            from_status=None,
            to_status=order.status,
            data=data,
        )
    return order, True


def get(url: str, number: str) -> WorkOrder:
    """The order with this number (as typed or read aloud: see numbering.parse_number)."""
    canonical = canonical_number(number)
    with session_scope(url) as s:
        order = s.scalars(select(WorkOrder).filter_by(number=canonical)).first()
    if order is None:
        raise OrderNotFound(canonical)
    return order


def timeline(url: str, number: str) -> list[WorkOrderEvent]:
    """The order's events in order (seq 1 = 受理)."""
    canonical = canonical_number(number)
    with session_scope(url) as s:
        order_id = s.scalar(select(WorkOrder.id).filter_by(number=canonical))
        if order_id is None:
            raise OrderNotFound(canonical)
        stmt = select(WorkOrderEvent).filter_by(order_id=order_id).order_by(WorkOrderEvent.seq)
        return list(s.scalars(stmt))


def related(url: str, number: str) -> list[dict[str, str]]:
    """Linked orders in both directions: [{"number", "kind", "direction": "to"|"from"}]."""
    order = get(url, number)
    with session_scope(url) as s:
        rows = s.execute(
            select(WorkOrderLink.kind, WorkOrderLink.order_id, WorkOrder.number)
            .join(
                WorkOrder,
                or_(
                    (WorkOrderLink.order_id == order.id)
                    & (WorkOrder.id == WorkOrderLink.related_id),
                    (WorkOrderLink.related_id == order.id)
                    & (WorkOrder.id == WorkOrderLink.order_id),
                ),
            )
            .order_by(WorkOrderLink.id)
        ).all()
    return [
        {"number": num, "kind": kind, "direction": "to" if src == order.id else "from"}
        for kind, src, num in rows
    ]
