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
        # found by a review: streets, things, journeys and longer words are no city of the citizen
        ("荆州市", "沙市北京西路那个政务中心能办护照吗", True),
        ("咸宁市", "长沙路的公积金中心在哪", True),
        ("咸宁市", "城西安置房能不能买", True),
        ("咸宁市", "去武汉看病 异地就医备案怎么办", True),
        ("咸宁市", "北京时间几点上班", True),
    ],
)
def test_an_entry_answers_for_its_own_city(region: str, question: str, fits: bool) -> None:
    assert answers_for(region, question) is fits


def test_the_city_named() -> None:
    assert city_named("我在宜昌 门诊慢性病在哪买药都能报吗") == "宜昌"
    assert city_named("门诊慢性病在哪买药都能报吗") is None


def test_a_city_the_entry_speaks_of_answers_for_itself() -> None:
    said = "外地寄来的药品快递迟迟不到，可向邮政管理部门申诉；从长沙等地寄出的…"
    assert answers_for("邵阳市", "药是长沙的朋友寄的 快递送不到", said)
    assert not answers_for("邵阳市", "药是长沙的朋友寄的 快递送不到", "快递迟迟不到可申诉")
