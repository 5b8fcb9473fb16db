"""Emergency, person, satisfaction, mid-form questions and misunderstandings, with tracker
fixtures as Rasa sends them, against a real SQLite store and the real knowledge service. Every
entry goes through action_triage, whatever the NLU said (the intent is not an input)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff import ActionSubmitCallback
from actions.render import ASK_PHONE
from actions.satisfaction import ActionAskSatisfaction, ActionStoreRating
from actions.triage_turn import ActionTriage
from actions.work_order import (
    ActionCancelWorkOrder,
    ActionCorrectField,
    ValidateWorkOrderForm,
)
from handoffs import presence, queue
from hotline import db
from hotline.conversations import open_handoffs, ratings_of
from hotline.settings import get_settings
from knowledge.service import import_sample_if_empty
from workorders import store


@pytest.fixture(autouse=True)
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("HOTLINE_VAR_DIR", str(tmp_path))
    get_settings.cache_clear()
    db.upgrade(get_settings().database_url)
    import_sample_if_empty(get_settings().database_url)
    yield
    get_settings.cache_clear()


def tracker(
    text: str,
    *,
    channel: str = "web",
    intent: str = "x",
    slots: dict[str, Any] | None = None,
    entities: list[dict[str, Any]] | None = None,
    metadata: dict[str, Any] | None = None,
) -> Tracker:
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.9},
        "entities": entities or [],
        "metadata": metadata or {},
    }
    events = [{"event": "user", "text": text, "input_channel": channel}]
    return Tracker(f"{channel}:u1", slots or {}, latest, events, False, None, {}, "action_listen")


def run(action, t: Tracker) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:  # type: ignore[no-untyped-def]
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, t, {}))
    return events, [m for m in dispatcher.messages if not m.get("custom")]


def decision(action, t: Tracker) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The triage decision the action sent with its reply."""
    dispatcher = CollectingDispatcher()
    asyncio.run(action.run(dispatcher, t, {}))
    return next(m["custom"]["triage"] for m in dispatcher.messages if m.get("custom"))


def url() -> str:
    return get_settings().database_url


def test_fire_tells_to_call_119_and_stores_an_emergency_order_first() -> None:
    events, messages = run(ActionTriage(), tracker("厨房着火了 在城东区东湖路"))
    assert "119" in messages[0]["text"]
    number = next(e["value"] for e in events if e["name"] == "last_order")
    order = store.get(url(), number)
    assert order.priority == "emergency" and number in messages[0]["text"]
    assert [h.reason for h in open_handoffs(url())] == ["emergency"]


def test_an_emergency_action_sent_again_logs_one_order_and_one_handoff() -> None:
    """Rasa sends an action call again when the replica running it died after doing the work
    (bot/hotline_connector.py): the centre's records count the emergency once."""
    first, _ = run(ActionTriage(), tracker("厨房着火了 在城东区东湖路"))
    again, _ = run(ActionTriage(), tracker("厨房着火了 在城东区东湖路"))
    numbers = {e["value"] for e in (*first, *again) if e["name"] == "last_order"}
    assert len(numbers) == 1
    assert [(h.reason, h.order_number) for h in open_handoffs(url())] == [
        ("emergency", numbers.pop())
    ]


def test_on_the_phone_the_emergency_number_is_spoken_and_no_buttons_are_sent() -> None:
    t = tracker("有人晕倒了没有呼吸", channel="voice", metadata={"caller_number": "13912345678"})
    _, messages = run(ActionTriage(), t)
    assert "幺二零" in messages[0]["text"] and not messages[0]["buttons"]
    (order,) = store.list_orders(url())
    assert order.citizen_phone == "13912345678"
    assert decision(ActionTriage(), t)["handoff"] is True  # the voice session transfers


def test_a_cry_for_help_without_a_recognisable_hazard_still_gets_110() -> None:
    _, messages = run(ActionTriage(), tracker("救命啊快来人", intent="emergency"))
    assert "110" in messages[0]["text"]


