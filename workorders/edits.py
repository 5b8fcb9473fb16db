"""修改工单: the centre corrects an open order's fields — the request text, the address, the
category (工单类型) and the citizen's phone — the one function behind the console's 编辑工单
form and `PATCH /api/v1/work-orders/{number}`.

Rules:
- only the centre edits (a department answers what it was sent; a manager reads);
- not once the citizen has had the answer: 已办结, 已回访 and 已归并 orders are refused
  (ClosedOrder, a 409 over HTTP) — a correction after that is a 重办;
- every edit that changes something is one timeline step (修改) with who, when and old → new
  values, phone numbers masked (the timeline is append-only, so a whole number would stay there
  for good); an edit that changes nothing writes nothing, so a retried request is harmless;
- routing stays with the existing actions: the department is not edited here (退单/审定退单 and
  派单 re-route with their own checks and clocks). While the order waits for 派单, a new category
  re-times the reply clock and moves a proposed department that was the old category's default to
  the new one's, as 派单 would; once dispatched, the department and the deadline promised to it
  stand (re-route with 退单, move the deadline with 延期).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from hotline.numbers import InvalidPhone, canonical_phone
from hotline.privacy import mask_numbers
from workorders import sla
from workorders.config import WorkOrderConfig, default_config
from workorders.inputs import (
    InvalidField,
    OrderNotFound,
    canonical_number,
    iso,
    one_of,
    text_field,
    utc,
)
from workorders.model import WorkOrder, append_event, lock_order, mask_phone, write_session
from workorders.states import (
    STATUS_EN,
    Actor,
    IllegalTransition,
    NotPermitted,
    Role,
    Status,
)
from workorders.store import summarise

log = logging.getLogger(__name__)

EDIT = "修改"  # the timeline action of an edit (the status stays the same)
EDITABLE = ("request_text", "address", "category", "citizen_phone")
FIELD_LABELS = {
    "request_text": "诉求内容", "address": "地址", "category": "工单类型",
    "citizen_phone": "联系电话", "department": "拟派部门",
}  # fmt: skip
# The citizen has had the answer (or the order lives on in another): no more edits.
LOCKED = frozenset({Status.CLOSED, Status.VISITED, Status.MERGED})


class ClosedOrder(IllegalTransition):
    """The order is 已办结/已回访/已归并: nothing was changed."""

    def __init__(self, status: str) -> None:
        Exception.__init__(
            self,
            f"工单已{status.removeprefix('已')}，不能再修改 / "
            f"an order that is {STATUS_EN.get(Status(status), status)} cannot be edited",
        )
        self.status, self.action = status, EDIT


def edit(
    url: str,
    number: str,
    actor: Actor,
    changes: Mapping[str, Any],
    note: str | None = None,
    *,
    now: datetime | None = None,
    config: WorkOrderConfig | None = None,
) -> tuple[WorkOrder, dict[str, tuple[str | None, str | None]]]:
    """Apply the changed fields in one transaction holding the order's row lock.

    `changes` maps fields of EDITABLE to their new values (a field left out is kept). Returns
    the order and {field: (old, new)} of what changed, as the timeline shows it (masked).
    Raises InvalidField (unknown field, bad value), NotPermitted (not the centre), ClosedOrder or
    OrderNotFound; nothing is changed then.
    """
    cfg = config or default_config()
    now = utc(now)
    canonical = canonical_number(number)
    if actor.role is not Role.CENTRE:
        raise NotPermitted(f"只有中心可以修改工单，{actor.label} 无权操作 / only the centre edits")
    note = text_field("note", note, cfg.limits.note)
    wanted = _checked(changes, cfg)
    with write_session(url) as s:
        order = lock_order(s, number=canonical)
        if order is None:
            raise OrderNotFound(canonical)
        if order.status in LOCKED:
            raise ClosedOrder(order.status)
        if "category" in wanted and wanted["category"] is None and order.category:
            raise InvalidField("category", "请选择工单类型", "the category cannot be cleared")
        changed = {k: v for k, v in wanted.items() if getattr(order, k) != v}
        if not changed:
            return order, {}
        shown = {k: (_shown(k, getattr(order, k)), _shown(k, v)) for k, v in changed.items()}
        data: dict[str, Any] = {"changes": described(shown)}
        if "request_text" in changed and order.summary == _summary(order.request_text, cfg):
            order.summary = _summary(str(changed["request_text"]), cfg)  # derived: follows the text
        old_category = order.category
        for field, value in changed.items():
            setattr(order, field, value)
        if "category" in changed and order.status == Status.PENDING:
            data.update(_reproposed(order, old_category, cfg, shown))
        _record_edit(s, order, actor, now, note, data)
    log.info("work order %s edited (%s) by %s", order.number, ", ".join(changed), actor.label)
    return order, shown


def _record_edit(
    s: Session, order: WorkOrder, actor: Actor, now: datetime, note: str | None,
    data: dict[str, Any],
) -> None:  # fmt: skip
    """The timeline step of a change to an order's fields (its status stays as it is)."""
    order.updated_at = now
    append_event(
        s,
        order,
        at=now,
        actor=actor.label,
        actor_role=actor.role.value,
        action=EDIT,
        from_status=order.status,
        to_status=order.status,
        note=note,
        data=data,
    )


