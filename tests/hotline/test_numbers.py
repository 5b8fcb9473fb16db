"""Phone and work-order numbers as citizens type and say them, and as the hotline reads them."""

from __future__ import annotations

from datetime import date

import pytest

from hotline.numbers import (
    InvalidPhone,
    canonical_order_number,
    canonical_phone,
    digits_aloud,
    digits_in_answer,
    find_phone_or_order,
    format_order_number,
    group_digits,
    is_phone,
    number_aloud,
    written_digits,
)

# --------------------------------------------------------------------------- phone numbers


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("13812345678", "13812345678"),
        ("138 1234 5678", "13812345678"),
        ("+86 138-1234-5678", "13812345678"),
        ("008613812345678", "13812345678"),
        ("１３８１２３４５６７８", "13812345678"),  # full-width digits from an IME
        ("19912345678", "19912345678"),
        ("0571-88123456", "0571-88123456"),
        ("057188123456", "0571-88123456"),
        ("0571 8812 3456", "0571-88123456"),
        ("(010)62345678", "010-62345678"),
        ("01062345678", "010-62345678"),
        ("021-6123456", "021-6123456"),
        ("0755 2612 3456", "0755-26123456"),
    ],
)
def test_mobiles_and_landlines_with_area_code_are_accepted(raw: str, canonical: str) -> None:
    assert canonical_phone(raw) == canonical
    assert is_phone(raw)


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "12812345678",  # no mobile network starts 12
        "1381234567",  # a digit short
        "138123456789",
        "88123456",  # local number without area code
        "0571-1234567",  # local numbers never start with 0 or 1
        "0571-08123456",
        "010-12345678",  # …nor with 1 (service codes)
        "tel:13812345678",
        "0571-88-123456",
        "4008123456",  # 400 service numbers: nobody to call back
        "400-812-3456",
        "95588",  # 95 service numbers
        "12345",
        "138一二三四五六七八",
    ],
)
def test_other_numbers_are_refused_with_a_message_for_the_citizen(raw: str) -> None:
    with pytest.raises(InvalidPhone) as err:
        canonical_phone(raw)
    assert isinstance(err.value, ValueError)
    assert "手机号" in err.value.zh and "区号" in err.value.zh
    assert not is_phone(raw)


# --------------------------------------------------------------------------- work-order numbers


def test_order_numbers_are_the_date_and_the_days_sequence() -> None:
    assert format_order_number(date(2026, 11, 22), 42) == "20261122-0042"
    assert format_order_number(date(2026, 11, 22), 12345) == "20261122-12345"  # never wraps


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("20261122-0042", "20261122-0042"),
        ("202611220042", "20261122-0042"),  # compact: 12 digits
        (" 20261122 0042 ", "20261122-0042"),
        ("２０２６１１２２－００４２", "20261122-0042"),
        ("20261122—42", "20261122-0042"),
        ("20261122-12345", "20261122-12345"),
    ],
)
def test_order_numbers_as_citizens_type_them(typed: str, canonical: str) -> None:
    assert canonical_order_number(typed) == canonical


@pytest.mark.parametrize(
    "bad",
    ["", "abc", "20261122", "20261122-0000", "20261340-0001", "2026112-0001", "٢٠٢٦١١٢٢-٠٠٤٢"],
)
def test_what_cannot_be_an_order_number_is_refused(bad: str) -> None:
    assert canonical_order_number(bad) is None


# --------------------------------------------------------------------------- numbers in text


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("我的电话是13812345678", "13812345678"),
        ("查一下工单202611220042", "202611220042"),
        ("座机057188123456", "057188123456"),
        ("北京的01062345678", "01062345678"),
        ("电话13812345678，工单202611220042", "202611220042"),  # the order number first
        ("大概3000元", None),
        ("12812345678", None),
        ("201299990042", None),  # no such date: not an order number
        ("0571123456", None),  # a local number never starts with 1
        ("请拨打4008123456", None),
    ],
)
def test_phone_and_order_numbers_are_found_in_a_transcript(text: str, number: str | None) -> None:
    assert find_phone_or_order(text) == number


# --------------------------------------------------------------------------- read aloud


def test_digits_are_read_one_by_one_with_yao_for_one() -> None:
    assert digits_aloud("12345") == "幺二三四五"
    assert digits_aloud("110") == "幺幺零"
    assert digits_aloud("2026", one="一") == "二零二六"  # years are not phone numbers
    assert digits_aloud("501室") == "五零幺室"


@pytest.mark.parametrize(
    ("number", "groups", "aloud"),
    [
        ("13812345678", ["138", "1234", "5678"], "幺三八，幺二三四，五六七八"),
        ("202611220042", ["20261122", "0042"], "二零二六幺幺二二，零零四二"),
        ("20261122-0042", ["20261122", "0042"], "二零二六幺幺二二，零零四二"),
        ("20261122-12345", ["20261122", "12345"], "二零二六幺幺二二，幺二三四五"),
        ("057188123456", ["0571", "8812", "3456"], "零五七幺，八八幺二，三四五六"),
        ("0571-88123456", ["0571", "8812", "3456"], "零五七幺，八八幺二，三四五六"),
        ("01062345678", ["010", "6234", "5678"], "零幺零，六二三四，五六七八"),
    ],
)
def test_numbers_are_read_back_in_groups(number: str, groups: list[str], aloud: str) -> None:
    assert group_digits(number) == groups
    assert number_aloud(number) == aloud


# --------------------------------------------------------------------------- spoken → written


def test_chinese_digits_are_written_as_digits() -> None:
    assert written_digits("幺三八 一二三四") == "138 1234"
    assert written_digits("零五七幺，八八幺二") == "0571，8812"
    assert written_digits("两〇洞") == "200"
    assert written_digits("工单号") == "工单号"


@pytest.mark.parametrize(
    ("answer", "number"),
    [
        ("幺三八 一二三四", "1381234"),
        ("我的电话是要三八 零零要三八，零零零", "13800138000"),  # 幺 heard as 要
        ("幺三八零零幺三八零零零", "13800138000"),
        ("138-0013-8000", "13800138000"),
        ("灵五七幺，八八八八，六六六六", "057188886666"),
        ("靈五七幺八八八八六六六六", "057188886666"),  # traditional characters
        ("工单号二零二六幺幺二二零零四二", "202611220042"),
        ("一三八，零零一三，八零零零。谢谢", "13800138000"),
        ("号码是186-1710-4455", "18617104455"),
        ("我不知道", None),
        ("好的，谢谢", None),
        ("我要查一下", None),  # 要 alone is "want", not a number
        ("十二", None),
    ],
)
def test_the_number_in_a_callers_answer(answer: str, number: str | None) -> None:
    assert digits_in_answer(answer) == number


def test_reading_back_and_hearing_a_number_round_trip() -> None:
    for number in ("13812345678", "202611220042", "057188123456"):
        assert digits_in_answer(number_aloud(number)) == number
