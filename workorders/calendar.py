"""Working-hours calendar: which moments count towards a department's deadline.

Working time is a set of daily sessions (e.g. 08:30–12:00 and 14:00–17:30) on working days.
A working day is a configured weekday that is not a holiday, or a 调休 make-up day (a weekend
day declared a working day). Arithmetic is exact (timedelta, microseconds) and done in UTC so
that a zone with daylight saving would still count real elapsed time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from workorders.config import CalendarConfig

log = logging.getLogger(__name__)

# A calendar with no working time would loop forever; ten years without one is a config error.
_MAX_DAYS = 3660


@dataclass(frozen=True)
class WorkCalendar:
    tz: ZoneInfo
    sessions: tuple[tuple[time, time], ...]
    weekdays: frozenset[int]  # ISO, 1 = Monday
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()  # 调休: working despite the weekday
    _warned_years: set[int] = field(default_factory=set, compare=False, hash=False, repr=False)

    @classmethod
    def from_config(cls, cfg: CalendarConfig, tz: ZoneInfo | str) -> WorkCalendar:
        holidays = {
            h.start + timedelta(days=i)
            for h in cfg.holidays
            for i in range((h.end - h.start).days + 1)
        }
        return cls(
            tz=ZoneInfo(tz) if isinstance(tz, str) else tz,
            sessions=tuple(cfg.sessions),
            weekdays=frozenset(cfg.weekdays),
            holidays=frozenset(holidays),
            workdays=frozenset(cfg.workdays),
        )

    @property
    def day_length(self) -> timedelta:
        """Working time of one full working day (the unit of 'working days')."""
        day = date(2000, 1, 3)  # any date: only the time-of-day differences matter
        spans = (datetime.combine(day, b) - datetime.combine(day, a) for a, b in self.sessions)
        return sum(spans, timedelta())

    def is_working_day(self, day: date) -> bool:
        self._warn_if_uncovered(day.year)
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.isoweekday() in self.weekdays

    def is_working_time(self, moment: datetime) -> bool:
        t = _utc(moment)
        return any(a <= t < b for a, b in self._intervals(t.astimezone(self.tz).date()))

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Working time inside [start, end); zero when end is not after start."""
        start, end = _utc(start), _utc(end)
        total = timedelta()
        if end <= start:
            return total
        for a, b in self._intervals_from(start):
            if a >= end:
                break
            lo, hi = max(a, start), min(b, end)
            if hi > lo:
                total += hi - lo
        return total

    def add_working_time(
        self, start: datetime, hours: float = 0, days: float = 0, *, delta: timedelta | None = None
    ) -> datetime:
        """The moment when `hours` + `days` (× day_length) of working time have passed.

        Starting outside working hours, the count begins at the next working moment. Ending
        exactly at the end of a session gives that session's end (17:30), not the next morning.
        """
        amount = delta if delta is not None else timedelta(hours=hours) + days * self.day_length
        if amount < timedelta():
            raise ValueError("working time to add must not be negative")
        t = _utc(start)
        if amount == timedelta():
            return t.astimezone(self.tz)
        remaining = amount
        for a, b in self._intervals_from(t):
            lo = max(a, t)
            if lo >= b:
                continue
            if remaining <= b - lo:
                return (lo + remaining).astimezone(self.tz)
            remaining -= b - lo
        raise AssertionError("unreachable: _intervals_from raises first")  # pragma: no cover

    def next_working_moment(self, moment: datetime) -> datetime:
        t = _utc(moment)
        for a, b in self._intervals_from(t):
            if t < b:
                return max(a, t).astimezone(self.tz)
        raise AssertionError("unreachable")  # pragma: no cover

    def _intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """The day's sessions as UTC intervals (empty on a non-working day)."""
        if not self.is_working_day(day):
            return []
        return [
            (
                datetime.combine(day, a, self.tz).astimezone(UTC),
                datetime.combine(day, b, self.tz).astimezone(UTC),
            )
            for a, b in self.sessions
        ]

    def _intervals_from(self, t: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working intervals in time order from the local day containing `t`, without end."""
        day = t.astimezone(self.tz).date()
        for offset in range(_MAX_DAYS):
            yield from self._intervals(day + timedelta(days=offset))
        raise ValueError(f"no working time within {_MAX_DAYS} days: check the calendar")

    def _warn_if_uncovered(self, year: int) -> None:
        """Holidays are published yearly; say so once if deadlines reach an unconfigured year."""
        if year in self._warned_years:
            return
        self._warned_years.add(year)
        if not any(d.year == year for d in self.holidays | self.workdays):
            log.warning("working calendar has no holidays for %s: add them to the config", year)


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: give a timezone (e.g. Asia/Shanghai or UTC)")
    return moment.astimezone(UTC)
