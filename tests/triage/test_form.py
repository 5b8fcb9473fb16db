"""How replies fill a work-order draft: field checks, corrections, and the read-back's answer."""

from __future__ import annotations

import pytest

from triage.form import check_field, confirmation, give_up_value, new_value, summary

FILLED = {
    "wo_what": "小区门口路灯坏了一周",
    "wo_where": "城东区幸福路12号",
    "wo_when": "上周五",
    "wo_name": "张先生",
    "wo_phone": "13812345678",
}


@pytest.mark.parametrize(
    ("slot", "value", "checked"),
    [
        ("wo_what", "路灯坏了", "路灯坏了"),
        ("wo_what", "嗯", None),
        ("wo_where", "幸福路", "幸福路"),
        ("wo_when", "", "未说明"),
        ("wo_name", "我叫张三", "张三"),
        ("wo_name", "免贵姓王", "王"),
        ("wo_phone", "138 1234 5678", "13812345678"),
        ("wo_phone", "0716-8123456", "0716-8123456"),
        ("wo_phone", "12345", None),
    ],
)
def test_each_field_is_checked_as_the_form_asks_it(slot: str, value: str, checked: str | None):
    assert check_field(slot, value) == checked


def test_after_two_failures_the_form_moves_on_with_what_it_has() -> None:
    assert give_up_value("wo_phone", "1234") == "未留"
    assert give_up_value("wo_name", "") == "市民"
    assert give_up_value("wo_what", "那个那个") == "那个那个"


def test_a_correction_of_part_of_an_address_keeps_the_rest() -> None:
    old = "经济开发区创业路18号 华信电子厂"
    said = "地址说错了 是创业路28号不是18号"
    assert new_value("wo_where", said, old) == "经济开发区创业路28号 华信电子厂"
    assert new_value("wo_name", "刚才说错了 叫我谢女士", "谢") == "谢女士"
    assert new_value("wo_phone", "电话说错了", "13812345678") is None  # asked again


@pytest.mark.parametrize(
    ("said", "name"),
    [
        ("姓刘", "刘"),
        ("叫我邓女士就行", "邓女士"),
        ("我不想留名字 可以匿名吗", "市民"),
        ("王先生", "王先生"),
        ("我姓李，叫李建国", "李建国"),
        # found by a review: the name, not the words around it
        ("王女士 谢谢", "王女士"),
        ("张三 13800138000", "张三"),
        ("叫我李先生，电话就不留了", "李先生"),
        ("我叫张三，是咸安区的", "张三"),
        ("我叫张三 你记一下", "张三"),
        ("李 先生", "李先生"),
        ("我姓王 三横王", "王"),
        ("姓名：张三", "张三"),
        ("我不想说全名 叫我王先生就行", "王先生"),
    ],
)
def test_a_name_is_stored_as_a_name(said: str, name: str) -> None:
    assert check_field("wo_name", said) == name


def test_a_corrected_name_leaves_the_correction_out() -> None:
    assert new_value("wo_name", "我姓周 周女士 名字改一下", "周") == "周女士"
    assert new_value("wo_name", "称呼改成刘先生", "刘") == "刘先生"
    assert new_value("wo_name", "名字改成刘女士 谢谢", "刘先生") == "刘女士"
    assert new_value("wo_name", "我是张三 电话不变", "李四") == "张三"


@pytest.mark.parametrize(
    ("said", "entity", "old", "new"),
    [  # the NLU's address entity is a part of what was dictated: the whole is kept
        (
            "地址改成咸安区温泉路88号桂花园小区5栋2单元",
            "桂花园小区",
            "你们到底管不管啊",
            "咸安区温泉路88号桂花园小区5栋2单元",
        ),
        (
            "地址改成城南区南湖路18号锦绣小区门口",
            "锦绣小区",
            "小区门口",
            "城南区南湖路18号锦绣小区门口",
        ),
        # a new number on the road already given changes only the number
        ("地址写错了 是西山路98号", None, "城西区西山路88号 万达工地", "城西区西山路98号 万达工地"),
        ("地址写错了 是东风路9号", None, "城西区西山路88号", "东风路9号"),  # another road
        ("地址改成山路98号", None, "城西区西山路88号", "山路98号"),  # 山路 is not 西山路
    ],
)
def test_an_address_correction_keeps_what_was_dictated(
    said: str, entity: str | None, old: str, new: str
) -> None:
    assert new_value("wo_where", said, old, entity) == new


@pytest.mark.parametrize("said", ["确认", "对的没问题", "是的，没问题", "没错 提交吧", "/affirm"])
def test_yes_at_the_read_back(said: str) -> None:
    assert confirmation(said, FILLED).answer == "yes"


@pytest.mark.parametrize("said", ["不对", "有错", "/deny", "要改"])
def test_no_at_the_read_back(said: str) -> None:
    assert confirmation(said, FILLED).answer == "no"


def test_the_same_phone_again_is_unclear_another_one_a_fix() -> None:
    assert confirmation("13812345678", FILLED).answer == "unclear"
    fixed = confirmation("13907160000", FILLED)
    assert (fixed.answer, fixed.field, fixed.value) == ("fix", "wo_phone", "13907160000")


def test_a_named_field_at_the_read_back_is_a_fix() -> None:
    fixed = confirmation("地址改成城东区幸福路18号", FILLED)
    assert (fixed.answer, fixed.field, fixed.value) == ("fix", "wo_where", "城东区幸福路18号")
    asked = confirmation("名字不对", FILLED)
    assert (asked.answer, asked.field, asked.value) == ("fix", "wo_name", None)


@pytest.mark.parametrize("said", ["啊？", "你说啥", "今天天气不错", "嗯嗯 那个"])
def test_anything_else_at_the_read_back_is_unclear_and_drops_nothing(said: str) -> None:
    assert confirmation(said, FILLED).answer == "unclear"


def test_the_read_back_lists_every_field_and_spells_the_phone_on_the_phone() -> None:
    text = summary(FILLED)
    assert all(v in text for v in FILLED.values())
    assert "幺三八幺二三四五六七八" in summary(FILLED, spell=True)


@pytest.mark.parametrize(
    ("said", "kept"),
    [
        ("你们到底管不管啊", False),
        ("这种事归哪个部门管啊", False),
        ("城南区南湖路66号 菜鸟驿站", True),
        ("网上买的 哪有什么地址", True),  # an online purchase: its place is 网上
        ("就在小区门口", True),
        ("请问是东湖路吗", True),  # a place said as a question
    ],
)
def test_a_question_or_a_protest_is_no_place(said: str, kept: bool) -> None:
    assert (check_field("wo_where", said) is not None) is kept


def test_not_wanting_an_order_cancels_it() -> None:
    from triage.form import cancels

    assert cancels("我不要登记 我就问问") and cancels("算了不弄了")
