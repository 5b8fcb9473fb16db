"""Small helpers for Chinese wording shared by the parts."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

import zhconv

WEEKDAYS = "一二三四五六日"
# How staff pages and reports name the channel an order or a conversation came in by.
CHANNEL_LABELS = {
    "web": "网页",
    "wechat": "微信",
    "voice": "电话",
    "api": "接口",
    "operator": "话务员录入",
}


def format_date(day: date) -> str:
    """2026-11-22 -> '2026年11月22日，星期日'."""
    return f"{day.year}年{day.month}月{day.day}日，星期{WEEKDAYS[day.weekday()]}"


def normalise_text(text: str) -> str:
    """What a citizen typed, in the form the hotline's texts are written in: full-width
    letters, digits and punctuation made half-width (ＡＢＣ１２３，？ → ABC123,?), simplified
    characters (a Hong Kong or Taiwan input method, Whisper's traditional output: 護照 → 护照),
    and runs of spaces collapsed."""
    text = unicodedata.normalize("NFKC", text)
    text = zhconv.convert(text, "zh-hans")
    return re.sub(r"\s+", " ", text).strip()
