"""Numbers citizens give and hear: phone and work-order numbers, written ↔ spoken digits.

One place for the rules every channel shares, so the phone form, the work-order store and the
phone IVR agree on what a number is and how it is read:

- phone numbers: a mobile (1[3-9] and 9 digits) or a landline with its area code (010 and 02x
  have three-digit codes, every other code four); `canonical_phone` writes one form
  (13812345678, 0571-88123456) or raises `InvalidPhone`. Service numbers without an area code
  (400…, 95…, 12345) are not numbers a citizen can be called back on: refused;
- work-order numbers: YYYYMMDD-NNNN (a real date, a sequence from 1), also typed or said without
  the hyphen (202611220042); `canonical_order_number`;
- finding one of those in a transcript (`find_phone_or_order`) and grouping its digits for a
  read-back (`group_digits`: 138 1234 5678);
- written → spoken: `digits_aloud` reads digit by digit with 1 as 幺, as 12345 operators do
  (幺三八), `number_aloud` adds the pauses between groups (幺三八，幺二三四，五六七八);
- spoken → written: `written_digits` writes every Chinese digit as a digit (幺三八 → 138),
  `digits_in_answer` takes the number out of a caller's answer to "what is your number?", where
  recognisers also write digits as homophones (要 for 幺, 灵 for 零).

Standard library only: every part of the project may import it.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from typing import Literal

# --------------------------------------------------------------------------- spoken → written

# How each character reads as one spoken digit (幺 and 两 and 〇 included).
DIGIT_VALUES = {
    "零": "0",
    "〇": "0",
    "○": "0",
    "洞": "0",  # military/aviation "0"
    "幺": "1",
    "一": "1",
    "二": "2",
    "两": "2",
    "三": "3",
    "四": "4",
    "五": "5",
    "六": "6",
    "七": "7",
    "八": "8",
    "九": "9",
}
_TO_DIGITS = str.maketrans(DIGIT_VALUES)

# When the caller was asked for a number, recognisers often write a digit as a homophone
# (幺 → 要/腰, 零 → 灵/铃, 八 → 吧/巴). Only safe where a number is expected: elsewhere 要 is
# "want" (see digits_in_answer).
DIGIT_HOMOPHONES = {
    **dict.fromkeys("要腰妖邀吆", "1"),
    **dict.fromkeys("灵铃玲龄凌", "0"),
    **dict.fromkeys("儿而尔耳", "2"),
    **dict.fromkeys("山衫伞叁", "3"),
    **dict.fromkeys("司丝死寺肆", "4"),
    **dict.fromkeys("无吴午舞伍武", "5"),
    **dict.fromkeys("溜留刘流陆", "6"),
    **dict.fromkeys("期妻漆柒", "7"),
    **dict.fromkeys("吧巴爸捌", "8"),
    **dict.fromkeys("久酒玖", "9"),
}
# Traditional forms of the characters above, for text that was not simplified first.
_SIMPLIFIED = str.maketrans("兩靈鈴齡兒爾傘叄絲無吳劉陸", "两灵铃龄儿尔伞叁丝无吴刘陆")
_ANSWER_SEPARATORS = ",，、.。-—:：;；"


def written_digits(text: str) -> str:
    """Every Chinese digit character written as its digit; nothing else changes.

    "幺三八 一二三四" → "138 1234". For text known to be a number (a read-back, a DTMF-style
    answer); in free text use speech.normalize.digits_from_speech, which leaves words alone.
    """
    return text.translate(_TO_DIGITS)


def digits_in_answer(text: str, min_len: int = 3) -> str | None:
    """The number a caller said when asked for one (phone, work order), else None.

    Digits, spoken digits and digit homophones all count; spaces, punctuation and hyphens
    between them are ignored; the longest run wins ("我的电话是要三八 零零要三八，零零零" →
    "13800138000"). Use it only for an answer to a number question: elsewhere 要 is "want".
    """
    t = unicodedata.normalize("NFKC", text).translate(_SIMPLIFIED)
    runs: list[str] = []
    current = ""
    for ch in t:
        digit = (
            DIGIT_VALUES.get(ch)
            or DIGIT_HOMOPHONES.get(ch)
            or (ch if _is_ascii_digit(ch) else None)
        )
        if digit is not None:
            current += digit
        elif not (ch.isspace() or (ch in _ANSWER_SEPARATORS and current)):
            if current:
                runs.append(current)
            current = ""
    if current:
        runs.append(current)
    best = max(runs, key=len, default="")
    return best if len(best) >= min_len else None


# --------------------------------------------------------------------------- written → spoken

_READ_PHONE = "零幺二三四五六七八九"  # phone, work-order and hotline numbers: 1 is 幺
_READ_PLAIN = "零一二三四五六七八九"  # years, decimals and plain counting


def digits_aloud(digits: str, one: Literal["幺", "一"] = "幺") -> str:
    """Digit by digit as said on the phone: "12345" → "幺二三四五" (one="一" for years:
    "2026" → "二零二六"). Characters other than 0-9 are kept."""
    table = _READ_PHONE if one == "幺" else _READ_PLAIN
    return "".join(table[int(ch)] if _is_ascii_digit(ch) else ch for ch in digits)


def number_aloud(number: str) -> str:
    """A phone or work-order number read back in its groups, with a pause (，) between them:
    "13812345678" → "幺三八，幺二三四，五六七八", "20261122-0042" → "二零二六幺幺二二，零零四二"."""
    return "，".join(digits_aloud(group) for group in group_digits(number))


def group_digits(number: str) -> list[str]:
    """The groups a number is read in: 138 1234 5678, 20261122 0042, 0571 8812 3456, 010 6234
    5678. A work-order number keeps its two parts; anything else but digits is dropped."""
    order = _ORDER.fullmatch(number.strip())
    if order and "-" in number:
        return [order.group(1), order.group(2)]
    digits = re.sub(r"[^0-9]", "", number)
    if len(digits) == 11 and digits.startswith("1"):
        return [digits[:3], digits[3:7], digits[7:]]
    if len(digits) == 12 and digits.startswith("20"):  # a work-order number without its hyphen
        return [digits[:8], digits[8:]]
    head = _area_code_length(digits)
    rest = digits[head:]
    return [digits[:head], *[rest[i : i + 4] for i in range(0, len(rest), 4)]]


# --------------------------------------------------------------------------- phone numbers

_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_LANDLINE = re.compile(r"0[0-9]{9,11}")  # area code and local number
_LOCAL = re.compile(r"[2-9][0-9]{6,7}")


class InvalidPhone(ValueError):
    """Not a number a citizen can be called back on; `zh` says so to the citizen."""

    zh = "电话号码格式不正确，请输入11位手机号或带区号的固定电话"
    en = "not a Chinese mobile number or a landline with area code"

    def __init__(self, raw: str) -> None:
        self.raw = raw
        super().__init__(self.en)


def canonical_phone(raw: str) -> str:
    """A Chinese mobile (13812345678) or a landline with area code (0571-88123456).

    Spaces, brackets and a +86 prefix are dropped; a landline is written area-local, with 010 and
    02x as the three-digit area codes and every other code four digits. Raises InvalidPhone.
    """
    s = re.sub(r"[\s()（）]", "", unicodedata.normalize("NFKC", raw))
    digits = s.replace("-", "")
    mobile = re.sub(r"^(?:\+86|0086|86)(?=1[0-9]{10}$)", "", digits)
    if _MOBILE.fullmatch(mobile):
        return mobile
    if _LANDLINE.fullmatch(digits) and s.count("-") <= 1:
        area_len = _area_code_length(digits)
        area, local = digits[:area_len], digits[area_len:]
        if _LOCAL.fullmatch(local):
            return f"{area}-{local}"
    raise InvalidPhone(raw)


def is_phone(raw: str) -> bool:
    try:
        canonical_phone(raw)
    except InvalidPhone:
        return False
    return True


def _area_code_length(digits: str) -> int:
    return 3 if digits.startswith(("010", "02")) else 4


# --------------------------------------------------------------------------- work-order numbers

_ORDER = re.compile(r"([0-9]{8})-?([0-9]{1,6})")


def format_order_number(day: date, seq: int) -> str:
    """20261122-0042: the local date of creation and the day's sequence (grows past 9999)."""
    return f"{day:%Y%m%d}-{seq:04d}"


