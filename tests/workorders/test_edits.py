"""修改工单 through the store, on SQLite and on PostgreSQL: the centre corrects an open order's
request text, address, category and phone; each change is a timeline step with old → new (phone
numbers masked); a closed order, a department and bad input are refused and change nothing; the
same edit twice adds one step."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from tests.workorders.support import CENTRE, DEPT, T0, UNIT, dispatched, new_order
from workorders import edits, store
from workorders.config import WorkOrderConfig
from workorders.states import NotPermitted, Status
from workorders.store import InvalidField, OrderNotFound

LATER = T0 + timedelta(hours=1)


def test_an_edit_changes_the_fields_and_records_old_and_new(url: str) -> None:
    number = dispatched(url)
    order, changed = edits.edit(
        url, number, CENTRE,
        {"request_text": "幸福路12号门口晚上有人占道烧烤，请联系我13912345678",
         "address": "城东区幸福路14号", "category": "市容环卫", "citizen_phone": "0571-88123456"},
        "市民来电更正地址", now=LATER,
    )  # fmt: skip
    got = store.get(url, number)
    assert (got.address, got.category, got.citizen_phone) == (
        "城东区幸福路14号", "市容环卫", "0571-88123456"
    )  # fmt: skip
    assert got.request_text.endswith("13912345678")  # the order itself keeps the whole text
    assert got.summary.startswith("幸福路12号门口")  # a derived summary follows the text
    assert got.status == Status.DISPATCHED and got.department == order.department
    step = store.timeline(url, number)[-1]
    assert (step.action, step.actor, step.at, step.note) == ("修改", "中心:1001", LATER,
                                                              "市民来电更正地址")  # fmt: skip
    assert step.from_status == step.to_status == "已派单"
    changes = step.data["changes"]
    assert changes["address"] == {"from": "城东区幸福路12号", "to": "城东区幸福路14号"}
    assert changes["category"] == {"from": "城市管理", "to": "市容环卫"}
    assert changes["citizen_phone"] == {"from": "138****5678", "to": "0571-****3456"}
    assert "139****5678" in changes["request_text"]["to"]
    assert "13912345678" not in str(step.data) and "13812345678" not in str(step.data)
    assert changed["citizen_phone"] == ("138****5678", "0571-****3456")


def test_the_same_edit_again_adds_no_step(url: str) -> None:
    number = dispatched(url)
    edits.edit(url, number, CENTRE, {"address": "城东区幸福路14号"})
    steps = len(store.timeline(url, number))
    _, changed = edits.edit(url, number, CENTRE, {"address": " 城东区幸福路14号 "})
    assert changed == {} and len(store.timeline(url, number)) == steps
    _, changed = edits.edit(url, number, CENTRE, {"citizen_phone": "138 1234 5678"})
    assert changed == {}  # the same number as stored, however it was typed


@pytest.mark.parametrize("status", ["已办结", "已回访", "已归并"])
def test_a_closed_order_cannot_be_edited(url: str, status: str) -> None:
    number = dispatched(url)
    if status == "已归并":
        other = new_order(url)
        store.transition(url, number, "归并", CENTRE, "同一事项", into=other)
    else:
        store.transition(url, number, "签收", DEPT)
        store.transition(url, number, "反馈", DEPT, "已劝离")
        store.transition(url, number, "办结", CENTRE, "已答复")
        if status == "已回访":
            store.transition(url, number, "回访", CENTRE, satisfaction="满意")
    steps = len(store.timeline(url, number))
    with pytest.raises(edits.ClosedOrder, match=f"工单{status}，不能再修改"):
        edits.edit(url, number, CENTRE, {"address": "别处"})
    assert store.get(url, number).address == "城东区幸福路12号"
    assert len(store.timeline(url, number)) == steps


def test_only_the_centre_edits(url: str) -> None:
    number = dispatched(url)
    with pytest.raises(NotPermitted, match="只有中心可以修改工单"):
        edits.edit(url, number, DEPT, {"address": "别处"})
    assert store.get(url, number).address == "城东区幸福路12号"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"citizen_phone": "12345"}, "citizen_phone"),
        ({"citizen_phone": " "}, "citizen_phone"),
        ({"category": "外星人"}, "category"),
        ({"category": ""}, "category"),  # a type once set cannot be removed
        ({"request_text": "  "}, "request_text"),
        ({"request_text": "长" * 2001}, "request_text"),
        ({"address": "路" * 201}, "address"),
        ({"department": "市交通运输局"}, "department"),  # routing is not an edit
        ({"address": 12}, "address"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(url: str, changes: dict, field: str) -> None:  # type: ignore[type-arg]
    number = dispatched(url)
    steps = len(store.timeline(url, number))
    with pytest.raises(InvalidField) as refused:
        edits.edit(url, number, CENTRE, {"address": "城东区幸福路14号", **changes})
    assert refused.value.field == field
    assert store.get(url, number).address == "城东区幸福路12号"
    assert len(store.timeline(url, number)) == steps


def test_an_unknown_order(url: str) -> None:
    with pytest.raises(OrderNotFound):
        edits.edit(url, "20261123-9999", CENTRE, {"address": "别处"})


def test_a_new_category_retimes_the_reply_only_before_dispatch(url: str) -> None:
    waiting = new_order(url, category="城市管理")
    before = store.get(url, waiting).reply_due
    edits.edit(url, waiting, CENTRE, {"category": "供电"})  # utilities answer within 2 days
    after = store.get(url, waiting).reply_due
    assert before and after and after < before
    assert store.timeline(url, waiting)[-1].data["reply_due"] == after.isoformat()

    sent = dispatched(url)
    promised = store.get(url, sent).reply_due
    edits.edit(url, sent, CENTRE, {"category": "供电"})
    assert store.get(url, sent).reply_due == promised  # the department's deadline stands


def test_the_log_names_fields_not_values(url: str, caplog: pytest.LogCaptureFixture) -> None:
    number = dispatched(url)
    with caplog.at_level(logging.INFO, logger="workorders.edits"):
        edits.edit(url, number, CENTRE, {"citizen_phone": "13912345678", "address": "幸福路"})
    assert f"work order {number} edited (citizen_phone, address) by 中心:1001" in caplog.text
    assert "13912345678" not in caplog.text and "幸福路" not in caplog.text


def test_before_dispatch_a_default_department_follows_the_category(
    url: str, cfg: WorkOrderConfig
) -> None:
    proposed = new_order(url, category="城市管理", department=UNIT)  # the 城东区 default
    edits.edit(url, proposed, CENTRE, {"category": "供电"})
    moved = cfg.default_department("供电", "城东区")
    assert moved != UNIT and store.get(url, proposed).department == moved
    step = store.timeline(url, proposed)[-1]
    assert step.data["changes"]["department"] == {"from": UNIT, "to": moved}

    chosen = new_order(url, category="城市管理", department="市交通运输局")  # an operator's pick
    edits.edit(url, chosen, CENTRE, {"category": "供电"})
    assert store.get(url, chosen).department == "市交通运输局"

    sent = dispatched(url)  # the unit holds it: re-routing is 退单's business
    department = store.get(url, sent).department
    edits.edit(url, sent, CENTRE, {"category": "供电"})
    assert store.get(url, sent).department == department


def test_line_breaks_as_a_browser_sends_them_are_no_change(url: str) -> None:
    number = new_order(url, request_text="第一行\n第二行")
    _, changed = edits.edit(url, number, CENTRE, {"request_text": "第一行\r\n第二行"})
    assert changed == {}
