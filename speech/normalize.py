"""Text normalisation between speech and the bot, in both directions.

ASR → bot (:func:`normalize_transcript`): NFKC, traditional → simplified characters, one
consistent set of full-width Chinese punctuation, spoken digit strings written as digits
("幺三八 零零一三 八零零零" → "13800138000", "二零二六一一二二零零四二" → "202611220042"),
digit groups a recogniser split with spaces joined again, and a short table of ASR confusions
of hotline words whose wrong form is not itself a common word (公单 → 工单, 设保 → 社保).

Bot → TTS (:func:`to_spoken`): numbers written the way a 12345 operator reads them aloud:
phone, work-order and hotline numbers digit by digit with 幺 for 1 ("12345" → "幺二三四五"),
years digit by digit ("2026年" → "二零二六年"), months, days, times, money, percentages and
counts as numbers ("98天" → "九十八天", "5000元" → "五千元", "2个" → "两个").

The digit tables, the reading of digit strings (digits_aloud) and the number a caller gives when
asked for one (digits_in_answer) are hotline.numbers', shared with the rest of the project.
Everything here is pure Python and deterministic; the tables are small on purpose.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

import zhconv

from hotline.numbers import DIGIT_VALUES, digits_aloud

# --------------------------------------------------------------------------- characters

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_DIGIT_CHARS = "".join(DIGIT_VALUES)  # characters read as one digit (hotline.numbers)

# --------------------------------------------------------------------------- punctuation

# ASCII (after NFKC) → the full-width Chinese mark the bot sees (, : . depend on context).
_PUNCT_MAP = {
    "?": "？",
    "!": "！",
    ";": "；",
    "(": "（",
    ")": "）",
    "､": "、",
    "｡": "。",
}
_SENTENCE_END = "。？！"
_ALL_PUNCT = "，。？！；：、…（）“”‘’\"'《》〈〉【】「」『』·~～—–-"
# Strength when several marks follow each other: keep the strongest.
_PUNCT_RANK = {"？": 5, "！": 4, "。": 3, "；": 2, "：": 2, "，": 1, "、": 0}


def to_simplified(text: str) -> str:
    """Traditional → simplified characters (character level, no regional word swaps)."""
    return zhconv.convert(text, "zh-hans")


def normalize_punctuation(text: str) -> str:
    """One consistent punctuation: full-width Chinese marks, no runs, no spaces inside Chinese.

    ASCII marks between digits stay (9:30, 1.5, 0571-8888); a "." elsewhere becomes "。";
    ellipses are dropped; spaces are kept only between two Latin letters or digits.
    """
    t = text.replace("…", " ").replace("...", " ")
    t = re.sub(r"(?<!\d)\.|\.(?!\d)", "。", t)
    t = re.sub(r"(?<!\d):|:(?!\d)", "：", t)
    t = re.sub(r"(?<!\d),|,(?!\d{3})", "，", t)
    t = "".join(_PUNCT_MAP.get(ch, ch) for ch in t)
    # Whitespace: collapse, and drop it unless it separates two Latin words or numbers.
    t = re.sub(r"\s+", " ", t).strip()
    t = re.sub(r"(?<![A-Za-z0-9]) | (?![A-Za-z0-9])", "", t)
    # A run of marks keeps its strongest one ("，。" → "。", "？？" → "？").
    t = re.sub(
        "[" + "".join(_PUNCT_RANK) + "]{2,}",
        lambda m: max(m.group(), key=lambda ch: _PUNCT_RANK[ch]),
        t,
    )
    return t.lstrip("".join(_PUNCT_RANK))


def strip_punctuation(text: str) -> str:
    """Only letters, digits and Chinese characters (what CER is computed on)."""
    t = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in t if ch.isalnum())


# --------------------------------------------------------------------------- ASR → bot

_DIGIT_RUN = re.compile(f"[{_DIGIT_CHARS}0-9]+")


def _is_digit_string(run: str) -> bool:
    """Does a run of digit characters read as a number string rather than as words?

    Plain words made of digit characters are short (一一, 三四, 七八, 一二三): a run is taken
    as a number when it has 5+ characters, or 3+ with a character only number strings use
    (幺, 零, 〇, 洞) or with Arabic digits mixed in.
    """
    spoken = [ch for ch in run if ch in DIGIT_VALUES]
    if not spoken:
        return False
    if len(run) >= 5:
        return True
    marked = any(ch in "幺零〇○洞" for ch in run) or any(ch.isdigit() for ch in run)
    return len(run) >= 3 and marked


def digits_from_speech(text: str) -> str:
    """Write spoken digit strings as digits and join digit groups split by spaces or commas.

    "幺三八 零零一三 八零零零" → "13800138000"; "工单号二零二六一一二二零零四二" →
    "工单号202611220042"; "一三八，零零一三，八零零零" → "13800138000". Counting words stay
    ("三四个人", "一一对应", "十一点").
    """
    # Join groups first: digit groups separated by a space, comma, 、 or hyphen, when the
    # whole chain reads as a number string.
    group = f"[{_DIGIT_CHARS}0-9]{{2,}}"
    chain = re.compile(f"{group}(?:[ ,，、\\-]+{group})+")

    def join(m: re.Match[str]) -> str:
        whole = re.sub(r"[ ,，、\-]+", "", m.group())
        return whole if _is_digit_string(whole) else m.group()

    t = chain.sub(join, text)

    def convert(m: re.Match[str]) -> str:
        run = m.group()
        if not _is_digit_string(run):
            return run
        return "".join(DIGIT_VALUES.get(ch, ch) for ch in run)

    t = _DIGIT_RUN.sub(convert, t)
    # Arabic digit groups a recogniser spaced or comma-grouped like a phone number, or dotted
    # digit by digit ("202.611.0.0.2", "0.5.6.3"): two or more dots in a row of digits are
    # never a decimal number.
    t = re.sub(r"(?<=\d)[ \-](?=\d)", "", t)
    t = re.sub(r"(?<![\d.])\d+(?:[.。]\d+){2,}", lambda m: re.sub(r"[.。]", "", m.group()), t)
    t = re.sub(r"(?<=\d{3})[，,、](?=\d{4})", "", t)
    return _YAO_RUN.sub(_yao_as_one, t)


# 幺 (1 in phone numbers) is often written 要 or 腰. Elsewhere 要 is "want" ("我要500元"), so
# only inside a run of Arabic digits that is phone-number long: between two digits, or first
# before 3-9 (mobile numbers are 13x-19x): "要3800要3800" → "1380013800".
_YAO_RUN = re.compile(r"[要腰0-9]{7,}")


def _yao_as_one(m: re.Match[str]) -> str:
    run = m.group()
    if sum(ch.isdigit() for ch in run) < 5:
        return run
    out = list(run)
    for i, ch in enumerate(run):
        if ch.isdigit():
            continue
        inside = 0 < i < len(run) - 1 and run[i - 1].isdigit() and run[i + 1].isdigit()
        leading = i == 0 and run[1] in "3456789"
        if inside or leading:
            out[i] = "1"
    return "".join(out)


# (wrong, right) pairs from recognisers on hotline calls. Only safe ones: the wrong form is not
# a word a citizen would mean, so replacing it can never damage a correct transcript.
CONFUSIONS: tuple[tuple[str, str], ...] = (
    ("公单", "工单"),
    ("设保", "社保"),
    ("社宝卡", "社保卡"),
    ("公基金", "公积金"),
    ("工积金", "公积金"),
    ("公鸡金", "公积金"),
    ("燥音", "噪音"),
    ("绕民", "扰民"),
    ("医宝卡", "医保卡"),
    ("身分证", "身份证"),
)
# Context-dependent ones: 头数 (head count) is a word, 要头数 is not.
CONTEXT_CONFUSIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile("(我要|我想|想要|要|想)头数"), r"\1投诉"),
    (re.compile("头数(电话|热线|渠道)"), r"投诉\1"),
    (re.compile("(一二三四五|幺二三四五)(热线)?"), r"12345\2"),
)


def fix_confusions(text: str) -> str:
    for wrong, right in CONFUSIONS:
        text = text.replace(wrong, right)
    for pattern, repl in CONTEXT_CONFUSIONS:
        text = pattern.sub(repl, text)
    return text


def normalize_transcript(text: str) -> str:
    """What the bot should see from an ASR transcript (see the module docstring)."""
    t = unicodedata.normalize("NFKC", text)
    t = to_simplified(t)
    t = normalize_punctuation(t)
    t = fix_confusions(t)
    t = digits_from_speech(t)
    return t


def digit_strings(text: str, min_len: int = 5) -> list[str]:
    """Runs of at least ``min_len`` digits (hyphens inside order numbers dropped)."""
    t = unicodedata.normalize("NFKC", text)
    t = re.sub(r"(?<=\d)-(?=\d)", "", t)
    return [m for m in re.findall(r"\d+", t) if len(m) >= min_len]


# --------------------------------------------------------------------------- bot → TTS


def _section(n: int) -> str:
    """0 < n < 10000 as 千百十 reading with inner zeros ("一千零五", "三百二十")."""
    out = ""
    zero = False
    for pos, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d = n // pos % 10
        if d == 0:
            zero = zero or bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += ("两" if d == 2 and unit == "千" else digits_aloud(str(d), one="一")) + unit
    return out


def cardinal(number: int | str) -> str:
    """A number read as a quantity: 98 → 九十八, 5000 → 五千, 10500 → 一万零五百, "1.5" → 一点五."""
    text = str(number)
    if "." in text:
        whole, frac = text.split(".", 1)
        return cardinal(int(whole or 0)) + ("点" + digits_aloud(frac, one="一") if frac else "")
    n = int(text)
    if n < 0:
        return "负" + cardinal(-n)
    if n == 0:
        return "零"
    units = ("", "万", "亿", "万亿")
    groups: list[int] = []
    while n:
        groups.append(n % 10000)
        n //= 10000
    if len(groups) > len(units):
        return digits_aloud(text, one="一")
    out = ""
    gap = False
    for i in range(len(groups) - 1, -1, -1):
        g = groups[i]
        if g == 0:
            gap = gap or bool(out)
            continue
        if out and (gap or g < 1000):
            out += "零"
        out += _section(g) + units[i]
        gap = False
    if out.startswith("一十"):
        out = out[1:]  # 十一, 十万, not 一十一
    if out.startswith("二") and out[1:2] in ("千", "万", "亿"):
        out = "两" + out[1:]  # 两千元, 两万
    return out


# A count of something: a number before these reads as a quantity (even when long: 10000元).
_QUANTITY_UNITS = (
    "元|块|角|毛|分钟|秒|小时|天|日|周|个月|月|年|岁|个|人|位|名|户|次|件|张|份|条|项|家|间|套|"
    "辆|本|遍|趟|层|栋|号|楼|单元|室|房|米|公里|千米|平方米|平米|亩|吨|公斤|斤|克|度|万|亿|千|百|倍|"
    "路|期|批|种|级|周岁|万元|亿元"
)
# Measure words after which 2 reads 两 ("两个", "两天"), unlike ordinals ("二号", "二楼").
_LIANG_UNITS = (
    "个|天|小时|分钟|次|位|名|件|张|份|条|项|家|间|套|辆|本|遍|趟|种|户|周|年|个月|岁|人|"
    "万|千|百|倍"
)


def _years(m: re.Match[str]) -> str:
    return digits_aloud(m.group(1), one="一") + "年"


def _date_md(m: re.Match[str]) -> str:
    return f"{cardinal(m.group(1))}月{cardinal(m.group(2))}{m.group(3)}"


def _iso_date(m: re.Match[str]) -> str:
    y, mo, d = m.groups()
    return f"{digits_aloud(y, one='一')}年{cardinal(int(mo))}月{cardinal(int(d))}日"


def _clock(m: re.Match[str]) -> str:
    hours, minutes = int(m.group(1)), int(m.group(2))
    if minutes == 0:
        return f"{cardinal(hours)}点"
    mins = cardinal(minutes) if minutes >= 10 else "零" + cardinal(minutes)
    return f"{cardinal(hours)}点{mins}分"


def _percent(m: re.Match[str]) -> str:
    return "百分之" + cardinal(m.group(1))


def _range(m: re.Match[str]) -> str:
    return f"{cardinal(m.group(1))}到{cardinal(m.group(2))}"


def _order_number(m: re.Match[str]) -> str:
    return digits_aloud(m.group(1)) + "，" + digits_aloud(m.group(2))


def _number(m: re.Match[str]) -> str:
    num, unit = m.group(1), m.group(2) or ""
    if "." in num:
        return cardinal(num) + unit
    # Hyphenated or leading-zero strings, and long ones that count nothing, are codes.
    if "-" in num or (num.startswith("0") and len(num) > 1):
        return digits_aloud(num.replace("-", "")) + unit
    if unit in ("室", "房") and len(num) >= 3:
        return digits_aloud(num) + unit  # room numbers: 五零幺室
    if unit and len(num) <= 12:
        ordinal = m.start() > 0 and m.string[m.start() - 1] == "第"
        if num == "2" and not ordinal and re.fullmatch(_LIANG_UNITS, unit):
            return "两" + unit
        return cardinal(num) + unit
    if len(num) >= 5:
        return digits_aloud(num) + unit
    return cardinal(num) + unit


_SPOKEN_RULES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (re.compile(r"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)"), _iso_date),
    (re.compile(r"(?<!\d)(\d{8})-(\d{1,6})(?!\d)"), _order_number),
    (re.compile(r"(?<!\d)(\d{4})年"), _years),
    (re.compile(r"(?<!\d)(\d{1,2})月(\d{1,2})([日号])"), _date_md),
    (re.compile(r"(?<![\d.])([0-2]?\d)[:：]([0-5]\d)(?!\d)"), _clock),
    (re.compile(r"(\d+(?:\.\d+)?)%"), _percent),
    (re.compile(r"(?<![\d-])(\d{1,2})[-~～](\d{1,2})(?![\d-])"), _range),
    (re.compile(rf"(\d{{3,}}(?:-\d{{3,}})+|\d+(?:\.\d+)?)({_QUANTITY_UNITS})?"), _number),
)


def to_spoken(text: str) -> str:
    """Write every number in ``text`` the way it is read aloud (see the module docstring)."""
    t = unicodedata.normalize("NFKC", text)
    t = re.sub(r"(?<=\d),(?=\d{3})", "", t)  # 5,000 → 5000
    for pattern, repl in _SPOKEN_RULES:
        t = pattern.sub(repl, t)
    return t


def canonical_for_cer(text: str) -> str:
    """The form CER is computed on: normalised, numbers spoken, punctuation and spaces gone.

    Reference and hypothesis go through the same function, so "13800138000", "幺三八零零幺
    三八零零零" and "一三八 零零一三 八零零零" compare equal, as do "11点" and "十一点".
    """
    return strip_punctuation(to_spoken(normalize_transcript(text)))


def edit_distance(a: str, b: str) -> int:
    """Character edits (insert, delete, substitute) from ``a`` to ``b``: the CER's numerator."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]