def _reproposed(
    order: WorkOrder,
    old_category: str | None,
    cfg: WorkOrderConfig,
    shown: dict[str, tuple[str | None, str | None]],
) -> dict[str, Any]:
    """Before 派单 the type decides what follows, as 派单 itself would: the reply clock is
    re-timed, and a proposed department that was the old type's default becomes the new type's
    (one an operator chose stays). Only a proposal: 派单 still decides."""
    out: dict[str, Any] = {}
    if order.reply_started_at is not None:
        clock = sla.reply_clock(
            cfg, order.reply_started_at, order.kind, order.priority, order.category
        )
        sla.set_clock(order, "reply", clock)
        out["reply_due"] = iso(order.reply_due)
    if old_category and order.category and order.department:
        default = cfg.default_department(old_category, order.district)
        if order.department == default:
            new = cfg.default_department(order.category, order.district)
            if new != order.department:
                shown["department"] = (order.department, new)
                out["changes"] = described(shown)
                order.department, order.level = new, cfg.level_of(new)
    return out


def described(changed: Mapping[str, tuple[str | None, str | None]]) -> dict[str, Any]:
    """{field: {"from", "to"}}: an edit's changes as the timeline and the audit log keep them."""
    return {k: {"from": a, "to": b} for k, (a, b) in changed.items()}


def _checked(changes: Mapping[str, Any], cfg: WorkOrderConfig) -> dict[str, str | None]:
    """The new values, each checked as at creation; InvalidField names the first bad one."""
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise InvalidField(unknown[0], "不能修改此项", "not an editable field")
    out: dict[str, str | None] = {}
    for field, raw in changes.items():
        if raw is not None and not isinstance(raw, str):
            raise InvalidField(field, "格式不正确", "must be a string")
        raw = raw.replace("\r\n", "\n") if raw else raw  # a browser's textarea sends CRLF
        if field == "request_text":
            out[field] = text_field(field, raw, cfg.limits.request_text, required=True)
        elif field == "address":
            out[field] = text_field(field, raw, cfg.limits.address)  # empty clears it
        elif field == "category":
            out[field] = one_of(field, (raw or "").strip() or None, cfg.category_by_name)
        else:
            out[field] = _phone(raw)
    return out


def _phone(raw: str | None) -> str:
    if not (raw or "").strip():
        raise InvalidField("citizen_phone", "请填写联系电话", "the phone cannot be cleared")
    try:
        return canonical_phone(raw or "")
    except InvalidPhone as exc:
        raise InvalidField("citizen_phone", exc.zh, exc.en) from None


def _shown(field: str, value: str | None) -> str | None:
    """A value as the timeline keeps it: phone numbers masked, in the field and in the text."""
    if value is None:
        return None
    return mask_phone(value) if field == "citizen_phone" else mask_numbers(value)


def _summary(text: str, cfg: WorkOrderConfig) -> str:
    return summarise(text, cfg.limits.summary)


def add_place(
    url: str, number: str, place: str, actor: Actor, *, now: datetime | None = None
) -> WorkOrder | None:
    """The place of an order stored without one, told afterwards by the citizen (an emergency:
    the number to call came first, then "请告诉我具体地点"). Set once: an address already on
    the order (an operator's) is kept and None returned; so is a closed order's."""
    cfg = default_config()
    place = text_field("address", place.strip()[: cfg.limits.address], cfg.limits.address) or ""
    if not place:
        return None
    now = utc(now)
    with write_session(url) as s:
        order = lock_order(s, number=canonical_number(number))
        if order is None or order.address or order.status in LOCKED:
            return None
        order.address = place
        shown = {"address": (None, _shown("address", place))}
        _record_edit(s, order, actor, now, "市民补充的地点", {"changes": described(shown)})
    log.info("work order %s: the citizen told its place", order.number)
    return order
