"""The work-order store: create, read, list, and the one `transition` every change goes through.

Every write is one transaction that holds the order's row lock (PostgreSQL FOR UPDATE; SQLite
BEGIN IMMEDIATE) and writes the new state together with its timeline event, so a failure leaves
nothing half-done and two concurrent actions on one order are applied one after the other.
`create` commits the order and its first event before returning: a number given to a citizen is
always durable.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hotline.db import session_scope
from hotline.numbers import InvalidPhone, canonical_phone
from workorders import sla
from workorders.config import KINDS, PRIORITIES, WorkOrderConfig, default_config
from workorders.model import (
    WorkOrder,
    WorkOrderEvent,
    WorkOrderLink,
    append_event,
    lock_order,
    mask_text,
    write_session,
)
from workorders.numbering import next_number, parse_number
from workorders.states import (
    CREATED,
    LINKED,
    MERGED_IN,
    SATISFACTION,
    UNSATISFIED,
    Action,
    Actor,
    IllegalTransition,
    Rule,
    Status,
    WorkOrderError,
    check_actor,
    parse_action,
    rule_for,
)

log = logging.getLogger(__name__)

MAX_PAGE = 500


class InvalidField(WorkOrderError, ValueError):
    """Input refused before anything was stored; `field` names the culprit."""

    def __init__(self, field: str, zh: str, en: str) -> None:
        self.field = field
        super().__init__(f"{field}: {zh} / {en}")


class OrderNotFound(WorkOrderError, LookupError):
    def __init__(self, number: str) -> None:
        self.number = number
        super().__init__(f"工单 {number} 不存在 / no work order {number}")


class IdempotencyConflict(WorkOrderError, ValueError):
    """The idempotency key was already used for a different request."""


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


def _text(field: str, value: str | None, limit: int, required: bool = False) -> str | None:
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


def _one_of(field: str, value: str | None, allowed: Iterable[str]) -> str | None:
    allowed = list(allowed)
    if value is not None and value not in allowed:
        raise InvalidField(
            field, f"「{value}」不在可选范围内", f"{value!r} is not one of {allowed}"
        )
    return value


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
    text = _text("request_text", draft.request_text, lim.request_text, required=True)
    assert text is not None
    values: dict[str, Any] = {
        "channel": _one_of("channel", draft.channel, cfg.channels),
        "request_text": text,
        "kind": _one_of("kind", draft.kind, KINDS),
        "summary": _text("summary", draft.summary, lim.summary) or summarise(text, lim.summary),
        "citizen_name": _text("citizen_name", draft.citizen_name, lim.citizen_name),
        "citizen_phone": normalise_phone(draft.citizen_phone) if draft.citizen_phone else None,
        "wechat_openid": _openid(draft.wechat_openid),
        "category": _one_of("category", draft.category or None, cfg.category_by_name),
        "department": _one_of("department", draft.department or None, cfg.all_departments),
        "district": _one_of("district", draft.district or None, cfg.districts),
        "address": _text("address", draft.address, lim.address),
        "priority": _one_of("priority", draft.priority, PRIORITIES),
        "conversation_id": _text("conversation_id", draft.conversation_id, 160),
    }
    if values["department"]:
        values["level"] = cfg.level_of(values["department"])
    return values


def _openid(value: str | None) -> str | None:
    if value and not _OPENID.fullmatch(value):
        raise InvalidField("wechat_openid", "格式不正确", "not a WeChat openid")
    return value or None


def _idempotency_key(key: str | None) -> str | None:
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > 128:
        raise InvalidField("idempotency_key", "须为1至128个字符", "must be 1 to 128 characters")
    return key


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
) -> WorkOrder:
    """Store a new order (status 待派单) with its first event and its reply clock.

    A retry with the same `idempotency_key` returns the order the first call made; the same key
    with a different request text raises IdempotencyConflict.
    """
    cfg = config or default_config()
    now = _now(now)
    values = validate_draft(draft, cfg)
    key = _idempotency_key(idempotency_key)
    actor = actor or Actor.citizen(values["channel"])
    try:
        order = _insert(url, values, key, actor, now, cfg)
    except IntegrityError:
        # PostgreSQL: a concurrent create with the same key committed first.
        existing = _by_key(url, key) if key else None
        if existing is None:
            raise
        return _same_request(existing, values)
    log.info("work order created %r", order)
    return order


def _insert(
    url: str,
    values: dict[str, Any],
    key: str | None,
    actor: Actor,
    now: datetime,
    cfg: WorkOrderConfig,
) -> WorkOrder:
    with write_session(url) as s:
        if key and (
            existing := s.scalars(select(WorkOrder).filter_by(idempotency_key=key)).first()
        ):
            return _same_request(existing, values)
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
        append_event(
            s,
            order,
            at=now,
            actor=actor.label,
            actor_role=actor.role.value,
            action=CREATED,
            from_status=None,
            to_status=order.status,
            data={"channel": order.channel, "kind": order.kind, "reply_due": _iso(clock.due)},
        )
    return order


def _by_key(url: str, key: str) -> WorkOrder | None:
    with session_scope(url) as s:
        return s.scalars(select(WorkOrder).filter_by(idempotency_key=key)).first()


def _same_request(existing: WorkOrder, values: dict[str, Any]) -> WorkOrder:
    if existing.request_text != values["request_text"]:
        raise IdempotencyConflict(
            f"幂等键已用于工单 {existing.number} 的另一诉求 / "
            "idempotency key already used for a different request"
        )
    return existing


def get(url: str, number: str) -> WorkOrder:
    """The order with this number (as typed or read aloud: see numbering.parse_number)."""
    canonical = _canonical(number)
    with session_scope(url) as s:
        order = s.scalars(select(WorkOrder).filter_by(number=canonical)).first()
    if order is None:
        raise OrderNotFound(canonical)
    return order


def timeline(url: str, number: str) -> list[WorkOrderEvent]:
    """The order's events in order (seq 1 = 受理)."""
    canonical = _canonical(number)
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


