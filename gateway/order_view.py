"""How the console shows an order: running SLA clocks as countdowns with their colour, timeline
steps with local times and attachments, and the actions the signed-in user may take."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from accounts.roles import CHANGE, Role
from accounts.users import Principal
from workorders import sla
from workorders.attachments import AttachmentInfo
from workorders.edits import FIELD_LABELS
from workorders.model import WorkOrder, WorkOrderEvent
from workorders.states import Action, allowed_actions
from workorders.states import Role as OrderRole

# Buttons read as the process does; 反馈 is the department's reply (答复) with its result.
ACTION_LABELS = {
    Action.SIGN: "签收",
    Action.START: "开始办理",
    Action.FEEDBACK: "答复办结",
    Action.RETURN: "退单",
    Action.REQUEST_EXTENSION: "申请延期",
    Action.APPROVE_RETURN: "审定退单（重新派单）",
    Action.REFUSE_RETURN: "驳回退单（退回部门）",
    Action.APPROVE_EXTENSION: "批准延期",
    Action.REFUSE_EXTENSION: "驳回延期",
    Action.URGE: "催办",
    Action.ESCALATE: "督办",
    Action.DISPATCH: "派单",
    Action.CLOSE: "办结（答复市民并发起回访）",
    Action.VISIT: "登记回访结果",
    Action.REDO: "重办",
    Action.MERGE: "归并",
}
NOTE_HINTS = {
    Action.FEEDBACK: "办理结果（将答复市民）",
    Action.RETURN: "退单原因（必填）",
    Action.REQUEST_EXTENSION: "延期原因（必填）",
    Action.REFUSE_RETURN: "退回理由（必填）",
    Action.REFUSE_EXTENSION: "驳回理由",
    Action.ESCALATE: "督办要求（必填）",
    Action.REDO: "重办原因（必填）",
    Action.CLOSE: "答复市民的内容",
    Action.VISIT: "回访记录",
}
CLOCK_LABELS = {"sign": "签收时限", "reply": "办结时限"}


def order_role(user: Principal) -> OrderRole | None:
    """The work-order role a user acts in; None for those who only read (managers)."""
    if user.role not in CHANGE:
        return None
    return OrderRole.DEPARTMENT if user.role is Role.DEPARTMENT else OrderRole.CENTRE


def remaining(due: datetime, now: datetime) -> str:
    """剩余2天3小时 / 已超期45分钟: days, hours and minutes, the two largest units."""
    seconds = int((due - now).total_seconds())
    late, seconds = seconds < 0, abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{days}天"] if days else []
    parts += [f"{hours}小时"] if hours else []
    if not days:
        parts.append(f"{minutes}分钟")
    return ("已超期" if late else "剩余") + "".join(parts[:2])


def clocks(order: WorkOrder, now: datetime, zone: tzinfo) -> dict[str, dict[str, str]]:
    """The running clocks: {"sign"|"reply": {label, due (ISO), due_local, level, text}}."""
    out: dict[str, dict[str, str]] = {}
    for name, clock in sla.running_clocks(order):
        out[name] = {
            "label": CLOCK_LABELS[name],
            "due": clock.due.isoformat(),
            "due_local": clock.due.astimezone(zone).strftime("%m-%d %H:%M"),
            "level": sla.clock_level(clock, now),
            "text": remaining(clock.due, now),
        }
    return out


def steps(
    events: list[WorkOrderEvent], files: list[AttachmentInfo], zone: tzinfo
) -> list[dict[str, Any]]:
    by_seq: dict[int, list[AttachmentInfo]] = {}
    for f in files:
        by_seq.setdefault(f.event_seq, []).append(f)
    return [
        {
            "seq": e.seq,
            "at": e.at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
            "action": e.action,
            "actor": e.actor,
            "change": f"{e.from_status}→{e.to_status}"
            if e.from_status and e.from_status != e.to_status
            else "",
            "note": e.note or "",
            "details": _details(e.data or {}, zone),
            "edits": _edits(e.data or {}),
            "files": by_seq.get(e.seq, []),
        }
        for e in events
    ]


_DETAIL_NAMES = {
    "department": "部门", "returned_from": "退回单位", "back_to": "退回至", "days": "天数",
    "satisfaction": "满意度", "reply_due": "办结时限", "into": "并入", "channel": "渠道",
    "redo_count": "重办次数", "comment": "市民意见",
}  # fmt: skip


def _edits(data: dict[str, Any]) -> list[str]:
    """A 修改 step's changes, one line each: 地址：旧 → 新 (phone numbers masked when stored)."""
    return [
        f"{FIELD_LABELS.get(field, field)}：{c.get('from') or '（空）'} → {c.get('to') or '（空）'}"
        for field, c in (data.get("changes") or {}).items()
    ]


def _details(data: dict[str, Any], zone: tzinfo) -> str:
    shown = []
    for key, name in _DETAIL_NAMES.items():
        value = data.get(key)
        if not value:
            continue
        if key == "reply_due":  # an ISO instant: the local time, as the clocks show it
            value = datetime.fromisoformat(value).astimezone(zone).strftime("%Y-%m-%d %H:%M")
        shown.append(f"{name}：{value}")
    return "；".join(shown)


def actions_for(user: Principal, order: WorkOrder) -> list[dict[str, str]]:
    """The forms to show: [{"action", "label", "note_hint"}] for the user's role."""
    role = order_role(user)
    if role is None:
        return []
    return [
        {
            "action": a.value,
            "label": ACTION_LABELS.get(a, a.value),
            "note_hint": NOTE_HINTS.get(a, "备注"),
        }
        for a in allowed_actions(order.status, role)
    ]
