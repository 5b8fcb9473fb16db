"""Turn-taking: a transcript that sounds complete ends the caller's turn after 0.3 s of silence
instead of 0.6 s; statements wait the full pause (callers go on after them)."""

from __future__ import annotations

import pytest

from speech.turn_end import sounds_complete


@pytest.mark.parametrize(
    "text",
    [
        "请问社保卡丢了怎么补办？",
        "公积金能不能提前取",
        "不动产登记中心周六上班吗",
        "我的电话是13812345678",
        "工单号是202612070042。",
        "对",
        "不是",
    ],
)
def test_a_question_a_whole_number_or_an_answer_is_complete(text: str) -> None:
    assert sounds_complete(text)


@pytest.mark.parametrize(
    "text",
    [
        "我家楼下的饭店晚上太吵了",  # a complaint often goes on
        "我想问一下",
        "我的电话是138",  # digits still to come
        "我的电话是13812345678，还有",
        "",
    ],
)
def test_statements_and_unfinished_requests_wait_for_the_whole_pause(text: str) -> None:
    assert not sounds_complete(text)
