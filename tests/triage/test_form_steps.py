"""The form's stepper as the Rasa-down fallback drives it (the Rasa form translates its slots to
the same steps, tests/actions/test_work_order.py): each field in turn, a hint then moving on,
the read-back, a change, 修改, 算了."""

from __future__ import annotations

from triage import form_steps
from triage.form_steps import READ_BACK, WHICH_FIELD


def texts(said: list[form_steps.Say]) -> list[str]:
    return [s.response or s.text for s in said]


def test_the_form_asks_each_field_then_reads_back_and_is_submitted_on_yes() -> None:
    form, first = form_steps.start("小区门口的路灯坏了", "complaint")
    assert first.response == "utter_ask_wo_where"
    for answer in ("江北区幸福路8号", "上周", "我叫张先生"):
        form_steps.step(form, answer)
    assert form["asked"] == "wo_phone"
    read_back = form_steps.step(form, "13912345678").said[0]
    assert form["asked"] == READ_BACK
    assert "联系电话：13912345678" in read_back.text and "您的称呼：张先生" in read_back.text
    assert [b["payload"] for b in read_back.buttons] == ["/affirm", "/deny"]
    assert form_steps.step(form, "确认").submit


def test_a_wrong_answer_gets_a_hint_and_the_second_moves_on() -> None:
    form, _ = form_steps.start("路灯坏了好几天", None)
    form["fields"] |= {"wo_where": "幸福路8号", "wo_when": "上周", "wo_name": "张先生"}
    form["asked"] = "wo_phone"
    hinted = form_steps.step(form, "不知道")
    assert texts(hinted.said) == ["utter_wo_phone_hint"] and form["asked"] == "wo_phone"
    moved_on = form_steps.step(form, "还是不知道")
    assert texts(moved_on.said)[0] == "utter_wo_give_up"
    assert form["fields"]["wo_phone"] == "未留" and form["asked"] == READ_BACK


def test_the_read_back_takes_a_change_asks_which_field_and_keeps_the_draft_when_unclear() -> None:
    form, _ = form_steps.start("路灯坏了好几天", None)
    form["fields"] |= {"wo_where": "幸福路8号", "wo_when": "上周", "wo_name": "张先生",
                       "wo_phone": "13912345678"}  # fmt: skip
    form["asked"] = READ_BACK
    changed = form_steps.step(form, "电话改成13800001111")
    assert changed.said[0].text == "好的，联系电话改为：13800001111。"
    assert "联系电话：13800001111" in changed.said[1].text
    unclear = form_steps.step(form, "嗯？")
    assert "没明白" in unclear.said[0].text and not unclear.submit and form["asked"] == READ_BACK
    form_steps.step(form, "修改")
    assert form["asked"] == WHICH_FIELD
    again = form_steps.step(form, "地址")
    assert texts(again.said) == ["utter_ask_wo_where"] and form["fields"]["wo_where"] is None
    assert form_steps.step(form, "算了，不办了").cancelled
