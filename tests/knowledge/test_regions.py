"""An entry of one city never answers for another city the citizen names."""

from __future__ import annotations

import pytest

from knowledge.regions import answers_for, city_named


@pytest.mark.parametrize(
    ("region", "question", "fits"),
    [
        ("咸宁市", "我在武汉上班 公积金贷款最多能贷多少钱", False),
        ("荆州市", "我是长沙的 门诊慢性病报销比例多少", False),
        ("咸宁市", "公积金最高能贷多少", True),  # no city named
        ("咸宁市", "咸宁市公积金最高能贷多少", True),
        ("全国", "武汉的护照怎么办", True),  # national guidance
        ("荆州市", "我在武汉打工 回荆州办社保卡要带啥", True),  # its own among others
    ],
)
def test_an_entry_answers_for_its_own_city(region: str, question: str, fits: bool) -> None:
    assert answers_for(region, question) is fits


def test_the_city_named() -> None:
    assert city_named("我在宜昌 门诊慢性病在哪买药都能报吗") == "宜昌"
    assert city_named("门诊慢性病在哪买药都能报吗") is None
