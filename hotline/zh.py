"""Small helpers for Chinese wording shared by the parts."""

from __future__ import annotations

from datetime import date

WEEKDAYS = "一二三四五六日"


def format_date(day: date) -> str:
    """2026-11-22 -> '2026年11月22日，星期日'."""
    return f"{day.year}年{day.month}月{day.day}日，星期{WEEKDAYS[day.weekday()]}"
