"""The work-order dialogue actions with tracker fixtures, against a real SQLite store."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.render import ASK_PHONE
from actions.triage_turn import ActionTriage
from actions.work_order import (
    ActionAskWoConfirm,
    ActionCorrectField,
    ActionSubmitWorkOrder,
    ValidateWorkOrderForm,
)
from hotline import db
from hotline.settings import get_settings
from knowledge.service import import_sample_if_empty
from workorders import store

FILLED = {
    "wo_kind": "投诉",
    "wo_what": "小区门口路灯坏了一周",
    "wo_where": "城东区幸福路12号",
    "wo_when": "上周五",
    "wo_name": "张先生",
    "wo_phone": "13812345678",
}


@pytest.fixture(autouse=True)
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("HOTLINE_VAR_DIR", str(tmp_path))
    get_settings.cache_clear()
    db.upgrade(get_settings().database_url)
    import_sample_if_empty(get_settings().database_url)
    yield
    get_settings.cache_clear()


def tracker(
    text: str = "",
    slots: dict[str, Any] | None = None,
    entities: list | None = None,
    sender: str = "web:u1",
) -> Tracker:
    latest = {"text": text, "intent": {"name": "x"}, "entities": entities or [], "metadata": {}}
    events = [{"event": "user", "text": text, "input_channel": "web"}]
    return Tracker(sender, slots or {}, latest, events, False, None, {}, "action_listen")


def run(action, t: Tracker) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:  # type: ignore[no-untyped-def]
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, t, {}))
    return events, [m for m in dispatcher.messages if not m.get("custom")]


def test_start_takes_the_kind_and_keeps_a_descriptive_first_message() -> None:
    events, _ = run(ActionTriage(), tracker("我要投诉"))
    assert {"event": "slot", "timestamp": None, "name": "wo_kind", "value": "投诉"} in events
    assert not any(e.get("name") == "wo_what" for e in events)
    events, _ = run(ActionTriage(), tracker("楼下烧烤店天天半夜吵"))
    assert any(e["name"] == "wo_what" and e["value"] == "楼下烧烤店天天半夜吵" for e in events)


def test_phone_is_validated_and_re_asked_with_a_hint() -> None:
    form, dispatcher = ValidateWorkOrderForm(), CollectingDispatcher()
    t = tracker()
    assert form.validate_wo_phone("138 1234 5678", dispatcher, t, {})["wo_phone"] == "13812345678"
    assert form.validate_wo_phone("0716-8123456", dispatcher, t, {})["wo_phone"] == "0716-8123456"
    assert form.validate_wo_phone("12345", dispatcher, t, {}) == {
        "wo_phone": None,
        "wo_failures": 1,
    }
    assert dispatcher.messages[-1]["response"] == "utter_wo_phone_hint"
    assert form.validate_wo_name("我叫张三", dispatcher, t, {})["wo_name"] == "张三"


def test_a_second_bad_answer_moves_on_with_an_offer_of_a_person_never_a_third_ask() -> None:
    form, dispatcher = ValidateWorkOrderForm(), CollectingDispatcher()
    once = tracker("1234", {"wo_failures": 1})
    assert form.validate_wo_phone("1234", dispatcher, once, {}) == {
        "wo_phone": "未留",
        "wo_failures": 0,
    }
    assert dispatcher.messages[-1]["response"] == "utter_wo_give_up"
    _, messages = run(ActionSubmitWorkOrder(), tracker("确认", {**FILLED, "wo_phone": "未留"}))
    number = re.search(r"工单号是(\d{8}-\d{4})", messages[0]["text"])[1]
    assert store.get(get_settings().database_url, number).citizen_phone is None


def test_the_first_message_fills_what_it_already_says() -> None:
    entities = [
        {"entity": "address", "value": "城东区东湖路"},
        {"entity": "date", "value": "昨天晚上"},
        {"entity": "phone", "value": "139 1234 5678"},
    ]
    events, _ = run(ActionTriage(), tracker("城东区东湖路昨天晚上路灯全灭了", entities=entities))
    slots = {e.get("name"): e.get("value") for e in events}
    assert slots["wo_where"] == "城东区东湖路" and slots["wo_when"] == "昨天晚上"
    assert slots["wo_phone"] == "13912345678"


def test_an_emergency_reported_as_a_complaint_takes_the_emergency_path() -> None:
    events, messages = run(ActionTriage(), tracker("我要反映 楼下着火了好大的烟"))
    assert "119" in messages[0]["text"]
    assert not any(e.get("name") == "work_order_form" for e in events)


def test_a_correction_clears_the_named_field() -> None:
    events, _ = run(ActionCorrectField(), tracker("电话说错了", FILLED))
    assert [(e["name"], e["value"]) for e in events] == [
        ("wo_phone", None),
        ("wo_confirm", None),
        ("wo_fix", None),
    ]


def test_submit_stores_first_then_gives_the_number_and_is_idempotent() -> None:
    events, messages = run(ActionSubmitWorkOrder(), tracker("确认", FILLED))
    number = re.search(r"工单号是(\d{8}-\d{4})", messages[0]["text"])[1]
    order = store.get(get_settings().database_url, number)
    assert (order.kind, order.citizen_phone, order.address) == (
        "投诉",
        "13812345678",
        "城东区幸福路12号",
    )
    assert "上周五" in order.request_text and order.conversation_id == "web:u1"
    assert "前答复您" in messages[0]["text"]
    assert {"event": "slot", "timestamp": None, "name": "last_order", "value": number} in events
    _, again = run(ActionSubmitWorkOrder(), tracker("确认", FILLED))  # Rasa retried the call
    assert number in again[0]["text"]
    assert store.count_orders(get_settings().database_url) == 1


def test_status_query_by_number_and_by_conversation() -> None:
    _, messages = run(ActionSubmitWorkOrder(), tracker("确认", FILLED))
    number = re.search(r"工单号是(\d{8}-\d{4})", messages[0]["text"])[1]
    entity = [{"entity": "order_number", "value": number}]
    _, by_number = run(ActionTriage(), tracker(f"查询{number}", entities=entity))
    said = by_number[0]["text"]
    assert number in said and ("已受理" in said or "已转交" in said)  # 智能派单 may dispatch
    _, mine = run(ActionTriage(), tracker("我的投诉怎么样了"))
    assert number in mine[0]["text"]
    _, none = run(ActionTriage(), tracker("查20200101-0001 13812345678"))
    assert none[0]["response"] == "utter_order_not_found"


def test_another_conversation_needs_the_phone_given_at_filing() -> None:
    """The number alone tells nothing, known or not; a wrong phone answers as an unknown
    number; the phone given at filing shows the order (and no other)."""
    _, messages = run(ActionSubmitWorkOrder(), tracker("确认", FILLED))
    number = re.search(r"工单号是(\d{8}-\d{4})", messages[0]["text"])[1]
    for text in (f"查询{number}", "查询20200101-0001"):
        _, asked = run(ActionTriage(), tracker(text, sender="web:stranger"))
        assert asked[0]["text"] == ASK_PHONE and number not in asked[0]["text"]
    _, wrong = run(ActionTriage(), tracker(f"{number} 13900001111", sender="web:stranger"))
    assert wrong[0]["response"] == "utter_order_not_found"
    for phone in ("13812345678", "138 1234 5678", "１３８１２３４５６７８"):
        said = f"{number}，电话{phone}"
        _, right = run(ActionTriage(), tracker(said, sender="web:stranger"))
        assert len(right) == 1 and number in right[0]["text"], said


# ---- the read-back: the last step of the form; the draft survives whatever is said there ----


def _confirm(text: str, slots: dict[str, Any] | None = None, entities: list | None = None):  # type: ignore[no-untyped-def]
    dispatcher = CollectingDispatcher()
    t = tracker(text, {**FILLED, "requested_slot": "wo_confirm", **(slots or {})}, entities)
    result = ValidateWorkOrderForm().validate_wo_confirm(text, dispatcher, t, {})
    return result, dispatcher.messages


def test_the_read_back_lists_every_field_with_confirm_and_change_buttons() -> None:
    _, messages = run(ActionAskWoConfirm(), tracker("", FILLED))
    text = messages[0]["text"]
    assert all(v in text for k, v in FILLED.items() if k != "wo_kind")
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/affirm", "/deny"]


@pytest.mark.parametrize("said", ["确认", "是的，没问题", "对的没问题", "/affirm", "没错 提交吧"])
def test_a_yes_at_the_read_back_confirms(said: str) -> None:
    result, _ = _confirm(said)
    assert result["wo_confirm"] == "yes"


def test_the_phone_number_said_again_at_the_read_back_keeps_the_draft_and_asks_again() -> None:
    result, messages = _confirm("13812345678")
    assert result["wo_confirm"] is None and "确认" in messages[0]["text"]
    assert "wo_what" not in result  # nothing of the draft is touched
    result, _ = _confirm("是的，没问题", {"wo_failures": 1})
    assert result["wo_confirm"] == "yes"


def test_another_number_at_the_read_back_changes_the_phone_and_reads_back_again() -> None:
    said = [{"entity": "phone", "value": "13907160000"}]
    result, messages = _confirm("13907160000", entities=said)
    assert result["wo_phone"] == "13907160000" and result["wo_confirm"] is None
    assert "13907160000" in messages[0]["text"]


def test_a_no_at_the_read_back_asks_which_field() -> None:
    result, _ = _confirm("不对")
    assert result == {"wo_confirm": None, "wo_fix": True, "wo_failures": 0}
    _, messages = run(ActionAskWoConfirm(), tracker("", {**FILLED, "wo_fix": True}))
    assert messages[0]["response"] == "utter_wo_which_field"
    assert len(messages[0]["buttons"]) == 5


def test_a_field_named_at_the_read_back_is_changed_or_asked_again() -> None:
    result, _ = _confirm("地址改成城东区幸福路18号")
    assert result["wo_where"] == "城东区幸福路18号" and result["wo_confirm"] is None
    result, _ = _confirm("名字不对")
    assert result["wo_name"] is None  # the form asks for it, then reads back again


def test_an_unclear_reply_at_the_read_back_is_asked_again_never_dropped() -> None:
    result, messages = _confirm("啊？你说啥")
    assert result == {"wo_confirm": None, "wo_failures": 1}
    assert "取消" in messages[0]["text"]  # the way out is said, never taken for the citizen


@pytest.mark.parametrize(
    ("slot", "bad"),
    [("wo_what", "嗯"), ("wo_where", "啊"), ("wo_name", ""), ("wo_phone", "不知道")],
)
def test_a_reply_that_does_not_fit_a_field_asks_it_again_and_keeps_the_rest(
    slot: str, bad: str
) -> None:
    form, dispatcher = ValidateWorkOrderForm(), CollectingDispatcher()
    t = tracker(bad, {k: v for k, v in FILLED.items() if k != slot} | {"requested_slot": slot})
    result = getattr(form, f"validate_{slot}")(bad, dispatcher, t, {})
    assert result == {slot: None, "wo_failures": 1}
    assert dispatcher.messages[-1]["response"] == f"utter_{slot}_hint"


def test_an_order_made_on_wechat_keeps_the_openid_the_transport_signed_for() -> None:
    def wechat(openid: str, sender: str) -> Tracker:
        latest = {"text": "确认", "intent": {"name": "x"}, "entities": [],
                  "metadata": {"openid": openid}}  # fmt: skip
        events = [{"event": "user", "text": "确认", "input_channel": "wechat"}]
        return Tracker(sender, FILLED, latest, events, False, None, {}, "action_listen")

    url = get_settings().database_url
    for openid, sender, kept in (("oAbC123_openid-x", "wechat:w1", "oAbC123_openid-x"),
                                 ("bad openid!", "wechat:w2", None)):  # fmt: skip
        _, messages = run(ActionSubmitWorkOrder(), wechat(openid, sender))
        number = re.search(r"工单号是(\d{8}-\d{4})", messages[0]["text"])[1]  # type: ignore[index]
        assert store.get(url, number).wechat_openid == kept
    web = run(ActionSubmitWorkOrder(), tracker("确认", FILLED, sender="web:w3"))[1]
    number = re.search(r"工单号是(\d{8}-\d{4})", web[0]["text"])[1]  # type: ignore[index]
    assert store.get(url, number).wechat_openid is None
