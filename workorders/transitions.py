"""The one `transition` every change of an order goes through, and `link` (重复件).

Each call is one transaction that holds the order's row lock (PostgreSQL FOR UPDATE; SQLite
BEGIN IMMEDIATE) and writes the new state together with its timeline event, so a failure leaves
nothing half-done and two concurrent actions on one order are applied one after the other.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workorders import sla
from workorders.config import PRIORITIES, WorkOrderConfig, default_config
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
    lock_order,
    write_session,
)
from workorders.states import (
    LINKED,
    MERGED_IN,
    SATISFACTION,
    UNRATED,
    UNSATISFIED,
    Action,
    Actor,
    IllegalTransition,
    Rule,
    Status,
    check_actor,
    parse_action,
    rule_for,
)

log = logging.getLogger(__name__)


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
    批准延期 days or until; 回访 satisfaction; 归并 into. 退单, 驳回退单, 反馈, 重办, 督办 need
    a note.
    """
    cfg = config or default_config()
    now = utc(now)
    act = parse_action(action)
    canonical = canonical_number(number)
    note = text_field("note", note, cfg.limits.note)
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
        order.status = (_before_return(s, order) if rule.back else rule.to).value
        if event_data.get("back_to_centre"):
            order.status = Status.PENDING.value
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
    now = utc(now)
    one_of("kind", kind, ("repeat",))
    a, b = canonical_number(number), canonical_number(related_number)
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
    into = canonical_number(str(data["into"]))
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
    category = one_of("category", data.get("category") or o.category, cfg.category_by_name)
    if category is None:
        raise InvalidField("category", "派单前须确定工单类型", "a category is needed to dispatch")
    district = one_of("district", data.get("district") or o.district, cfg.districts)
    proposed = data.get("department") or o.department
    department = one_of(
        "department",
        proposed or cfg.default_department(category, district),
        cfg.all_departments,
    )
    co = [one_of("co_departments", d, cfg.all_departments) for d in data.get("co_departments", [])]
    priority = one_of("priority", data.get("priority") or o.priority, PRIORITIES)
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
        "sign_due": iso(o.sign_due),
        "reply_due": iso(o.reply_due),
    }


def _sign(c: _Ctx) -> dict[str, Any]:
    c.order.signed_at = c.now
    return {"on_time": bool(c.order.sign_due and c.now <= c.order.sign_due)}


def _feedback(c: _Ctx) -> dict[str, Any]:
    c.order.replied_at = c.now
    return {"on_time": bool(c.order.reply_due and c.now <= c.order.reply_due)}


def _return(c: _Ctx) -> dict[str, Any]:
    """退单: the unit asks to give the order back; it stays the unit's until the centre reviews."""
    return {"returned_from": c.order.department}


def _approve_return(c: _Ctx) -> dict[str, Any]:
    """审定退单: the centre accepts the return and must choose again (no silent re-send)."""
    o = c.order
    returned_from = o.department
    o.department, o.level, o.co_departments, o.signed_at = None, None, [], None
    sla.set_clock(o, "sign", None)
    return {"returned_from": returned_from}


def _refuse_return(c: _Ctx) -> dict[str, Any]:
    """驳回退单: the order goes back to its unit, in the state it was returned from."""
    return {"department": c.order.department, "back_to": _before_return(c.s, c.order).value}


def _before_return(s: Session, order: WorkOrder) -> Status:
    """The state the order was in when it was last returned (已派单 or 已签收)."""
    before = s.scalar(
        select(WorkOrderEvent.from_status)
        .filter_by(order_id=order.id, action=Action.RETURN.value)
        .order_by(WorkOrderEvent.seq.desc())
        .limit(1)
    )
    return Status(before) if before else Status.DISPATCHED


def _request_extension(c: _Ctx) -> dict[str, Any]:
    days = _extension_days(c.data["days"], c.cfg)
    return {"days": days, "reply_due": iso(c.order.reply_due)}


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
    basis: sla.Basis = "wall" if o.reply_basis == "wall" else "working"
    sla.set_clock(o, "reply", sla.clock_until(cal, start, new, basis, c.cfg.warnings))
    return {"old_reply_due": iso(old), "reply_due": iso(new)}


def _close(c: _Ctx) -> dict[str, Any]:
    c.order.closed_at = c.now
    return {"direct": c.order.dispatched_at is None}


def _visit(c: _Ctx) -> dict[str, Any]:
    c.order.satisfaction = one_of("satisfaction", c.data["satisfaction"], SATISFACTION)
    c.order.visited_at = c.now
    return {"satisfaction": c.order.satisfaction}


def _not_visited(c: _Ctx) -> dict[str, Any]:
    c.order.satisfaction = UNRATED
    c.order.visited_at = c.now
    return {"satisfaction": UNRATED}


def _redo(c: _Ctx) -> dict[str, Any]:
    """重办 → 已派单 to the same unit, both clocks restarted (see states.py for why)."""
    o, cfg, now = c.order, c.cfg, c.now
    if o.satisfaction != UNSATISFIED:
        raise IllegalTransition(o.status, Action.REDO, "仅回访不满意的工单可以重办")
    # Answered by the centre itself (当即办结: no unit ever replied): it goes back to the centre,
    # not to the router's unconfirmed proposal, which no unit ever had (found by an exploratory
    # test: 不满意 on a 居住证 answer dispatched it to 市司法局).
    by_centre = o.replied_at is None
    o.redo_count += 1
    o.satisfaction = None
    o.signed_at = o.replied_at = o.closed_at = o.visited_at = None
    if by_centre:
        return {"previous_satisfaction": UNSATISFIED, "redo_count": o.redo_count,
                "back_to_centre": True}  # fmt: skip
    o.dispatched_at = now
    sla.set_clock(o, "sign", sla.sign_clock(cfg, now, o.priority))
    sla.set_clock(o, "reply", sla.reply_clock(cfg, now, o.kind, o.priority, o.category))
    return {
        "previous_satisfaction": UNSATISFIED,
        "redo_count": o.redo_count,
        "department": o.department,
        "sign_due": iso(o.sign_due),
        "reply_due": iso(o.reply_due),
    }


def _merge(c: _Ctx) -> dict[str, Any]:
    target = c.target
    assert target is not None
    if target.status == Status.MERGED:
        raise InvalidField("into", f"工单 {target.number} 已被归并", "the target is itself merged")
    if target.status in (Status.CLOSED, Status.VISITED):
        # No one handles a closed order: the merged complaint would never be answered.
        raise InvalidField(
            "into", f"工单 {target.number} 已办结，不能并入", "the target is already closed"
        )
    c.order.merged_into = target.number
    return {"into": target.number}


_EFFECTS: dict[Action, Callable[[_Ctx], dict[str, Any]]] = {
    Action.DISPATCH: _dispatch,
    Action.SIGN: _sign,
    Action.FEEDBACK: _feedback,
    Action.RETURN: _return,
    Action.APPROVE_RETURN: _approve_return,
    Action.REFUSE_RETURN: _refuse_return,
    Action.REQUEST_EXTENSION: _request_extension,
    Action.APPROVE_EXTENSION: _approve_extension,
    Action.CLOSE: _close,
    Action.VISIT: _visit,
    Action.NOT_VISITED: _not_visited,
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
        return utc(moment)
    except ValueError:
        raise InvalidField("until", "须为带时区的时间", "must be an ISO time with zone") from None
