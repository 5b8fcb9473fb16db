"""Transitions through the store: every (state, action) pair on SQLite and on PostgreSQL, who
may act, and the side paths (退单, 延期, 重办, 归并). An illegal action changes nothing."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.workorders.support import (
    CENTRE,
    DEPT,
    OTHER_DEPT,
    T0,
    UNIT,
    dispatched,
    local,
    new_order,
)
from workorders import store
from workorders.states import TRANSITIONS, Action, Actor, IllegalTransition, NotPermitted, Status
from workorders.store import InvalidField, OrderNotFound

A = Action
# How to reach each state from a new order.
PATHS: dict[Status, list[Action]] = {
    Status.PENDING: [],
    Status.DISPATCHED: [A.DISPATCH],
    Status.SIGNED: [A.DISPATCH, A.SIGN],
    Status.IN_PROGRESS: [A.DISPATCH, A.SIGN, A.START],
    Status.EXTENSION_PENDING: [A.DISPATCH, A.SIGN, A.START, A.REQUEST_EXTENSION],
    Status.REPLIED: [A.DISPATCH, A.SIGN, A.START, A.FEEDBACK],
    Status.CLOSED: [A.DISPATCH, A.SIGN, A.START, A.FEEDBACK, A.CLOSE],
    Status.VISITED: [A.DISPATCH, A.SIGN, A.START, A.FEEDBACK, A.CLOSE, A.VISIT],
    Status.MERGED: [A.MERGE],
    Status.RETURN_PENDING: [A.DISPATCH, A.RETURN],
}


def inputs(action: Action, target: str) -> tuple[Actor, str | None, dict[str, Any]]:
    """A valid actor, note and inputs for each action (as far as the action is legal)."""
    return {
        A.DISPATCH: (CENTRE, None, {"category": "城市管理"}),
        A.SIGN: (DEPT, None, {}),
        A.START: (DEPT, None, {}),
        A.FEEDBACK: (DEPT, "已联系城管中队现场处置，摊贩已劝离。", {}),
        A.CLOSE: (CENTRE, "已答复市民。", {}),
        A.VISIT: (CENTRE, "市民表示问题仍在。", {"satisfaction": "不满意"}),
        A.RETURN: (DEPT, "不属于本单位职责，应由市场监管部门处理。", {}),
        A.REQUEST_EXTENSION: (DEPT, "需协调多个部门联合执法。", {"days": 3}),
        A.APPROVE_EXTENSION: (CENTRE, None, {}),
        A.REFUSE_EXTENSION: (CENTRE, "情况不复杂，请按期办结。", {}),
        A.REDO: (CENTRE, "回访不满意，重新办理。", {}),
        A.MERGE: (CENTRE, "与已受理工单为同一事项。", {"into": target}),
        A.APPROVE_RETURN: (CENTRE, "同意退单，另行派单。", {}),
        A.REFUSE_RETURN: (CENTRE, "属本单位职责，请继续办理。", {}),
        A.URGE: (CENTRE, None, {}),
        A.NOT_VISITED: (Actor.system("回访"), None, {}),
        A.ESCALATE: (CENTRE, "已超期，请分管领导督办。", {}),
    }[action]


def act(url: str, number: str, action: Action, target: str, now=T0) -> Any:  # type: ignore[no-untyped-def]
    actor, note, data = inputs(action, target)
    return store.transition(url, number, action, actor, note, now=now, **data)


def order_in(url: str, status: Status, target: str) -> str:
    number = new_order(url)
    for step, action in enumerate(PATHS[status]):
        act(url, number, action, target, now=T0 + timedelta(minutes=step))
    assert store.get(url, number).status == status
    return number


def snapshot(url: str, number: str) -> tuple[dict[str, Any], int]:
    order = store.get(url, number)
    state = order.to_dict(reveal=True) | {"updated_at": order.updated_at}
    return state, len(store.timeline(url, number))


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def matrix(request: pytest.FixtureRequest) -> tuple[str, str]:
    """A module-wide database and a merge target in it."""
    url = request.getfixturevalue(
        "module_sqlite" if request.param == "sqlite" else "module_postgres"
    )
    return url, new_order(url, request_text="同一地点占道经营，已有人反映过。")


@pytest.mark.parametrize(
    ("status", "action"), list(itertools.product(Status, Action)), ids=lambda v: str(v)
)
def test_every_state_action_pair(matrix: tuple[str, str], status: Status, action: Action) -> None:
    url, target = matrix
    number = order_in(url, status, target)
    rule = TRANSITIONS.get((status, action))
    before = snapshot(url, number)
    if rule is None:
        with pytest.raises(IllegalTransition) as err:
            act(url, number, action, target, now=T0 + timedelta(hours=1))
        assert status.value in str(err.value) and action.value in str(err.value)
        assert snapshot(url, number) == before  # nothing changed, no event
        return
    order = act(url, number, action, target, now=T0 + timedelta(hours=1))
    assert order.status == rule.to == store.get(url, number).status
    last = store.timeline(url, number)[-1]
    assert (last.action, last.from_status, last.to_status) == (action, status, rule.to)
    assert last.seq == before[1] + 1


def test_timeline_is_a_consistent_chain(url: str) -> None:
    number = order_in(url, Status.VISITED, "")
    events = store.timeline(url, number)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[0].action == "受理" and events[0].to_status == "待派单"
    for prev, nxt in itertools.pairwise(events):
        assert nxt.from_status == prev.to_status
    assert [e.actor for e in events[:3]] == ["市民:wechat", "中心:1001", f"部门:{UNIT}/王工"]


def test_dispatch_chooses_unit_level_and_starts_the_sign_clock(url: str) -> None:
    local_order = store.get(url, dispatched(url))
    assert (local_order.department, local_order.level) == (UNIT, "区县")
    assert local_order.sign_due == local(2026, 11, 23, 13 + 2)  # 4 working hours
    city = new_order(url, district=None)
    order = store.transition(url, city, "派单", CENTRE, now=T0, category="城市管理")
    assert (order.department, order.level) == ("市城市管理局", "市直")  # no district
    other = new_order(url)
    order = store.transition(
        url,
        other,
        "派单",
        CENTRE,
        now=T0,
        category="市场监管",
        department="市市场监督管理局",
        co_departments=["城东区人民政府"],
    )
    assert (order.department, order.level, order.co_departments) == (
        "市市场监督管理局",
        "市直",
        ["城东区人民政府"],
    )
    sign_due = store.timeline(url, other)[-1].data["sign_due"]
    assert datetime.fromisoformat(sign_due) == order.sign_due


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"category": "外星人"}, "category"),
        ({}, "category"),  # the order has none yet
        ({"category": "城市管理", "department": "市魔法部"}, "department"),
        ({"category": "城市管理", "district": "火星区"}, "district"),
        ({"category": "城市管理", "priority": "asap"}, "priority"),
        ({"category": "城市管理", "deparment": UNIT}, "deparment"),  # typo refused
    ],
)
def test_bad_dispatch_inputs_change_nothing(url: str, data: dict[str, Any], field: str) -> None:
    number = new_order(url, district=None)
    before = snapshot(url, number)
    with pytest.raises(InvalidField) as err:
        store.transition(url, number, "派单", CENTRE, now=T0, **data)
    assert err.value.field == field
    assert snapshot(url, number) == before


def test_departments_act_only_on_their_own_orders(url: str) -> None:
    number = dispatched(url)
    before = snapshot(url, number)
    with pytest.raises(NotPermitted, match="城西区人民政府"):
        store.transition(url, number, "签收", OTHER_DEPT, now=T0)
    with pytest.raises(NotPermitted):
        store.transition(url, number, "签收", CENTRE, now=T0)  # operators do not sign
    with pytest.raises(NotPermitted):
        store.transition(url, number, "归并", DEPT, now=T0, into=new_order(url))
    assert snapshot(url, number) == before
    assert store.transition(url, number, "签收", DEPT, now=T0).signed_at == T0


def test_return_needs_a_reason_and_the_centre_accepts_it(url: str) -> None:
    number = dispatched(url)
    with pytest.raises(InvalidField) as err:
        store.transition(url, number, "退单", DEPT, "  ", now=T0)
    assert err.value.field == "note"
    order = store.transition(url, number, "退单", DEPT, "属市场监管职责", now=T0)
    assert (order.status, order.department) == ("退单审核中", UNIT)  # still the unit's
    assert store.timeline(url, number)[-1].data == {"returned_from": UNIT}
    with pytest.raises(NotPermitted):  # a unit cannot review its own return
        store.transition(url, number, "审定退单", DEPT, now=T0)
    order = store.transition(url, number, "审定退单", CENTRE, "同意", now=T0)
    assert (order.status, order.department, order.sign_due) == ("待派单", None, None)
    assert store.timeline(url, number)[-1].data == {"returned_from": UNIT}
    order = store.transition(
        url, number, "派单", CENTRE, now=T0, category="市场监管", department="市市场监督管理局"
    )
    assert order.department == "市市场监督管理局"
    with pytest.raises(NotPermitted):  # the returning unit has no say any more
        store.transition(url, number, "签收", DEPT, now=T0)


@pytest.mark.parametrize("signed", [False, True], ids=["dispatched", "signed"])
def test_a_refused_return_goes_back_to_the_unit_as_it_was(url: str, signed: bool) -> None:
    number = dispatched(url)
    if signed:
        store.transition(url, number, "签收", DEPT, now=T0)
    state = "已签收" if signed else "已派单"
    store.transition(url, number, "退单", DEPT, "不归我单位管", now=T0 + timedelta(hours=1))
    with pytest.raises(InvalidField):  # sending back needs the centre's reason
        store.transition(url, number, "驳回退单", CENTRE, now=T0 + timedelta(hours=2))
    order = store.transition(
        url, number, "驳回退单", CENTRE, "属城管职责，请办理", now=T0 + timedelta(hours=2)
    )
    assert (order.status, order.department) == (state, UNIT)
    last = store.timeline(url, number)[-1]
    assert (last.from_status, last.to_status, last.note) == (
        "退单审核中",
        state,
        "属城管职责，请办理",
    )
    assert last.data == {"department": UNIT, "back_to": state}
    assert (order.signed_at is not None) is signed


def test_urge_and_escalate_stay_in_the_timeline_without_changing_the_state(url: str) -> None:
    number = dispatched(url)
    store.transition(url, number, "催办", CENTRE, now=T0 + timedelta(hours=1))
    with pytest.raises(InvalidField):
        store.transition(url, number, "督办", CENTRE, now=T0 + timedelta(hours=2))
    order = store.transition(url, number, "督办", CENTRE, "请今日签收", now=T0 + timedelta(hours=2))
    assert order.status == "已派单"
    steps = [(e.action, e.actor, e.note) for e in store.timeline(url, number)[-2:]]
    assert steps == [("催办", "中心:1001", None), ("督办", "中心:1001", "请今日签收")]
    with pytest.raises(NotPermitted):
        store.transition(url, number, "催办", DEPT, now=T0)


def test_extension_approve_moves_reply_due_refuse_keeps_it(url: str) -> None:
    number = order_in(url, Status.IN_PROGRESS, "")
    due = store.get(url, number).reply_due
    assert due == local(2026, 12, 7, 9)  # 投诉: 10 working days from T0
    with pytest.raises(InvalidField) as err:
        store.transition(url, number, "申请延期", DEPT, "需联合执法", now=T0, days=99)
    assert err.value.field == "days"
    store.transition(url, number, "申请延期", DEPT, "需联合执法", now=T0, days=3)
    order = store.transition(url, number, "批准延期", CENTRE, now=T0)
    assert order.status == "办理中"
    assert order.reply_due == local(2026, 12, 10, 9)  # +3 working days
    assert order.reply_yellow_at > due - timedelta(days=7)  # warnings moved with it
    store.transition(url, number, "申请延期", DEPT, "仍需时间", now=T0, days=5)
    order = store.transition(url, number, "驳回延期", CENTRE, "请按期办结", now=T0)
    assert (order.status, order.reply_due) == ("办理中", local(2026, 12, 10, 9))
    store.transition(url, number, "申请延期", DEPT, "仍需时间", now=T0, days=5)
    until = local(2026, 12, 31, 17, 30)
    order = store.transition(url, number, "批准延期", CENTRE, now=T0, until=until.isoformat())
    assert order.reply_due == until
    events = store.timeline(url, number)
    assert datetime.fromisoformat(events[-1].data["old_reply_due"]) == local(2026, 12, 10, 9)


def test_redo_only_after_an_unsatisfied_visit(url: str) -> None:
    happy = order_in(url, Status.CLOSED, "")
    store.transition(url, happy, "回访", CENTRE, now=T0, satisfaction="满意")
    with pytest.raises(IllegalTransition, match="不满意"):
        store.transition(url, happy, "重办", CENTRE, "再办一次", now=T0)
    with pytest.raises(InvalidField):
        closed = order_in(url, Status.CLOSED, "")
        store.transition(url, closed, "回访", CENTRE, now=T0, satisfaction="还行")

    number = order_in(url, Status.VISITED, "")  # rated 不满意
    later = local(2026, 11, 30, 9)
    order = store.transition(url, number, "重办", CENTRE, "市民反映仍未解决", now=later)
    assert (order.status, order.department, order.redo_count) == ("已派单", UNIT, 1)
    assert order.satisfaction is None and order.signed_at is None
    assert order.sign_due == local(2026, 11, 30, 13 + 2)  # a fresh sign-for clock
    assert order.reply_due == local(2026, 12, 14, 9)  # and a fresh reply clock
    store.transition(url, number, "签收", DEPT, now=later)  # the same unit signs again


def test_merge_into_another_order(url: str) -> None:
    first, dup = new_order(url), new_order(url, request_text="幸福路烧烤摊又来了")
    with pytest.raises(InvalidField):
        store.transition(url, dup, "归并", CENTRE, now=T0, into=dup)
    with pytest.raises(OrderNotFound):
        store.transition(url, dup, "归并", CENTRE, now=T0, into="20991231-0001")
    order = store.transition(url, dup, "归并", CENTRE, "同一事项", now=T0, into=first)
    assert (order.status, order.merged_into) == ("已归并", first)
    assert store.timeline(url, first)[-1].action == "并入"
    assert store.timeline(url, first)[-1].data == {"from": dup}
    assert store.related(url, dup) == [{"number": first, "kind": "merged", "direction": "to"}]
    assert store.related(url, first) == [{"number": dup, "kind": "merged", "direction": "from"}]
    third = new_order(url)
    with pytest.raises(InvalidField, match="已被归并"):
        store.transition(url, third, "归并", CENTRE, now=T0, into=dup)
    with pytest.raises(IllegalTransition):
        store.transition(url, dup, "派单", CENTRE, now=T0, category="城市管理")


def test_direct_close_by_the_centre(url: str) -> None:
    number = new_order(url, kind="咨询", request_text="公积金怎么提取？")
    with pytest.raises(InvalidField):
        store.transition(url, number, "办结", CENTRE, now=T0)  # what was answered?
    order = store.transition(url, number, "办结", CENTRE, "已按知识库答复提取条件", now=T0)
    assert order.status == "已办结"
    assert store.timeline(url, number)[-1].data == {"direct": True}


def test_unknown_orders_and_actions(url: str) -> None:
    with pytest.raises(OrderNotFound):
        store.transition(url, "20991231-0001", "签收", DEPT, now=T0)
    with pytest.raises(OrderNotFound):
        store.transition(url, "not-a-number", "签收", DEPT, now=T0)
    with pytest.raises(ValueError, match="未知操作"):
        store.transition(url, new_order(url), "撤销", CENTRE, now=T0)


def test_an_open_order_is_never_merged_into_a_closed_one(url: str) -> None:
    """Merged into an answered order, an open complaint left every list and no unit had it."""
    closed = new_order(url, kind="咨询", request_text="公积金怎么提取？")
    store.transition(url, closed, "办结", CENTRE, "已按知识库答复提取条件", now=T0)
    open_one = new_order(url, request_text="共享单车堵了盲道")
    with pytest.raises(InvalidField, match="已办结"):
        store.transition(url, open_one, "归并", CENTRE, now=T0, into=closed)
    assert store.get(url, open_one).status == "待派单"


def test_a_reopened_answer_of_the_centre_goes_back_to_the_centre(url: str) -> None:
    """不满意 with an order the centre answered itself dispatched it to the router's guess,
    a unit that never had it; it now waits for an operator to choose one."""
    number = new_order(url, kind="咨询", request_text="居住证办理要带哪些材料")
    store.transition(url, number, "办结", CENTRE, "携带身份证到街道便民服务中心办理", now=T0)
    store.transition(url, number, "回访", CENTRE, now=T0, satisfaction="不满意")
    order = store.transition(url, number, "重办", CENTRE, "答复不完整", now=T0)
    assert (order.status, order.redo_count, order.sign_due) == ("待派单", 1, None)
