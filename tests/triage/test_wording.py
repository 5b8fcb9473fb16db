"""The wording rules the triage layer reads: a person asked for, an earlier order, the hotline's
hours, and what the wording alone says about a grievance."""

from __future__ import annotations

import pytest

from triage import wording


@pytest.mark.parametrize(
    "text",
    [
        "转人工",
        "我要找话务员",
        "不要机器人 给我接个真人",
        "你听不懂",
        "有没有话务员啊 我想跟真人说",
        "说了你也听不懂 叫个人来跟我说",
        "我要投诉你们这个机器人 问啥都答不上来 叫你们的工作人员来",
    ],
)
def test_a_person_asked_for(text: str) -> None:
    assert wording.asks_for_person(text)


@pytest.mark.parametrize(
    "text",
    [
        "网约车司机半路把我赶下车了 平台客服也不理",  # a person mentioned, not asked for
        "你们接线员回答的那些政策是从哪里来的",
        "哪个牌子的扫地机器人好用",
        "郑工说下午来修",
        "装修的人工费怎么算",
    ],
)
def test_a_person_mentioned_is_not_asked_for(text: str) -> None:
    assert not wording.asks_for_person(text)


@pytest.mark.parametrize(
    ("text", "own"),
    [
        ("上个月反映过的路灯修好了没", True),
        ("我的投诉怎么样了", True),
        ("工单到哪一步了", True),
        ("12345的工单是不是要求一小时内反馈", False),
        ("护照办理进度怎么查", False),
    ],
)
def test_an_earlier_order_of_the_citizen(text: str, own: bool) -> None:
    assert wording.about_own_order(text) is own


@pytest.mark.parametrize(
    ("text", "ours"),
    [
        ("你们晚上几点下班", True),
        ("12345春节有人接吗", True),
        ("今天星期几", True),
        ("体育中心的游泳馆暑假开放到晚上几点", False),
        ("心理援助热线12356是不是24小时都有人接", False),
        ("我不会用手机 能不能打个电话给你们就把残疾证给我代办了", False),
        ("一到晚上隔壁饭店就排油烟 你们派人过来看看", False),  # a grievance, asks nothing
        ("半夜楼上还在装修 你们管一管", False),
        (
            "我家楼下的路灯坏了一个多礼拜了 晚上黑黢黢的 老人小孩出门都不方便 你们能不能派人修一下",
            False,
        ),
        ("楼下路灯坏了 晚上出门不方便 你们能派人修吗", False),
        ("请问一下 你们晚上有人接电话吗", True),
        ("晚上 你们有人吗", True),
        ("你们这个热线过年放假不", True),
        ("你们几点上班我想过来处理社保的事", True),  # a transcript: no punctuation
    ],
)
def test_the_hotlines_own_hours(text: str, ours: bool) -> None:
    assert wording.about_service_hours(text) is ours


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("我要投诉楼下的烧烤店", True),
        ("请有关部门管一管", True),
        ("商场的无障碍厕所一直锁着门 坐轮椅的进不去 能投诉吗", True),
        ("公司拖欠工资怎么申请劳动仲裁", None),  # the model weighs the procedure asked
        ("社保卡丢了怎么补办 需要带什么", None),
        ("12345到底是管什么的 投诉举报也受理吗", None),
        ("快递十天了还没到 驿站说丢了", None),  # a story: the model judges it
    ],
)
def test_what_the_wording_alone_says_about_a_grievance(text: str, said: bool | None) -> None:
    assert wording.grievance_by_wording(text) is said


def test_ratings_in_the_citizens_words() -> None:
    said = {"非常满意": "满意", "一般般吧": "基本满意", "太差了": "不满意", "好评": "满意"}
    assert {t: wording.rating_of(t) for t in said} == said


@pytest.mark.parametrize(
    ("text", "rejects"),
    [
        ("都不是我要问的", True),
        ("都不是", True),
        ("不是这个", True),
        ("没有我要找的", True),
        ("不是这个问题 我是想问公积金能不能取出来装修", False),  # a new question
        ("是不是要带户口本", False),
    ],
)
def test_none_of_these(text: str, rejects: bool) -> None:
    assert wording.rejects_offer(text) is rejects


@pytest.mark.parametrize(
    ("text", "mood"),
    [
        ("你个破机器 脑子有毛病吧", "abuse"),
        ("你们这帮饭桶", "abuse"),
        ("SB热线", "abuse"),
        ("气死我了 到底管不管", "anger"),
        ("再不处理我就去找媒体曝光", "anger"),
        ("小区垃圾三天没人清理了", None),  # 垃圾 as a grievance, not an insult
        ("我被骗子骗了两千块", None),
        ("我有病需要长期吃药 能报销吗", None),
        ("路灯坏了", None),
    ],
)
def test_anger_and_abuse(text: str, mood: str | None) -> None:
    assert wording.upset(text) == mood


def test_insults_alone_and_insults_with_a_matter() -> None:
    assert wording.only_abuse("你个破机器 废物")
    assert not wording.only_abuse("废物 楼下油烟天天熏得受不了")


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("你是机器人还是真人啊", True),
        ("你是机器人吗", True),
        ("是真人吗？", True),
        ("你是不是机器人", True),
        ("不跟机器人说了 转人工", False),  # a request for a person
        ("我要找真人", False),
        ("还是人工吧", False),  # a request for a person, after all
        ("是人工吗", False),
    ],
)
def test_asking_whether_the_bot_is_a_machine(text: str, asks: bool) -> None:
    assert wording.asks_if_bot(text) is asks


@pytest.mark.parametrize(
    ("text", "only"),
    [
        ("我要投诉", True),
        ("哎 还是帮我登记吧 想了想还是要投诉", True),
        ("那还是帮我登记一下吧", True),
        ("我要投诉物业乱收费", False),
        ("还是帮我登记吧 快递丢了", False),
    ],
)
def test_a_message_that_only_announces_a_report(text: str, only: bool) -> None:
    assert wording.announces_report_only(text) is only
