"""The transition table as pure functions: every (state, action) pair, legal or not."""

from __future__ import annotations

import itertools

import pytest

from workorders.states import (
    ACTION_EN,
    STATUS_EN,
    TRANSITIONS,
    Action,
    Actor,
    IllegalTransition,
    NotPermitted,
    Role,
    Status,
    allowed_actions,
    check_actor,
    next_status,
    parse_action,
    rule_for,
)

PAIRS = list(itertools.product(Status, Action))

# The life cycle written out once more by hand: the table must say exactly this.
EXPECTED = {
    ("待派单", "派单"): "已派单",
    ("待派单", "办结"): "已办结",
    ("待派单", "归并"): "已归并",
    ("已派单", "签收"): "已签收",
    ("已派单", "退单"): "退单审核中",
    ("已派单", "催办"): "已派单",
    ("已派单", "督办"): "已派单",
    ("已派单", "归并"): "已归并",
    ("已签收", "办理"): "办理中",
    ("已签收", "反馈"): "已反馈",
    ("已签收", "退单"): "退单审核中",
    ("已签收", "催办"): "已签收",
    ("已签收", "督办"): "已签收",
    ("已签收", "归并"): "已归并",
    ("办理中", "反馈"): "已反馈",
    ("办理中", "申请延期"): "延期审核中",
    ("办理中", "归并"): "已归并",
    ("办理中", "催办"): "办理中",
    ("办理中", "督办"): "办理中",
    ("延期审核中", "批准延期"): "办理中",
    ("延期审核中", "驳回延期"): "办理中",
    ("延期审核中", "催办"): "延期审核中",
    ("延期审核中", "督办"): "延期审核中",
    ("退单审核中", "审定退单"): "待派单",
    ("退单审核中", "驳回退单"): "已派单",  # or back to 已签收: the state it was returned from
    ("已反馈", "办结"): "已办结",
    ("已办结", "回访"): "已回访",
    ("已办结", "未回访"): "已回访",
    ("已回访", "重办"): "已派单",
}


@pytest.mark.parametrize(("status", "action"), PAIRS, ids=lambda v: str(v))
def test_every_pair(status: Status, action: Action) -> None:
    expected = EXPECTED.get((status.value, action.value))
    if expected is None:
        with pytest.raises(IllegalTransition) as err:
            next_status(status, action)
        message = str(err.value)
        assert status.value in message and action.value in message  # Chinese
        assert STATUS_EN[status] in message and ACTION_EN[action] in message  # English
    else:
        assert next_status(status, action) == Status(expected)


def test_table_and_expectation_agree() -> None:
    assert {(s.value, a.value): r.to.value for (s, a), r in TRANSITIONS.items()} == EXPECTED


def test_merged_is_terminal_and_every_state_is_reachable_from_pending() -> None:
    assert allowed_actions(Status.MERGED) == []
    reached, frontier = {Status.PENDING}, [Status.PENDING]
    while frontier:
        status = frontier.pop()
        for action in allowed_actions(status):
            target = next_status(status, action)
            if target not in reached:
                reached.add(target)
                frontier.append(target)
    assert reached == set(Status)


def test_roles_of_the_actions() -> None:
    centre = {a for (_, a), r in TRANSITIONS.items() if r.role is Role.CENTRE}
    department = {a for (_, a), r in TRANSITIONS.items() if r.role is Role.DEPARTMENT}
    assert centre == {
        Action.DISPATCH,
        Action.CLOSE,
        Action.VISIT,
        Action.MERGE,
        Action.APPROVE_EXTENSION,
        Action.REFUSE_EXTENSION,
        Action.REDO,
        Action.APPROVE_RETURN,
        Action.REFUSE_RETURN,
        Action.URGE,
        Action.ESCALATE,
    }
    assert department == {
        Action.SIGN,
        Action.START,
        Action.FEEDBACK,
        Action.RETURN,
        Action.REQUEST_EXTENSION,
    }
    assert allowed_actions(Status.DISPATCHED, Role.DEPARTMENT) == [Action.SIGN, Action.RETURN]
    assert allowed_actions(Status.DISPATCHED, Role.CENTRE) == [
        Action.MERGE,
        Action.URGE,
        Action.ESCALATE,
    ]
    assert allowed_actions(Status.RETURN_PENDING, Role.CENTRE) == [
        Action.APPROVE_RETURN,
        Action.REFUSE_RETURN,
    ]
    assert allowed_actions(Status.RETURN_PENDING, Role.DEPARTMENT) == []


def test_reasons_are_mandatory_where_the_process_demands_them() -> None:
    assert "note" in rule_for("已派单", "退单").needs
    assert "note" in rule_for("已签收", "退单").needs
    assert "satisfaction" in rule_for("已办结", "回访").needs
    assert "into" in rule_for("待派单", "归并").needs
    assert "days" in rule_for("办理中", "申请延期").needs
    assert "note" in rule_for("退单审核中", "驳回退单").needs
    assert "note" in rule_for("办理中", "督办").needs


def test_who_may_act() -> None:
    sign = rule_for(Status.DISPATCHED, Action.SIGN)
    own = Actor.of_department("市城市管理局", "王工")
    check_actor(sign, Action.SIGN, own, "市城市管理局")
    with pytest.raises(NotPermitted, match="not assigned"):
        check_actor(sign, Action.SIGN, Actor.of_department("市教育局"), "市城市管理局")
    with pytest.raises(NotPermitted, match="only the department"):
        check_actor(sign, Action.SIGN, Actor.centre("1001"), "市城市管理局")
    dispatch = rule_for(Status.PENDING, Action.DISPATCH)
    with pytest.raises(NotPermitted, match="only the centre"):
        check_actor(dispatch, Action.DISPATCH, own, None)
    with pytest.raises(NotPermitted):
        check_actor(dispatch, Action.DISPATCH, Actor.system("sla"), None)
    with pytest.raises(ValueError):
        Actor(Role.DEPARTMENT, "王工")  # a department actor names its department


def test_actions_by_chinese_or_english_name() -> None:
    assert parse_action("签收") is Action.SIGN
    assert parse_action("sign") is Action.SIGN
    assert parse_action(" Request_Extension ") is Action.REQUEST_EXTENSION
    with pytest.raises(ValueError, match="未知操作"):
        parse_action("撤销")


def test_actor_labels() -> None:
    assert Actor.of_department("市城市管理局", "王工").label == "部门:市城市管理局/王工"
    assert Actor.centre("1001").label == "中心:1001"
    assert Actor.system("sla").label == "系统:sla"