# ---------------------------------------------------------------------------------------------
# Listing


def list_orders(
    url: str,
    *,
    status: str | Iterable[str] | None = None,
    department: str | None = None,
    warning: str | Iterable[str] | None = None,
    created_from: datetime | date | None = None,
    created_to: datetime | date | None = None,
    text: str | None = None,
    category: str | None = None,
    district: str | None = None,
    phone: str | None = None,
    conversation_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
    now: datetime | None = None,
    config: WorkOrderConfig | None = None,
) -> list[WorkOrder]:
    """Orders matching every given filter, newest first.

    `warning` is evaluated at `now` (none/yellow/orange/red); `created_to` is exclusive, and a
    date means the local day (a `created_to` date includes that whole day).
    """
    if not 0 < limit <= MAX_PAGE:
        raise InvalidField("limit", f"须在1至{MAX_PAGE}之间", f"must be 1..{MAX_PAGE}")
    if offset < 0:
        raise InvalidField("offset", "不能为负", "must not be negative")
    conds = _filters(**_filter_args(locals()))
    with session_scope(url) as s:
        stmt = (
            select(WorkOrder)
            .where(*conds)
            .order_by(WorkOrder.created_at.desc(), WorkOrder.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return list(s.scalars(stmt))


def count_orders(
    url: str,
    *,
    status: str | Iterable[str] | None = None,
    department: str | None = None,
    warning: str | Iterable[str] | None = None,
    created_from: datetime | date | None = None,
    created_to: datetime | date | None = None,
    text: str | None = None,
    category: str | None = None,
    district: str | None = None,
    phone: str | None = None,
    conversation_id: str | None = None,
    now: datetime | None = None,
    config: WorkOrderConfig | None = None,
) -> int:
    """How many orders list_orders would page through with the same filters."""
    conds = _filters(**_filter_args(locals()))
    with session_scope(url) as s:
        return s.scalar(select(func.count()).select_from(WorkOrder).where(*conds)) or 0


def _filter_args(args: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in args.items() if k not in ("url", "limit", "offset")}


def _filters(
    *,
    status: str | Iterable[str] | None,
    department: str | None,
    warning: str | Iterable[str] | None,
    created_from: datetime | date | None,
    created_to: datetime | date | None,
    text: str | None,
    category: str | None,
    district: str | None,
    phone: str | None,
    now: datetime | None,
    config: WorkOrderConfig | None,
    conversation_id: str | None = None,
) -> list[ColumnElement[bool]]:
    cfg = config or default_config()
    conds: list[ColumnElement[bool]] = []
    if status is not None:
        wanted = _as_list(status)
        for value in wanted:
            _one_of("status", value, [s.value for s in Status])
        conds.append(WorkOrder.status.in_(wanted))
    if warning is not None:
        levels = [_one_of("warning", w, sla.LEVELS) for w in _as_list(warning)]
        at = _now(now)
        conds.append(or_(*(sla.warning_condition(w, at) for w in levels)))  # type: ignore[arg-type]
    for column, value in (
        (WorkOrder.department, department),
        (WorkOrder.category, category),
        (WorkOrder.district, district),
        (WorkOrder.conversation_id, conversation_id),
    ):
        if value:
            conds.append(column == value)
    if phone:
        conds.append(WorkOrder.citizen_phone == normalise_phone(phone))
    if created_from is not None:
        conds.append(WorkOrder.created_at >= _instant(created_from, cfg, end=False))
    if created_to is not None:
        conds.append(WorkOrder.created_at < _instant(created_to, cfg, end=True))
    if text and text.strip():
        pattern = "%" + re.sub(r"([\\%_])", r"\\\1", text.strip()) + "%"
        conds.append(
            or_(
                *(
                    col.like(pattern, escape="\\")
                    for col in (
                        WorkOrder.request_text,
                        WorkOrder.summary,
                        WorkOrder.address,
                        WorkOrder.number,
                    )
                )
            )
        )
    return conds


def _as_list(value: str | Iterable[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _instant(value: datetime | date, cfg: WorkOrderConfig, *, end: bool) -> datetime:
    if isinstance(value, datetime):
        return _now(value)
    day = value + timedelta(days=1) if end else value
    return datetime.combine(day, time.min, cfg.tz)


# ---------------------------------------------------------------------------------------------
# Transitions


# Inputs each action accepts besides `note` (a typo in a key is refused, not ignored).
_ACCEPTS: dict[Action, frozenset[str]] = {
    Action.DISPATCH: frozenset(
        {"department", "co_departments", "category", "district", "priority"}
    ),
    Action.REQUEST_EXTENSION: frozenset({"days"}),
    Action.APPROVE_EXTENSION: frozenset({"days", "until"}),
    Action.VISIT: frozenset({"satisfaction"}),
    Action.MERGE: frozenset({"into"}),
}


def transition(
    url: str,
    number: str,
    action: Action | str,
    actor: Actor,
    note: str | None = None,
    *,
    now: datetime | None = None,
    config: WorkOrderConfig | None = None,
    **data: Any,
) -> WorkOrder:
    """Apply one action to an order: legality, permission, effects and event in one transaction.

    Raises IllegalTransition (not allowed in the current state), NotPermitted (wrong actor or
    department), InvalidField (missing or bad input) or OrderNotFound; nothing is changed then.
    Action inputs: 派单 department/co_departments/category/district/priority; 申请延期 days;
    批准延期 days or until; 回访 satisfaction; 归并 into. 退单, 反馈, 重办 need a note.
    """
    cfg = config or default_config()
    now = _now(now)
    act = parse_action(action)
    canonical = _canonical(number)
    note = _text("note", note, cfg.limits.note)
    unknown = set(data) - _ACCEPTS.get(act, frozenset())
    if unknown:
        raise InvalidField(
            sorted(unknown)[0], f"「{act}」不接受此参数", f"not an input of {act.name.lower()}"
        )
    with write_session(url) as s:
        order, target = _lock(s, canonical, act, data)
        before = Status(order.status)
        rule = rule_for(before, act)
        check_actor(rule, act, actor, order.department)
        _require(rule, note, data)
        event_data = _EFFECTS.get(act, _no_effect)(_Ctx(s, order, note, data, now, cfg, target))
        order.status = rule.to.value
        order.updated_at = now
        append_event(
            s,
            order,
            at=now,
            actor=actor.label,
            actor_role=actor.role.value,
            action=act.value,
            from_status=before.value,
            to_status=order.status,
            note=note,
            data=event_data,
        )
        if act is Action.MERGE and target is not None:
            _record_merge(s, order, target, actor, now)
    log.info("work order %s %s → %s by %s", order.number, act, order.status, actor.label)
    return order


def link(
    url: str,
    number: str,
    related_number: str,
    actor: Actor,
    *,
    kind: str = "repeat",
    note: str | None = None,
    now: datetime | None = None,
) -> bool:
    """Record that `related_number` is about the same issue (重复件); False if already linked."""
    now = _now(now)
    _one_of("kind", kind, ("repeat",))
    a, b = _canonical(number), _canonical(related_number)
    if a == b:
        raise InvalidField("related", "不能关联自身", "an order cannot be linked to itself")
    with write_session(url) as s:
        order = lock_order(s, number=a)
        other = s.scalars(select(WorkOrder).filter_by(number=b)).first()
        if order is None or other is None:
            raise OrderNotFound(a if order is None else b)
        exists = s.scalars(
            select(WorkOrderLink).filter_by(order_id=order.id, related_id=other.id, kind=kind)
        ).first()
        if exists:
            return False
        s.add(
            WorkOrderLink(
                order_id=order.id, related_id=other.id, kind=kind, created_at=now, actor=actor.label
            )
        )
        append_event(
            s,
            order,
            at=now,
            actor=actor.label,
            actor_role=actor.role.value,
            action=LINKED,
            from_status=order.status,
            to_status=order.status,
            note=note,
            data={"related": other.number, "kind": kind},
        )
    return True


def _lock(
    s: Session, number: str, act: Action, data: dict[str, Any]
) -> tuple[WorkOrder, WorkOrder | None]:
    """Lock the order (and a merge target) — two orders in id order, so merges never deadlock."""
    if act is not Action.MERGE or not data.get("into"):
        order = lock_order(s, number=number)
        if order is None:
            raise OrderNotFound(number)
        return order, None
    into = _canonical(str(data["into"]))
    rows = s.execute(
        select(WorkOrder.number, WorkOrder.id).where(WorkOrder.number.in_([number, into]))
    )
    ids: dict[str, int] = {num: id_ for num, id_ in rows}
    for missing in (number, into):
        if missing not in ids:
            raise OrderNotFound(missing)
    if into == number:
        raise InvalidField("into", "不能归并到自身", "an order cannot be merged into itself")
    locked = {o.id: o for o in (lock_order(s, id=i) for i in sorted(set(ids.values()))) if o}
    return locked[ids[number]], locked[ids[into]]


def _require(rule: Rule, note: str | None, data: dict[str, Any]) -> None:
    for need in rule.needs:
        present = note if need == "note" else data.get(need)
        if present in (None, "", []):
            zh = {"note": "请填写原因或答复内容", "satisfaction": "请选择满意度"}.get(need, "必填")
            raise InvalidField(need, zh, "is required for this action")


@dataclass
class _Ctx:
    """What an effect sees: the locked order and the action's inputs."""

    s: Session
    order: WorkOrder
    note: str | None
    data: dict[str, Any]
    now: datetime
    cfg: WorkOrderConfig
    target: WorkOrder | None  # 归并 only


def _no_effect(c: _Ctx) -> dict[str, Any]:
    return {}


def _dispatch(c: _Ctx) -> dict[str, Any]:
    o, cfg, data = c.order, c.cfg, c.data
    category = _one_of("category", data.get("category") or o.category, cfg.category_by_name)
    if category is None:
        raise InvalidField("category", "派单前须确定工单类型", "a category is needed to dispatch")
    district = _one_of("district", data.get("district") or o.district, cfg.districts)
    proposed = data.get("department") or o.department
    department = _one_of(
        "department",
        proposed or cfg.default_department(category, district),
        cfg.all_departments,
    )
    co = [_one_of("co_departments", d, cfg.all_departments) for d in data.get("co_departments", [])]
    priority = _one_of("priority", data.get("priority") or o.priority, PRIORITIES)
    assert department is not None and priority is not None
    o.category, o.district, o.priority = category, district, priority
    o.department, o.level = department, cfg.level_of(department)
    o.co_departments = [d for d in co if d and d != department]
    o.dispatched_at = c.now
    sla.set_clock(o, "sign", sla.sign_clock(cfg, c.now, priority))
    # The reply clock keeps its start (creation or 重办) but its length may change now that
    # category and priority are settled. No 延期 can be lost: one is only approved in 办理中,
    # and from there the order reaches 派单 again only through 重办, which restarts the clock.
    assert o.reply_started_at is not None
    sla.set_clock(o, "reply", sla.reply_clock(cfg, o.reply_started_at, o.kind, priority, category))
    return {
        "department": department,
        "co_departments": o.co_departments,
        "level": o.level,
        "category": category,
        "sign_due": _iso(o.sign_due),
        "reply_due": _iso(o.reply_due),
    }


def _sign(c: _Ctx) -> dict[str, Any]:
    c.order.signed_at = c.now
    return {"on_time": bool(c.order.sign_due and c.now <= c.order.sign_due)}


def _feedback(c: _Ctx) -> dict[str, Any]:
    c.order.replied_at = c.now
    return {"on_time": bool(c.order.reply_due and c.now <= c.order.reply_due)}


def _return(c: _Ctx) -> dict[str, Any]:
    """退单: the unit gives the order back; the centre must choose again (no silent re-send)."""
    o = c.order
    returned_from = o.department
    o.department, o.level, o.co_departments, o.signed_at = None, None, [], None
    sla.set_clock(o, "sign", None)
    return {"returned_from": returned_from}


def _request_extension(c: _Ctx) -> dict[str, Any]:
    days = _extension_days(c.data["days"], c.cfg)
    return {"days": days, "reply_due": _iso(c.order.reply_due)}


def _approve_extension(c: _Ctx) -> dict[str, Any]:
    """Move reply_due: to `until`, by the `days` given now, else by the days asked for."""
    o, cal = c.order, c.cfg.work_calendar
    old, start = o.reply_due, o.reply_started_at
    assert old is not None and start is not None
    if c.data.get("until") is not None:
        new = _until(c.data["until"])
    else:
        days = c.data.get("days") or _requested_days(c.s, o)
        new = cal.add_working_time(old, days=_extension_days(days, c.cfg))
    if new <= old:
        raise InvalidField("until", "新时限须晚于原时限", "the new deadline must be later")
    basis = "wall" if o.reply_basis == "wall" else "working"
    sla.set_clock(o, "reply", sla.clock_until(cal, start, new, basis, c.cfg.warnings))
    return {"old_reply_due": _iso(old), "reply_due": _iso(new)}


def _close(c: _Ctx) -> dict[str, Any]:
    c.order.closed_at = c.now
    return {"direct": c.order.dispatched_at is None}


def _visit(c: _Ctx) -> dict[str, Any]:
    c.order.satisfaction = _one_of("satisfaction", c.data["satisfaction"], SATISFACTION)
    c.order.visited_at = c.now
    return {"satisfaction": c.order.satisfaction}


def _redo(c: _Ctx) -> dict[str, Any]:
    """重办 → 已派单 to the same unit, both clocks restarted (see states.py for why)."""
    o, cfg, now = c.order, c.cfg, c.now
    if o.satisfaction != UNSATISFIED:
        raise IllegalTransition(o.status, Action.REDO, "仅回访不满意的工单可以重办")
    o.redo_count += 1
    o.satisfaction = None
    o.signed_at = o.replied_at = o.closed_at = o.visited_at = None
    o.dispatched_at = now
    sla.set_clock(o, "sign", sla.sign_clock(cfg, now, o.priority))
    sla.set_clock(o, "reply", sla.reply_clock(cfg, now, o.kind, o.priority, o.category))
    return {
        "previous_satisfaction": UNSATISFIED,
        "redo_count": o.redo_count,
        "department": o.department,
        "sign_due": _iso(o.sign_due),
        "reply_due": _iso(o.reply_due),
    }


def _merge(c: _Ctx) -> dict[str, Any]:
    target = c.target
    assert target is not None
    if target.status == Status.MERGED:
        raise InvalidField("into", f"工单 {target.number} 已被归并", "the target is itself merged")
    c.order.merged_into = target.number
    return {"into": target.number}


_EFFECTS: dict[Action, Callable[[_Ctx], dict[str, Any]]] = {
    Action.DISPATCH: _dispatch,
    Action.SIGN: _sign,
    Action.FEEDBACK: _feedback,
    Action.RETURN: _return,
    Action.REQUEST_EXTENSION: _request_extension,
    Action.APPROVE_EXTENSION: _approve_extension,
    Action.CLOSE: _close,
    Action.VISIT: _visit,
    Action.REDO: _redo,
    Action.MERGE: _merge,
}


def _record_merge(
    s: Session, order: WorkOrder, target: WorkOrder, actor: Actor, now: datetime
) -> None:
    s.add(
        WorkOrderLink(
            order_id=order.id,
            related_id=target.id,
            kind="merged",
            created_at=now,
            actor=actor.label,
        )
    )
    append_event(
        s,
        target,
        at=now,
        actor=actor.label,
        actor_role=actor.role.value,
        action=MERGED_IN,
        from_status=target.status,
        to_status=target.status,
        data={"from": order.number},
    )
    target.updated_at = now


def _extension_days(value: Any, cfg: WorkOrderConfig) -> int:
    limit = cfg.deadlines.max_extension_days
    try:
        days = int(value)
    except (TypeError, ValueError):
        days = 0
    if str(value).strip() != str(days) or not 1 <= days <= limit:
        raise InvalidField("days", f"延期天数须为1至{limit}个工作日", f"must be 1..{limit}")
    return days


def _requested_days(s: Session, order: WorkOrder) -> int:
    days = s.scalar(
        select(WorkOrderEvent.data)
        .filter_by(order_id=order.id, action=Action.REQUEST_EXTENSION.value)
        .order_by(WorkOrderEvent.seq.desc())
        .limit(1)
    )
    return int((days or {}).get("days", 0))


def _until(value: Any) -> datetime:
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        return _now(moment)
    except ValueError:
        raise InvalidField("until", "须为带时区的时间", "must be an ISO time with zone") from None


# ---------------------------------------------------------------------------------------------
# Helpers


def _canonical(number: str) -> str:
    canonical = parse_number(number)
    if canonical is None:
        raise OrderNotFound(mask_text(str(number))[:40])
    return canonical


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("naive datetime: give a timezone (e.g. Asia/Shanghai or UTC)")
    return now.astimezone(UTC)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
