"""The triage layer's decisions on real citizen wording, with the real knowledge base, embedding
model and router (a scratch SQLite database with the sample KB)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hotline import db
from hotline.settings import Settings
from knowledge.service import import_sample_if_empty
from triage import (
    Abstain,
    Answer,
    Calm,
    Clarify,
    Context,
    Emergency,
    Handoff,
    OrderDraft,
    ServiceHours,
    StatusQuery,
    Triage,
    get_triage,
)


@pytest.fixture(scope="module")
def triage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Triage]:
    var: Path = tmp_path_factory.mktemp("triage")
    settings = Settings(var_dir=var, cache_dir=Settings().cache_dir)
    db.upgrade(settings.database_url)
    import_sample_if_empty(settings.database_url)
    yield get_triage(settings)


def test_a_typo_never_gets_a_confident_answer_about_something_else(triage: Triage) -> None:
    decision = triage.decide("户照过期了去哪办")  # 户照 for 护照: not the 身份证 entry
    assert not (isinstance(decision, Answer) and decision.entry.id.startswith("hj-"))
    assert isinstance(decision, Answer | Clarify)
    ids = (
        [decision.entry.id] if isinstance(decision, Answer) else [e.id for e in decision.candidates]
    )
    assert ids[0].startswith("crj-")


def test_traditional_characters_are_read_as_simplified(triage: Triage) -> None:
    typed = triage.decide("孩子轉學需要辦理什麼手續？")
    assert isinstance(typed, Answer) and typed.entry.id == "jy-003"


def test_emergencies_come_first_whatever_else_is_said(triage: Triage) -> None:
    decision = triage.decide("我要投诉 我爸突然倒下了 喘不上气")
    assert isinstance(decision, Emergency) and decision.number == "120"
    assert decision.handoff


def test_a_person_asked_for_is_a_handoff_and_a_lone_zero_on_the_phone_too(triage: Triage):
    assert triage.decide("我不要机器人 给我转人工") == Handoff(
        "asked", "市民要求人工服务：我不要机器人 给我转人工"
    )
    zero = triage.decide("0", Context(channel="voice", dtmf="0"))
    assert isinstance(zero, Handoff) and zero.reason == "dtmf_0"
    assert not isinstance(triage.decide("0", Context(channel="web")), Handoff)


def test_none_of_these_makes_an_order_about_the_earlier_question(triage: Triage) -> None:
    asked = "建议一下 科技园那边上下班太难坐车了 能不能加一趟公交 现在半个钟头才来一班"
    decision = triage.decide("都不是我要问的", Context(previous=asked))
    # the order is about the bus line, never about the words "都不是我要问的"
    assert isinstance(decision, OrderDraft) and decision.what == asked
    assert decision.department == "市交通运输局"
    alone = triage.decide("都不是", Context())
    assert isinstance(alone, OrderDraft) and alone.what is None  # the form asks what


def test_the_order_button_is_an_order_whose_form_asks_what_happened(triage: Triage) -> None:
    missed = "我们楼道的灯坏了好几个月"
    decision = triage.decide("/report_problem", Context(misses=1, previous=missed))
    # the message the bot did not understand is not taken as the order's what: the form asks
    assert isinstance(decision, OrderDraft) and decision.what is None
    assert decision.request_text == missed
    alone = triage.decide("/report_problem", Context())
    assert isinstance(alone, OrderDraft) and alone.what is None


def test_an_order_number_is_a_status_query(triage: Triage) -> None:
    assert triage.decide("帮我查下20261122-0042") == StatusQuery("20261122-0042")
    assert triage.decide("我上个月反映的路灯修好了没") == StatusQuery()


def test_the_hotlines_hours_but_not_another_places(triage: Triage) -> None:
    assert isinstance(triage.decide("你们晚上几点下班"), ServiceHours)
    assert not isinstance(triage.decide("游泳馆暑假开放到晚上几点"), ServiceHours)


def test_a_confident_answer_is_given_whatever_the_nlu_would_have_said(triage: Triage) -> None:
    decision = triage.decide("最近压力特别大 整晚睡不着 有没有不要钱的心理咨询热线")
    assert isinstance(decision, Answer)


def test_a_grievance_told_as_a_story_becomes_an_order_draft(triage: Triage) -> None:
    decision = triage.decide("楼下烧烤店天天开到凌晨两点 吵得睡不着")
    assert isinstance(decision, OrderDraft) and decision.order_kind in ("投诉", "求助")
    assert decision.category and decision.department


def test_a_grievance_with_a_kb_answer_gets_it_as_guidance_before_the_form(
    triage: Triage,
) -> None:
    decision = triage.decide("我们公司一直不给我交公积金 我要投诉")
    assert isinstance(decision, OrderDraft)
    assert decision.guidance is not None and decision.guidance.id.startswith("gjj-")


def test_a_procedural_question_on_a_grievance_topic_is_answered(triage: Triage) -> None:
    decision = triage.decide("想辞职，需要提前多久告诉单位？")
    assert isinstance(decision, Answer) and decision.entry.id == "ldqx-011"


def test_no_answer_is_honest_and_the_second_miss_in_a_row_is_a_handoff(triage: Triage) -> None:
    first = triage.decide("给我讲个笑话吧")
    assert isinstance(first, Abstain) and first.misses == 1
    second = triage.decide("哈哈 再讲一个", Context(misses=1))
    assert isinstance(second, Handoff) and second.reason == "misunderstood"


def test_a_picked_option_is_answered_with_that_entry(triage: Triage) -> None:
    decision = triage.decide("第二个", Context(chosen_entry="gjj-016"))
    assert isinstance(decision, Answer) and decision.entry.id == "gjj-016"


def test_decisions_are_json_for_every_channel(triage: Triage) -> None:
    public = triage.decide("孩子转学需要办理什么手续？").public()
    assert public["kind"] == "answer" and public["handoff"] is False
    assert public["entry"]["id"] == "jy-003" and public["entry"]["source"].startswith("来源")


def test_anger_or_abuse_twice_or_with_a_demand_for_a_person_is_a_handoff(triage: Triage) -> None:
    assert isinstance(triage.decide("你个破机器 废物"), Calm)  # insults alone, first time
    assert triage.decide("你们这帮饭桶 给我转人工").reason == "abuse"  # type: ignore[union-attr]
    again = triage.decide("真是气死我了 有完没完", Context(upset=1))
    assert isinstance(again, Handoff) and again.reason == "anger" and again.handoff
    abused = triage.decide("废物", Context(upset=1))
    assert isinstance(abused, Handoff) and abused.reason == "abuse"
    # Angry, once, about something to act on: the order, not a person yet.
    first = triage.decide("气死我了 楼下饭店油烟天天往我家窗户里灌 说了多少次都没人管")
    assert isinstance(first, OrderDraft)
    assert triage.decide("你个破机器 废物").public() == {"kind": "calm", "handoff": False}