def test_a_fender_bender_with_nobody_hurt_is_a_question_not_an_emergency() -> None:
    text = "刚才倒车跟别人蹭了一下 两边都没人受伤 这种要报警吗"
    _, messages = run(ActionTriage(), tracker(text, intent="emergency"))
    assert not any("请立即拨打" in (m.get("text") or "") for m in messages)
    assert store.list_orders(url()) == []


def test_a_person_on_chat_is_told_honestly_and_gets_a_callback_order() -> None:
    events, messages = run(ActionTriage(), tracker("转人工"))
    assert "不能直接接通" in messages[0]["text"]
    assert events[-1] == {"event": "followup", "timestamp": None, "name": "callback_form"}
    t = tracker("13912345678", slots={"wo_phone": "13912345678"})
    events, messages = run(ActionSubmitCallback(), t)
    number = next(e["value"] for e in events if e["name"] == "last_order")
    assert number in messages[0]["text"] and "回电" in messages[0]["text"]
    order = store.get(url(), number)
    assert order.citizen_phone == "13912345678" and order.status == "待派单"
    assert [(h.reason, h.order_number) for h in open_handoffs(url())] == [("asked", number)]


def test_a_person_on_chat_joins_the_queue_when_an_operator_is_available() -> None:
    presence.set_status(url(), "op1", "available")
    t = tracker("转人工", slots={"kb_topic": None, "wo_where": "幸福路28号"})
    t.events.insert(0, {"event": "user", "text": "我家楼下路灯坏了 电话13812345678",
                        "input_channel": "web"})  # fmt: skip
    offered = {"kind": "clarify", "candidates": [{"id": "a", "title": "路灯坏了找谁"},
                                                 {"id": "b", "title": "路灯报修电话"}]}  # fmt: skip
    t.events.insert(1, {"event": "bot", "text": None, "data": {"custom": {"triage": offered}}})
    events, messages = run(ActionTriage(), t)
    assert "排在第1位" in messages[0]["text"] and "预计等待约3分钟" in messages[0]["text"]
    assert events[-1] == {"event": "followup", "timestamp": None, "name": "action_listen"}
    [item] = queue.listed(url(), "pending")
    assert item.conversation_id == "web:u1" and item.reason == "asked"
    assert item.summary["wants"] == "我家楼下路灯坏了 电话138****5678"
    assert item.summary["order_draft"] == {"地点": "幸福路28号"}
    assert item.summary["kb_hits"] == ["路灯坏了找谁", "路灯报修电话"]
    # Asking again keeps the place; nothing is added to the queue.
    _, messages = run(ActionTriage(), tracker("转人工"))
    assert "排在第1位" in messages[0]["text"] and len(queue.listed(url(), "pending")) == 1


def test_a_caller_asking_for_a_person_gets_a_handoff_decision_and_no_callback_form() -> None:
    t = tracker("转人工", channel="voice", metadata={"caller_number": "0716-8123456"})
    events, messages = run(ActionTriage(), t)
    assert "转接" in messages[0]["text"]
    assert not any(e.get("name") == "callback_form" for e in events)
    assert decision(ActionTriage(), t) == {"kind": "handoff", "handoff": True, "reason": "asked"}


def test_a_lone_zero_pressed_on_the_phone_is_a_handoff() -> None:
    t = tracker("0", channel="voice", metadata={"dtmf": "0"})
    assert decision(ActionTriage(), t)["reason"] == "dtmf_0"


