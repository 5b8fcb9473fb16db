"""The work-order life cycle: states, actions, who may act, and the transition table.

Pure data and functions, no database: `store.transition` is the only caller that applies them.

Main path::

    待派单 -派单-> 已派单 -签收-> 已签收 -办理-> 办理中 -反馈-> 已反馈 -办结-> 已办结 -回访-> 已回访

Side paths:
- 退单: the department returns a misrouted order (reason mandatory) from 已派单/已签收 →
  退单审核中; the centre reviews it: 审定退单 accepts (→ 待派单, the unit is cleared for
  re-dispatch) or 驳回退单 sends it back to the unit (reason mandatory) in the state it was
  returned from. The unit keeps seeing the order while the centre reviews.
- 催办 / 督办: the centre urges or escalates an open order at the unit (督办 needs a note); the
  status stays the same, the step is in the timeline.
- 延期: 办理中 -申请延期-> 延期审核中 -批准延期/驳回延期-> 办理中 (approval moves reply_due).
- 重办: after a 回访 rated 不满意, 已回访 → 已派单 (not 办理中): the redo lands in the same
  department's inbox like a new order, so it must be signed for again within the sign-for
  deadline (the department acknowledges the reopening) and can still be returned with 退单 if the
  first routing was wrong. Both clocks restart.
- 归并: the centre merges a duplicate into another order from any state before 反馈; terminal.
- 未回访: an order the citizen has not rated within HOTLINE_FOLLOWUP_HOURS after 办结 is
  closed as 已回访 with satisfaction 未回访 by the scheduled scan.
- 办结 straight from 待派单: the centre answered the citizen itself (当场答复, most 咨询).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

_E = TypeVar("_E", bound=StrEnum)


class Status(StrEnum):
    PENDING = "待派单"
    DISPATCHED = "已派单"
    SIGNED = "已签收"
    IN_PROGRESS = "办理中"
    EXTENSION_PENDING = "延期审核中"
    RETURN_PENDING = "退单审核中"
    REPLIED = "已反馈"
    CLOSED = "已办结"
    VISITED = "已回访"
    MERGED = "已归并"


class Action(StrEnum):
    DISPATCH = "派单"
    SIGN = "签收"
    START = "办理"
    FEEDBACK = "反馈"
    CLOSE = "办结"
    VISIT = "回访"
    RETURN = "退单"
    APPROVE_RETURN = "审定退单"
    REFUSE_RETURN = "驳回退单"
    URGE = "催办"
    NOT_VISITED = "未回访"
    ESCALATE = "督办"
    REQUEST_EXTENSION = "申请延期"
    APPROVE_EXTENSION = "批准延期"
    REFUSE_EXTENSION = "驳回延期"
    REDO = "重办"
    MERGE = "归并"


class Role(StrEnum):
    CENTRE = "中心"  # the 12345 centre's operators and supervisors
    DEPARTMENT = "部门"  # a handling unit (市直 department or district)
    SYSTEM = "系统"  # scheduled jobs (SLA scan)
    CITIZEN = "市民"  # the citizen, through a channel


# Timeline entries that are not transitions (the status stays the same).
CREATED = "受理"
REMINDER = "催办"  # yellow / orange warning
OVERDUE = "超期督办"  # red: the deadline has passed
MERGED_IN = "并入"  # on the target of a 归并
LINKED = "关联"  # a related (repeat) order was linked

SATISFACTION = ("满意", "基本满意", "不满意")
UNSATISFIED = "不满意"
UNRATED = "未回访"  # the satisfaction of an order whose citizen never answered the 回访
FOLLOW_UP = "发起回访"  # the 回访 was sent on the citizen's channel (or listed for a call)

STATUS_EN = {
    Status.PENDING: "pending dispatch",
    Status.DISPATCHED: "dispatched",
    Status.SIGNED: "signed for",
    Status.IN_PROGRESS: "in progress",
    Status.EXTENSION_PENDING: "extension requested",
    Status.RETURN_PENDING: "return under review",
    Status.REPLIED: "replied",
    Status.CLOSED: "closed",
    Status.VISITED: "visited back",
    Status.MERGED: "merged",
}
ACTION_EN = {
    Action.DISPATCH: "dispatch",
    Action.SIGN: "sign",
    Action.START: "start",
    Action.FEEDBACK: "feedback",
    Action.CLOSE: "close",
    Action.VISIT: "visit",
    Action.RETURN: "return",
    Action.APPROVE_RETURN: "approve_return",
    Action.REFUSE_RETURN: "refuse_return",
    Action.URGE: "urge",
    Action.NOT_VISITED: "not_visited",
    Action.ESCALATE: "escalate",
    Action.REQUEST_EXTENSION: "request_extension",
    Action.APPROVE_EXTENSION: "approve_extension",
    Action.REFUSE_EXTENSION: "refuse_extension",
    Action.REDO: "redo",
    Action.MERGE: "merge",
}
_ACTION_BY_NAME = {en: a for a, en in ACTION_EN.items()}
_ACTION_BY_NAME["rate"] = Action.VISIT  # the public API's name for recording the 回访 rating


@dataclass(frozen=True)
class Rule:
    to: Status
    role: Role
    needs: tuple[str, ...] = ()  # inputs that must be given: "note", "satisfaction", "into", …
    # True: the order goes back to the state it was in before its last 退单 (`to` is then only
    # the usual case, 已派单); see transitions.py.
    back: bool = False


_C, _D = Role.CENTRE, Role.DEPARTMENT
S, A = Status, Action

# The whole life cycle. Anything not listed is illegal.
TRANSITIONS: dict[tuple[Status, Action], Rule] = {
    (S.PENDING, A.DISPATCH): Rule(S.DISPATCHED, _C),
    (S.PENDING, A.CLOSE): Rule(S.CLOSED, _C, ("note",)),
    (S.PENDING, A.MERGE): Rule(S.MERGED, _C, ("into",)),
    (S.DISPATCHED, A.SIGN): Rule(S.SIGNED, _D),
    (S.DISPATCHED, A.RETURN): Rule(S.RETURN_PENDING, _D, ("note",)),
    (S.DISPATCHED, A.MERGE): Rule(S.MERGED, _C, ("into",)),
    (S.SIGNED, A.START): Rule(S.IN_PROGRESS, _D),
    (S.SIGNED, A.FEEDBACK): Rule(S.REPLIED, _D, ("note",)),
    (S.SIGNED, A.RETURN): Rule(S.RETURN_PENDING, _D, ("note",)),
    (S.SIGNED, A.MERGE): Rule(S.MERGED, _C, ("into",)),
    (S.IN_PROGRESS, A.FEEDBACK): Rule(S.REPLIED, _D, ("note",)),
    (S.IN_PROGRESS, A.REQUEST_EXTENSION): Rule(S.EXTENSION_PENDING, _D, ("note", "days")),
    (S.IN_PROGRESS, A.MERGE): Rule(S.MERGED, _C, ("into",)),
    (S.EXTENSION_PENDING, A.APPROVE_EXTENSION): Rule(S.IN_PROGRESS, _C),
    (S.EXTENSION_PENDING, A.REFUSE_EXTENSION): Rule(S.IN_PROGRESS, _C),
    (S.REPLIED, A.CLOSE): Rule(S.CLOSED, _C),
    (S.CLOSED, A.VISIT): Rule(S.VISITED, _C, ("satisfaction",)),
    (S.CLOSED, A.NOT_VISITED): Rule(S.VISITED, Role.SYSTEM),
    (S.VISITED, A.REDO): Rule(S.DISPATCHED, _C, ("note",)),
    (S.RETURN_PENDING, A.APPROVE_RETURN): Rule(S.PENDING, _C),
    (S.RETURN_PENDING, A.REFUSE_RETURN): Rule(S.DISPATCHED, _C, ("note",), back=True),
}
# 催办 and 督办 keep the state: the centre presses a unit that holds the order.
for _held in (S.DISPATCHED, S.SIGNED, S.IN_PROGRESS, S.EXTENSION_PENDING):
    TRANSITIONS[(_held, A.URGE)] = Rule(_held, _C)
    TRANSITIONS[(_held, A.ESCALATE)] = Rule(_held, _C, ("note",))
del S, A, _held

TERMINAL = frozenset({Status.MERGED})
# Clocks run only in these states (see sla.py).
SIGN_RUNNING = frozenset({Status.DISPATCHED})
REPLY_RUNNING = frozenset(
    {
        Status.PENDING,
        Status.DISPATCHED,
        Status.SIGNED,
        Status.IN_PROGRESS,
        Status.EXTENSION_PENDING,
        Status.RETURN_PENDING,
    }
)
OPEN = REPLY_RUNNING | {Status.REPLIED}


class WorkOrderError(Exception):
    """Base of every error the work-order domain raises on purpose."""


class IllegalTransition(WorkOrderError):
    """The action is not allowed in the order's current state; nothing was changed."""

    def __init__(self, status: Status | str, action: Action | str, why: str = "") -> None:
        self.status, self.action = str(status), str(action)
        known_status, known_action = _member(Status, status), _member(Action, action)
        st_en = status if known_status is None else STATUS_EN.get(known_status, status)
        ac_en = action if known_action is None else ACTION_EN.get(known_action, action)
        extra = f"（{why}）" if why else ""
        super().__init__(
            f"工单当前状态为「{status}」，不能执行「{action}」{extra} / "
            f"cannot {ac_en} an order that is {st_en}"
        )


