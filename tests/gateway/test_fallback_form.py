"""A complaint form Rasa had begun, finished by the triage fallback when Rasa went away
(gateway/fallback.py): it goes on from the step Rasa was at, with what the citizen already told
Rasa, and marks Rasa's form to be closed when Rasa is back."""

from __future__ import annotations

from pathlib import Path

from gateway import fallback
from hotline import db
from hotline.settings import Settings
from workorders import store
from workorders.queries import OrderFilter

DRAFT = {"wo_what": "楼下烧烤店天天半夜吵得睡不着", "wo_where": "江北区幸福路8号",
         "wo_when": "昨天半夜", "wo_name": "张先生", "wo_phone": "13912345678",
         "wo_kind": "投诉"}  # fmt: skip


def settings_for(tmp_path: Path) -> Settings:
    settings = Settings(var_dir=tmp_path, knowledge_preload=False)
    db.upgrade(settings.database_url)
    return settings


def test_at_rasas_read_back_a_yes_stores_the_draft_rasa_had(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    state = {"rasa_form": {"requested": "wo_confirm", "slots": DRAFT}}
    reply = fallback.answer(settings, "web", "web:r1", "确认", ("13912345678", state), {})
    assert reply.order is not None and "工单号" in reply.messages[-1]["text"]
    [order] = store.list_orders(settings.database_url, OrderFilter())
    assert (order.address, order.citizen_name, order.kind) == ("江北区幸福路8号", "张先生", "投诉")
    assert fallback.rasa_form_closed(reply.state)  # Rasa's form is closed on its next turn


def test_mid_form_the_next_question_is_the_first_field_still_missing(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    told = {k: DRAFT[k] for k in ("wo_what", "wo_where")}
    state = {"rasa_form": {"requested": "wo_when", "slots": told}}
    reply = fallback.answer(settings, "web", "web:r2", "昨天半夜", ("江北区幸福路8号", state), {})
    assert "称呼" in reply.messages[-1]["text"]  # not the problem or the address again
    assert reply.state["form"]["fields"]["wo_where"] == "江北区幸福路8号"
    assert not fallback.rasa_form_closed(reply.state)  # the form is still open here
    assert store.list_orders(settings.database_url, OrderFilter()) == []


def test_without_rasa_the_order_button_starts_the_form_asking_what_happened(
    tmp_path: Path,
) -> None:
    settings = settings_for(tmp_path)
    missed = ("体验个人水电费测试", {"misses": 1})  # the turn the bot did not understand
    reply = fallback.answer(settings, "web", "web:r4", "/report_problem", missed, {})
    texts = [m["text"] for m in reply.messages]
    assert texts[0].startswith("好的，我来帮您登记"), texts
    assert "什么问题" in texts[-1]  # the form's first question, not "抱歉，我还是没能理解"
    assert reply.state["form"]["fields"].get("wo_what") is None