def test_satisfaction_is_asked_with_buttons_on_chat_and_stored() -> None:
    _, messages = run(ActionAskSatisfaction(), tracker("再见"))
    assert [b["title"] for b in messages[0]["buttons"]] == ["满意", "基本满意", "不满意"]
    _, spoken = run(ActionAskSatisfaction(), tracker("再见", channel="voice"))
    assert not spoken[0]["buttons"] and "满意" in spoken[0]["text"]
    events, _ = run(ActionStoreRating(), tracker("还行吧"))
    assert events[0]["name"] == "rated" and events[0]["value"] is True
    _, messages = run(
        ActionStoreRating(),
        tracker(
            '/rate_service{"rating":"不满意"}', entities=[{"entity": "rating", "value": "不满意"}]
        ),
    )
    assert "抱歉" in messages[0]["text"]
    assert ratings_of(url(), "web:u1") == ["基本满意", "不满意"]
    _, again = run(ActionAskSatisfaction(), tracker("拜拜", slots={"rated": True}))
    assert again[0]["response"] == "utter_goodbye"  # asked once per conversation


def test_a_question_in_the_middle_of_the_form_is_answered_and_the_field_asked_again() -> None:
    t = tracker(
        "对了 公积金怎么提取啊",
        intent="consult",
        slots={"requested_slot": "wo_where", "wo_what": "路灯坏了"},
    )
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ValidateWorkOrderForm().get_validation_events(dispatcher, t, {}))
    assert {"event": "slot", "timestamp": None, "name": "wo_where", "value": None} in events
    first = dispatcher.messages[0]  # answered, or the close entries offered as buttons
    shown = (first.get("text") or "") + "".join(b["title"] for b in first.get("buttons") or [])
    assert "公积金" in shown
    assert dispatcher.messages[-1]["text"] == "我们接着登记刚才的问题。"


def test_a_question_without_a_question_mark_is_not_taken_for_the_address() -> None:
    t = tracker("户照过期了去哪办", slots={"requested_slot": "wo_where", "wo_what": "不交公积金"})
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ValidateWorkOrderForm().get_validation_events(dispatcher, t, {}))
    assert {"event": "slot", "timestamp": None, "name": "wo_where", "value": None} in events
    assert dispatcher.messages[-1]["text"] == "我们接着登记刚才的问题。"


def test_an_address_is_never_taken_for_a_question() -> None:
    t = tracker("城西区人民路8号", slots={"requested_slot": "wo_where", "wo_what": "路灯坏了"})
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ValidateWorkOrderForm().get_validation_events(dispatcher, t, {}))
    assert dispatcher.messages == []  # no answer, no "we carry on": taken as the address
    assert {"event": "slot", "timestamp": None, "name": "wo_where", "value": None} not in events


def _asking(slot: str, text: str, intent: str, **slots: Any) -> Tracker:
    """A tracker whose form just asked for `slot` and left the loop on `text` (as the in-form
    rules for request_human and emergency do)."""
    t = tracker(text, intent=intent, slots={"wo_kind": "投诉", "wo_what": "路灯坏了", **slots})
    t.events[:0] = [
        {"event": "slot", "name": "requested_slot", "value": slot},
        {"event": "slot", "name": "requested_slot", "value": None},
    ]
    return t


def test_a_name_misheard_as_a_request_for_a_person_goes_back_into_the_form() -> None:
    events, messages = run(ActionTriage(), _asking("wo_name", "郑工", "request_human"))
    assert messages == []
    assert events == [
        {"event": "slot", "timestamp": None, "name": "wo_name", "value": "郑工"},
        {"event": "followup", "timestamp": None, "name": "work_order_form"},
    ]
    assert open_handoffs(url()) == []


def test_an_answer_misheard_as_an_emergency_opens_nothing_and_the_form_goes_on() -> None:
    events, messages = run(ActionTriage(), _asking("wo_when", "快一个月了", "emergency"))
    assert not messages and events[-1]["name"] == "work_order_form"
    assert store.list_orders(url()) == []


def test_a_policy_question_the_nlu_took_for_a_request_for_a_person_is_answered() -> None:
    t = tracker("公积金每个月交百分之几", intent="request_human")
    d = decision(ActionTriage(), t)
    assert d["handoff"] is False and d["kind"] != "handoff"


