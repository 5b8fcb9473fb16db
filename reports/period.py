"""Report periods: a calendar month in the centre's time zone, as UTC instants for the database."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_MONTH = re.compile(r"(\d{4})-(\d{2})")


@dataclass(frozen=True)
class Month:
    year: int
    month: int
    tz: ZoneInfo

    @classmethod
    def parse(cls, text: str, tz: ZoneInfo | str) -> Month:
        """ "2026-11" → November 2026; anything else is a ValueError saying what to type."""
        m = _MONTH.fullmatch(text.strip())
        if not m or not 1 <= int(m[2]) <= 12:
            raise ValueError(f"月份格式应为 YYYY-MM（例如 2026-11），不是「{text}」 / use YYYY-MM")
        return cls(int(m[1]), int(m[2]), ZoneInfo(tz) if isinstance(tz, str) else tz)

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def label(self) -> str:
        return f"{self.year}-{self.month:02d}"

    @property
    def zh(self) -> str:
        return f"{self.year}年{self.month}月"

    @property
    def start(self) -> datetime:
        """First instant of the month, local midnight, in UTC."""
        return datetime.combine(self.first_day, time.min, self.tz).astimezone(UTC)

    @property
    def end(self) -> datetime:
        """First instant of the next month (exclusive), in UTC."""
        return self.shift(1).start

    def shift(self, months: int) -> Month:
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1, self.tz)

    def previous(self) -> Month:
        return self.shift(-1)

    def last_year(self) -> Month:
        return self.shift(-12)

    def days(self) -> int:
        return (self.shift(1).first_day - self.first_day).days

    def local_day(self, instant: datetime) -> date:
        return instant.astimezone(self.tz).date()


def week_start(day: date) -> date:
    """Monday of the ISO week of `day` (forecasts count weeks from Monday)."""
    return day - timedelta(days=day.weekday())