class NotPermitted(WorkOrderError, PermissionError):
    """The actor may not perform this action on this order; nothing was changed."""


@dataclass(frozen=True)
class Actor:
    """Who acts: a centre operator, a department's staff member, a job, or a citizen."""

    role: Role
    name: str = ""
    department: str | None = None  # required for Role.DEPARTMENT

    def __post_init__(self) -> None:
        if self.role is Role.DEPARTMENT and not self.department:
            raise ValueError("a department actor needs its department / 部门人员须注明所属部门")

    @classmethod
    def centre(cls, name: str) -> Actor:
        return cls(Role.CENTRE, name)

    @classmethod
    def of_department(cls, department: str, name: str = "") -> Actor:
        return cls(Role.DEPARTMENT, name, department)

    @classmethod
    def system(cls, name: str) -> Actor:
        return cls(Role.SYSTEM, name)

    @classmethod
    def citizen(cls, channel: str) -> Actor:
        return cls(Role.CITIZEN, channel)

    @property
    def label(self) -> str:
        """How the actor appears in the timeline, e.g. "部门:市城市管理局/王工"."""
        who = self.department if self.role is Role.DEPARTMENT else self.name
        if self.role is Role.DEPARTMENT and self.name:
            who = f"{who}/{self.name}"
        return f"{self.role.value}:{who}"


