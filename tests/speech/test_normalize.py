"""Text normalisation between ASR, the bot and TTS (speech/normalize.py)."""

from __future__ import annotations

import pytest

from speech.normalize import (
    canonical_for_cer,
    cardinal,
    digit_strings,
    normalize_punctuation,
    normalize_transcript,
    strip_punctuation,
    to_simplified,
    to_spoken,
)

# ----------------------------------------------------------------- ASR → bot: numbers


@pytest.mark.parametrize(
    ("heard", "bot_sees"),
    [
        ("幺三八 零零一三 八零零零", "13800138000"),
        ("我的电话是一三八，零零一三，八零零零。", "我的电话是13800138000。"),
        ("一三八-零零一三-八零零零", "13800138000"),
        ("二零二六一一二二零零零一", "202611220001"),
        ("工单号二零二六一一二二零零四二", "工单号202611220042"),
        ("手机幺五零六七八九三二幺零", "手机15067893210"),
        ("两两幺三八", "22138"),
        ("138 0013 8000", "13800138000"),
        ("138，0013，8000", "13800138000"),
        ("住在五零一室", "住在501室"),
        ("打幺二三四五热线", "打12345热线"),
        ("打一二三四五", "打12345"),
        ("工单号202.611.0.0.0.2。", "工单号2026110002。"),
        ("公单好2026.0.7.1.8。0.5.6.3还没有人联系我", "工单好202607180563还没有人联系我"),
    ],
)
def test_spoken_digit_strings_become_numbers(heard: str, bot_sees: str) -> None:
    assert normalize_transcript(heard) == bot_sees


@pytest.mark.parametrize(
    "words",
    [
        "我们三四个人",
        "一一对应",
        "晚上十一点以后",
        "一五一十地说",
        "三三两两",
        "七八个",
        "一百零八号",
    ],
)
def test_words_made_of_digit_characters_stay_words(words: str) -> None:
    assert normalize_transcript(words) == words


@pytest.mark.parametrize(
    ("heard", "bot_sees"),
    [
        # Whisper-base on the benchmark's recordings: 幺 heard as 要
        ("我的电话是要3800要38000", "我的电话是13800138000"),
        ("我留一个电话要3366280149", "我留一个电话13366280149"),
        ("电话是要3705、713366", "电话是13705713366"),
        ("我的号码是要三八零零要三八零零零", "我的号码是13800138000"),
    ],
)
def test_yao_heard_as_yao4_inside_a_phone_number_is_one(heard: str, bot_sees: str) -> None:
    assert normalize_transcript(heard) == bot_sees


@pytest.mark.parametrize("text", ["我要500元", "每月要交5000元", "我要3个", "要求1234567"])
def test_yao_meaning_want_stays(text: str) -> None:
    assert normalize_transcript(text) == text


def test_digit_strings_finds_phone_and_order_numbers() -> None:
    text = "电话13800138000，工单20261122-0042，住3号楼"
    assert digit_strings(text) == ["13800138000", "202611220042"]


# ----------------------------------------------------------------- ASR → bot: text


def test_traditional_characters_become_simplified() -> None:
    assert to_simplified("請問社保卡丟了怎麼補辦") == "请问社保卡丢了怎么补办"
    # character level only: no regional word swaps
    assert to_simplified("軟體") == "软体"


def test_punctuation_is_full_width_and_consistent() -> None:
    assert normalize_punctuation("您好,我要投诉...小区噪音!") == "您好，我要投诉小区噪音！"
    assert normalize_punctuation("请问 社保卡 丢了 怎么办 ?") == "请问社保卡丢了怎么办？"
    assert normalize_punctuation("，，好的。。") == "好的。"
    assert normalize_punctuation("是吗，？") == "是吗？"
    # marks inside numbers and spaces between Latin words stay
    assert normalize_punctuation("9:30 到 1.5 小时 the APP") == "9:30到1.5小时the APP"


@pytest.mark.parametrize(
    ("heard", "bot_sees"),
    [
        ("我要查公单进度", "我要查工单进度"),
        ("设保卡丢了", "社保卡丢了"),
        ("公基金怎么提取", "公积金怎么提取"),
        ("我要头数楼下饭店", "我要投诉楼下饭店"),
        ("小区燥音太大", "小区噪音太大"),
    ],
)
def test_common_asr_confusions_of_hotline_words_are_fixed(heard: str, bot_sees: str) -> None:
    assert normalize_transcript(heard) == bot_sees


def test_confusion_fixes_do_not_touch_real_words() -> None:
    # 头数 (head count) is a word of its own; 公共 and 设施 contain no confusion.
    assert normalize_transcript("牛的头数有多少") == "牛的头数有多少"
    assert normalize_transcript("公共设施坏了") == "公共设施坏了"


def test_full_transcript_from_whisper_style_output() -> None:
    raw = "您好,我要投訴,電話是幺三八 零零一三 八零零零..."
    assert normalize_transcript(raw) == "您好，我要投诉，电话是13800138000"


# ----------------------------------------------------------------- bot → TTS


def test_hotline_and_phone_numbers_are_read_digit_by_digit_with_yao() -> None:
    assert to_spoken("请拨打12345热线") == "请拨打幺二三四五热线"
    assert to_spoken("电话13800138000") == "电话幺三八零零幺三八零零零"
    assert to_spoken("0571-88886666") == "零五七幺八八八八六六六六"


def test_work_order_numbers_are_read_in_two_groups() -> None:
    assert to_spoken("您的工单号是20261122-0042。") == "您的工单号是二零二六幺幺二二，零零四二。"


@pytest.mark.parametrize(
    ("written", "spoken"),
    [
        ("2026年11月22日", "二零二六年十一月二十二日"),
        ("2019年", "二零一九年"),
        ("3月5号", "三月五号"),
        ("2026-11-22", "二零二六年十一月二十二日"),
        ("98天", "九十八天"),
        ("5000元", "五千元"),
        ("2000元", "两千元"),
        ("10500元", "一万零五百元"),
        ("1,000元", "一千元"),
        ("1.5万元", "一点五万元"),
        ("2个工作日", "两个工作日"),
        ("第2次", "第二次"),
        ("2号楼3单元501室", "二号楼三单元五零幺室"),
        ("9:30到17:00", "九点三十分到十七点"),
        ("8:05", "八点零五分"),
        ("50%", "百分之五十"),
        ("3-5天", "三到五天"),
        ("15岁", "十五岁"),
    ],
)
def test_dates_money_and_counts_are_read_as_words(written: str, spoken: str) -> None:
    assert to_spoken(written) == spoken


@pytest.mark.parametrize(
    ("number", "reading"),
    [
        (0, "零"),
        (10, "十"),
        (11, "十一"),
        (20, "二十"),
        (101, "一百零一"),
        (110, "一百一十"),
        (1005, "一千零五"),
        (10010, "一万零一十"),
        (100000, "十万"),
        (120000000, "一亿两千万"),
        ("3.14", "三点一四"),
    ],
)
def test_cardinal_numbers(number: int | str, reading: str) -> None:
    assert cardinal(number) == reading


def test_cer_canonical_form_treats_digits_and_spoken_numbers_alike() -> None:
    assert canonical_for_cer("我的电话是13800138000。") == canonical_for_cer(
        "我的电话是一三八 零零一三 八零零零"
    )
    assert canonical_for_cer("晚上11点") == canonical_for_cer("晚上十一点")
    assert strip_punctuation("好的，谢谢！") == "好的谢谢"