def canonical_order_number(text: str) -> str | None:
    """What a citizen typed or said ("２０２６１１２２ ００４２", "202611220042", "20261122-42")
    in the canonical form, or None when it cannot be a work-order number (no real date, or
    sequence 0)."""
    cleaned = unicodedata.normalize("NFKC", text or "")
    cleaned = re.sub(r"[‐‑‒–—―]", "-", re.sub(r"\s", "", cleaned))
    match = _ORDER.fullmatch(cleaned)
    if not match:
        return None
    day_part, seq_part = match.groups()
    try:
        day = datetime.strptime(day_part, "%Y%m%d").date()
    except ValueError:
        return None
    seq = int(seq_part)
    return format_order_number(day, seq) if seq > 0 else None


# --------------------------------------------------------------------------- numbers in text


def find_phone_or_order(text: str) -> str | None:
    """The first work-order number (compact, 12 digits), else mobile, else landline with area
    code written in `text` as a run of digits (a transcript after speech.normalize), as written.

    "我的电话是13812345678" → "13812345678"; "大概3000元" → None.
    """
    runs = re.findall(r"[0-9]+", text)
    for accept in (_is_compact_order, _MOBILE.fullmatch, _is_landline):
        for run in runs:
            if accept(run):
                return run
    return None


def _is_compact_order(run: str) -> bool:
    return len(run) == 12 and canonical_order_number(run) is not None


def _is_landline(run: str) -> bool:
    return run.startswith("0") and is_phone(run)


def _is_ascii_digit(ch: str) -> bool:
    return "0" <= ch <= "9"