def _member(enum: type[_E], value: str) -> _E | None:
    """The member with this value, or None (`value in Enum` raises on Python 3.11)."""
    try:
        return enum(value)
    except ValueError:
        return None


def parse_action(action: Action | str) -> Action:
    """Accept the Chinese name ("签收"), the English name ("sign") or the enum."""
    if isinstance(action, Action):
        return action
    if (member := _member(Action, action)) is not None:
        return member
    try:
        return _ACTION_BY_NAME[str(action).strip().lower()]
    except KeyError:
        known = "、".join(a.value for a in Action)
        raise ValueError(f"未知操作「{action}」(可用: {known}) / unknown action") from None


def rule_for(status: Status | str, action: Action | str) -> Rule:
    """The rule of a legal (state, action) pair; IllegalTransition otherwise."""
    act = parse_action(action)
    rule = TRANSITIONS.get((Status(status), act))
    if rule is None:
        raise IllegalTransition(status, act)
    return rule


def next_status(status: Status | str, action: Action | str) -> Status:
    return rule_for(status, action).to


def allowed_actions(status: Status | str, role: Role | None = None) -> list[Action]:
    """What can be done next (for a given role), in table order: drives the UI's buttons."""
    return [
        a
        for (s, a), rule in TRANSITIONS.items()
        if s == Status(status) and (role is None or rule.role is role)
    ]


def check_actor(rule: Rule, action: Action, actor: Actor, department: str | None) -> None:
    """Raise NotPermitted unless `actor` may apply `rule` to an order assigned to `department`."""
    if actor.role is not rule.role:
        raise NotPermitted(
            f"「{action}」只能由{rule.role.value}执行，{actor.label} 无权操作 / "
            f"only the {rule.role.name.lower()} may {ACTION_EN[action]}"
        )
    if rule.role is Role.DEPARTMENT and actor.department != department:
        raise NotPermitted(
            f"工单未派给{actor.department}，不能执行「{action}」 / "
            f"the order is not assigned to {actor.department}"
        )