def test_a_question_filed_as_a_complaint_is_answered_not_made_an_order() -> None:
    t = tracker("想辞职，需要提前多久告诉单位？", intent="report_problem")
    assert decision(ActionTriage(), t)["kind"] == "answer"
    events, _ = run(ActionTriage(), t)  # and no form after it, whatever report_problem's rule
    assert events[-1] == {"event": "followup", "timestamp": None, "name": "action_listen"}
    # A grievance that asks nothing opens the form, prefilled with what was said.
    events, _ = run(ActionTriage(), tracker("楼下烧烤店天天半夜吵", intent="consult"))
    assert {e.get("name"): e.get("value") for e in events}["wo_what"] == "楼下烧烤店天天半夜吵"
    assert events[-1] == {"event": "followup", "timestamp": None, "name": "work_order_form"}


def test_no_sure_answer_is_said_honestly_with_the_nearest_entries_to_pick_from() -> None:
    text = "身份证加急办理要多少钱"  # the KB has the entries, not the local fee
    _, messages = run(ActionTriage(), tracker(text))
    said = messages[0]
    assert "没有找到" in said["text"]
    titles = [b["title"] for b in said["buttons"]]
    assert any('"entry_id":"hj-' in b["payload"] for b in said["buttons"])
    assert titles[-2:] == ["登记工单", "转人工"] and len(titles) >= 3
    # On the phone the options are read out, to be picked by saying 第几个.
    _, spoken = run(ActionTriage(), tracker(text, channel="voice"))
    assert "第1个，" in spoken[0]["text"] and not spoken[0].get("buttons")


def test_asking_after_an_earlier_report_is_a_status_query_whatever_the_nlu_said() -> None:
    t = tracker("上个月打电话反映过欠工资的事 想问问进展", intent="consult")
    _, messages = run(ActionTriage(), t)
    assert messages[0]["response"] == "utter_ask_order_number"  # no order of theirs yet


def test_an_order_number_on_its_own_is_looked_up_whatever_the_nlu_said() -> None:
    _, messages = run(ActionTriage(), tracker("20261122-0999", intent="nlu_fallback"))
    assert messages[0]["text"] == ASK_PHONE  # the lookup, asking whose order it is
    with_phone = tracker("20261122-0999 13812345678", intent="nlu_fallback")
    _, messages = run(ActionTriage(), with_phone)
    assert messages[0]["response"] == "utter_order_not_found"


def test_a_question_the_nlu_called_chit_chat_is_answered_when_the_kb_is_sure() -> None:
    t = tracker("最近压力特别大 整晚睡不着 有没有不要钱的心理咨询热线", intent="out_of_scope")
    _, messages = run(ActionTriage(), t)
    assert "来源" in (messages[0].get("text") or "")
    d = decision(ActionTriage(), tracker("给我讲个笑话吧", intent="out_of_scope"))
    assert d["kind"] == "abstain"


def test_the_second_misunderstanding_in_a_row_offers_a_person() -> None:
    t = tracker("给我讲个笑话吧")
    t.events[:0] = [
        {"event": "user", "text": "哈哈哈"},
        {"event": "slot", "name": "misses", "value": 1},
    ]
    _, messages = run(ActionTriage(), t)
    assert messages[0]["response"] == "utter_fallback_again"
    assert [b["title"] for b in messages[0]["buttons"]] == ["转人工", "登记工单"]
    assert queue.listed(url(), "pending") == []  # no operator on duty: only the offer


def test_the_second_misunderstanding_in_a_row_reaches_an_operator_on_duty() -> None:
    presence.set_status(url(), "op1", "available")
    t = tracker("给我讲个笑话吧")
    t.events[:0] = [
        {"event": "user", "text": "哈哈哈"},
        {"event": "slot", "name": "misses", "value": 1},
    ]
    events, messages = run(ActionTriage(), t)
    assert messages[0]["text"].startswith("抱歉，我还是没能理解您的问题。")
    assert "排在第1位" in messages[0]["text"]
    assert events[-1] == {"event": "followup", "timestamp": None, "name": "action_listen"}
    [item] = queue.listed(url(), "pending")
    assert item.reason == "misunderstood"


