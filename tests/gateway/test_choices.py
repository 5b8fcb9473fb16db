"""Numbered choices: 第二个 / 2 picks an offered option (button on chat, spoken list on voice)."""

from __future__ import annotations

import pytest

from gateway.choices import ordinal, resolve


@pytest.mark.parametrize(
    ("text", "number"),
    [("第二个", 2), ("2", 2), ("第 1 个", 1), ("选第三个吧", 3), ("两个", 2), ("第一条。", 1)],
)
def test_number_choices_are_read(text: str, number: int) -> None:
    assert ordinal(text) == number


@pytest.mark.parametrize("text", ["第二个问题是公积金", "12", "二手房怎么过户", "我要投诉", "十"])
def test_other_messages_are_not_choices(text: str) -> None:
    assert ordinal(text) is None


def test_a_choice_takes_the_buttons_payload_on_chat() -> None:
    replies = [{"text": "您想问的是下面哪一个？", "buttons": [
        {"title": "新生儿上户口", "payload": '/choose_entry{"entry_id":"hj-001"}'},
        {"title": "新生儿医保", "payload": '/choose_entry{"entry_id":"yb-006"}'},
    ]}]  # fmt: skip
    assert resolve(2, replies) == '/choose_entry{"entry_id":"yb-006"}'
    assert resolve(3, replies) is None  # only two were offered


def test_a_choice_takes_the_spoken_options_wording_on_the_phone() -> None:
    said = (
        "您想问的是哪一个？第1个，新生儿怎么上户口？；第2个，刚出生的宝宝怎么办医保？。请说第几个。"
    )
    assert resolve(2, [{"text": said, "buttons": []}]) == "刚出生的宝宝怎么办医保？"
    assert resolve(1, [{"text": "好的，请问怎么称呼您？", "buttons": []}]) is None
