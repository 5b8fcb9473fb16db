"""Homophone correction against the KB's vocabulary: fixes misheard terms, leaves real words."""

from __future__ import annotations

import pytest

from knowledge.spelling import HomophoneCorrector, sound

TEXTS = [
    "住房公积金贷款最多能贷多少",
    "公积金怎么提取",
    "租房可以提取公积金吗",
    "公积金账户余额怎么查",
    "社保卡丢了怎么补办",
    "社保卡怎么激活",
    "电子社保卡在哪领",
    "生病了去医院就医要带医保卡",
    "异地就医怎么备案",
    "就医结算",
    "住院就医报销",
    "外地就医",
    "就医地",
    "就医流程",
    "我想知道能不能办",
    "个体户营业执照在哪里办",
    "个体户营业执照要带什么",
    "个体户营业执照怎么注销",
    "个体户开店",
    "所在地的派出所",
    "户籍所在地",
    "居住所在地",
]


@pytest.fixture(scope="module")
def corrector() -> HomophoneCorrector:
    return HomophoneCorrector(TEXTS)


def test_sound_is_toneless_pinyin() -> None:
    assert sound("公积金") == sound("公基金") == ("gong", "ji", "jin")


@pytest.mark.parametrize(
    ("heard", "meant"),
    [
        ("公基金贷款能贷多少", "公积金贷款能贷多少"),
        ("设保卡丢了", "社保卡丢了"),
        ("我的公鸡金账户", "我的公积金账户"),
        ("个体互营业执照在哪办", "个体户营业执照在哪办"),  # 个 kept: 体互 is the misheard part
    ],
)
def test_misheard_kb_words_are_put_right(
    corrector: HomophoneCorrector, heard: str, meant: str
) -> None:
    assert corrector.correct(heard) == meant


@pytest.mark.parametrize(
    "text",
    [
        "我想知道能不能办",  # every character pair occurs in the texts
        "这是什么意思",  # 意思 is a dictionary word, not a misspelt 遗失
        "那我就一直等着吧",  # 就一 sounds like the KB word 就医, but it spans two words
        "公积金怎么提取",
        "钥匙锁在家里了",  # 锁在 sounds like 所在, but only 锁 would be misheard
    ],
)
def test_real_words_are_left_alone(corrector: HomophoneCorrector, text: str) -> None:
    assert corrector.correct(text) == text


def test_a_rare_stretch_is_not_replaced_by_an_equally_rare_word() -> None:
    few = HomophoneCorrector(["公积金贷款"])  # seen once: below the minimum count
    assert few.correct("公基金贷款") == "公基金贷款"
    assert len(HomophoneCorrector([])) == 0


def test_phone_transcripts_may_be_a_blurred_sound_off() -> None:
    texts = [*TEXTS, "驾驶证到期换证", "驾驶证丢了补办", "驾驶证扣分查询", "新生儿户口登记"]
    texts = [*texts, "社保缴费", "社保转移", "社保停缴"] * 2
    phone = HomophoneCorrector(texts, fuzzy=True)
    # j heard as x (驾 jia / 下 xia): one syllable, one blur, in a three-character word
    assert phone.correct("下时正到期了去哪换") == "驾驶证到期了去哪换"
    # typed text is never corrected by a near sound, only by the same sound
    assert HomophoneCorrector(texts).correct("下时正到期了") == "下时正到期了"
    # two syllables off (新生儿 xin-sheng-er / 牺牲完 xi-sheng-wan) is too far
    assert phone.correct("牺牲完户口登记") == "牺牲完户口登记"
    # a two-character word is never matched by a near sound (社保 she-bao / 色宝 se-bao) ...
    assert phone.correct("色宝缴费") == "色宝缴费"
    # ... a three-character one is
    assert phone.correct("色宝卡丢了") == "社保卡丢了"


def test_a_longer_stretch_is_judged_whole_not_by_its_pairs() -> None:
    """工基金: each of its character pairs is written somewhere in the texts (职工基本, 基金), but
    the texts write this sound only as 公积金, so the stretch is a mishearing of it; a
    three-character stretch the texts do write stays as it is."""
    texts = [*TEXTS, "职工基本养老保险", "基金会", "养老基金", "职工基本医疗保险"]
    corrector = HomophoneCorrector(texts)
    assert corrector.correct("租房提取工基金每个月能取多少") == "租房提取公积金每个月能取多少"
    assert corrector.correct("职工基本养老保险怎么交") == "职工基本养老保险怎么交"


@pytest.mark.parametrize(
    "said",
    [
        "在城区贷公积金会算二套吗",  # 会算 is not 汇算
        "结婚证弄没了上哪补要带啥",  # 补要 is not 不要
        "情况很急能不能先救助",  # 急能 is not 技能
    ],
)
def test_a_modal_verb_is_not_the_misheard_part(said: str) -> None:
    """Callers' correct words, read aloud from the consult tune split: a stretch whose other
    character is a modal verb has one sound of its own, too little to replace it on."""
    texts = [*TEXTS, *["个税汇算要在哪里办", "不要带原件", "学个技能有补贴"] * 8]
    phone = HomophoneCorrector(texts, fuzzy=True)
    assert phone.correct(said) == said