def test_service_hours_only_for_the_hotline_itself() -> None:
    _, hours = run(ActionTriage(), tracker("你们晚上几点下班"))
    assert "24小时" in hours[0]["text"]
    _, other = run(ActionTriage(), tracker("个税专项附加扣除怎么填报"))
    assert "24小时" not in (other[0].get("text") or "")
    _, pool = run(ActionTriage(), tracker("体育中心的游泳馆暑假开放到晚上几点"))
    assert "24小时" not in (pool[0].get("text") or "")


def test_a_question_the_nlu_took_for_a_correction_goes_to_triage_when_there_is_no_draft() -> None:
    events, _ = run(ActionCorrectField(), tracker("想打电话问移民局的事有没有个统一的号码"))
    assert events == [{"event": "followup", "timestamp": None, "name": "action_triage"}]


def test_a_correction_with_the_new_value_is_taken_at_once() -> None:
    said = [{"entity": "phone", "value": "13907160000"}]
    drafting = {"wo_kind": "投诉"}
    t = tracker("电话说错了 是13907160000", entities=said, slots=drafting)
    events, _ = run(ActionCorrectField(), t)
    assert events[0]["name"] == "wo_phone" and events[0]["value"] == "13907160000"
    events, _ = run(ActionCorrectField(), tracker("地址说错了 应该是创业路28号", slots=drafting))
    assert events[0]["name"] == "wo_where" and events[0]["value"] == "创业路28号"
    events, _ = run(ActionCorrectField(), tracker("电话说错了", slots=drafting))
    assert events[0]["value"] is None  # asked again


def test_a_correction_of_one_part_keeps_the_rest_of_the_address() -> None:
    where = "经济开发区创业路18号 华信电子厂"
    t = tracker(
        "等下 地址说错了 是创业路28号不是18号", slots={"wo_where": where, "wo_kind": "投诉"}
    )
    events, _ = run(ActionCorrectField(), t)
    assert events[0]["value"] == "经济开发区创业路28号 华信电子厂"


def test_a_name_corrected_when_the_phone_is_asked_is_changed_and_the_phone_asked_again() -> None:
    t = tracker(
        "刚才名字没说清楚 我姓谢 言字旁那个谢 叫我谢女士",
        intent="inform",
        slots={"requested_slot": "wo_phone", "wo_what": "油烟扰民", "wo_name": "谢"},
        entities=[{"entity": "person", "value": "谢"}, {"entity": "person", "value": "谢女士"}],
    )
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ValidateWorkOrderForm().get_validation_events(dispatcher, t, {}))
    assert {"event": "slot", "timestamp": None, "name": "wo_name", "value": "谢女士"} in events
    assert {"event": "slot", "timestamp": None, "name": "wo_phone", "value": None} in events
    assert "谢女士" in dispatcher.messages[0]["text"]


def test_a_reply_the_nlu_took_for_a_cancel_keeps_the_draft() -> None:
    t = _asking("wo_phone", "都不是我要问的", "cancel")
    events, messages = run(ActionCancelWorkOrder(), t)
    assert messages == [] and events[-1]["name"] == "work_order_form"


def test_cancelling_forgets_the_half_filled_form() -> None:
    events, messages = run(ActionCancelWorkOrder(), tracker("算了", slots={"wo_kind": "投诉"}))
    assert messages[0]["response"] == "utter_wo_cancelled"
    assert {e["name"]: e["value"] for e in events}["wo_kind"] is None


def test_an_answer_the_nlu_took_for_a_correction_fills_the_field_asked() -> None:
    t = tracker("城西区人民路8号", slots={"requested_slot": "wo_where", "wo_kind": "投诉"})
    events, _ = run(ActionCorrectField(), t)
    assert events == [
        {"event": "slot", "timestamp": None, "name": "wo_where", "value": "城西区人民路8号"}
    ]
