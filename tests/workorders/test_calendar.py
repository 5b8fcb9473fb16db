"""Working-time arithmetic and warning levels at injected instants (no sleeping, no wall clock).

The default calendar carries the 2026 national holidays: National Day 10-01..10-07 with the
Sunday 09-20 and the Saturday 10-10 as 调休 working days; Spring Festival 02-15..02-23 with
the Saturdays 02-14 and 02-28 as working days.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from tests.workorders.support import TZ, local
from workorders import sla
from workorders.calendar import WorkCalendar
from workorders.config import Duration, Warnings, WorkOrderConfig, load_config


@pytest.fixture
def cal(cfg: WorkOrderConfig) -> WorkCalendar:
    return cfg.work_calendar


@pytest.mark.parametrize(
    ("start", "hours", "expected", "why"),
    [
        (local(2026, 11, 23, 9), 2, local(2026, 11, 23, 11), "inside one session"),
        (local(2026, 11, 23, 11), 2, local(2026, 11, 23, 15), "across the lunch break"),
        (local(2026, 11, 23, 8, 30), 3.5, local(2026, 11, 23, 12), "ends at a session's end"),
        (local(2026, 11, 23, 8, 30), 7, local(2026, 11, 23, 17, 30), "one full working day"),
        (local(2026, 11, 23, 16, 30), 4, local(2026, 11, 24, 11, 30), "across a night"),
        (local(2026, 11, 27, 16), 4, local(2026, 11, 30, 11), "Friday → Monday"),
        (local(2026, 11, 28, 10), 1, local(2026, 11, 30, 9, 30), "starts on a Saturday"),
        (local(2026, 11, 23, 12, 30), 1, local(2026, 11, 23, 15), "starts in the lunch break"),
        (local(2026, 11, 23, 20), 1, local(2026, 11, 24, 9, 30), "starts at night"),
        (local(2026, 9, 30, 16), 4, local(2026, 10, 8, 11), "over the National Day holiday"),
        (local(2026, 10, 9, 16), 4, local(2026, 10, 10, 11), "into the 调休 Saturday 10-10"),
        (local(2026, 9, 18, 17), 1, local(2026, 9, 20, 9), "into the 调休 Sunday 09-20"),
        (local(2026, 2, 13, 17), 1, local(2026, 2, 14, 9), "Spring Festival 调休 Saturday"),
        (local(2026, 2, 14, 17), 1, local(2026, 2, 24, 9), "over the Spring Festival"),
    ],
)
def test_add_working_hours(
    cal: WorkCalendar, start: datetime, hours: float, expected: datetime, why: str
) -> None:
    assert cal.add_working_time(start, hours=hours) == expected, why
    # and the inverse: exactly that much working time lies between the two
    assert cal.working_time_between(start, expected) == timedelta(hours=hours), why


def test_working_days_keep_the_time_of_day(cal: WorkCalendar) -> None:
    assert cal.day_length == timedelta(hours=7)
    assert cal.add_working_time(local(2026, 11, 23, 9), days=3) == local(2026, 11, 26, 9)
    # 咨询 3 working days from Wednesday 09-30 skip the whole National Day week
    assert cal.add_working_time(local(2026, 9, 30, 10), days=3) == local(2026, 10, 10, 10)
    assert cal.add_working_time(local(2026, 11, 23, 9), days=0.5) == local(2026, 11, 23, 14, 30)


def test_working_days(cal: WorkCalendar) -> None:
    assert cal.is_working_day(date(2026, 11, 23))  # Monday
    assert not cal.is_working_day(date(2026, 11, 28))  # Saturday
    assert not cal.is_working_day(date(2026, 10, 5))  # National Day holiday on a Monday
    assert cal.is_working_day(date(2026, 10, 10))  # 调休 Saturday
    assert cal.is_working_day(date(2026, 9, 20))  # 调休 Sunday
    assert cal.is_working_time(local(2026, 11, 23, 8, 30))
    assert not cal.is_working_time(local(2026, 11, 23, 12))  # sessions are half-open
    assert not cal.is_working_time(local(2026, 11, 23, 13))
    assert cal.next_working_moment(local(2026, 11, 27, 18)) == local(2026, 11, 30, 8, 30)


def test_time_zones_and_naive_times(cal: WorkCalendar) -> None:
    utc_start = local(2026, 11, 23, 9).astimezone(UTC)
    assert cal.add_working_time(utc_start, hours=2) == local(2026, 11, 23, 11)
    with pytest.raises(ValueError, match="naive"):
        cal.add_working_time(datetime(2026, 11, 23, 9), hours=1)
    with pytest.raises(ValueError, match="negative"):
        cal.add_working_time(utc_start, hours=-1)
    assert cal.working_time_between(local(2026, 11, 24), local(2026, 11, 23)) == timedelta()


def test_a_custom_calendar_with_its_own_holiday_and_makeup_day() -> None:
    cfg = load_config(
        overrides={
            "calendar": {
                "sessions": [["09:00", "12:00"], ["13:00", "17:00"]],
                "holidays": [{"name": "测试假日", "start": "2027-03-03", "end": "2027-03-03"}],
                "workdays": ["2027-03-06"],
            }
        }
    )
    cal = cfg.work_calendar
    assert cal.sessions[0] == (time(9), time(12))
    # Tuesday 16:00 + 8h: 1h on Tuesday, Wednesday is the holiday, 7h on Thursday
    assert cal.add_working_time(local(2027, 3, 2, 16), hours=8) == local(2027, 3, 4, 17)
    # Friday 16:00 + 2h lands on the make-up Saturday
    assert cal.add_working_time(local(2027, 3, 5, 16), hours=2) == local(2027, 3, 6, 10)


def test_a_calendar_without_working_time_is_an_error() -> None:
    from workorders.config import CalendarConfig

    cal = WorkCalendar.from_config(
        CalendarConfig(sessions=((time(9), time(10)),), weekdays=(1,)), TZ
    )
    empty = WorkCalendar(cal.tz, cal.sessions, frozenset())
    with pytest.raises(ValueError, match="no working time"):
        empty.add_working_time(local(2026, 11, 23, 9), hours=1)


# ---------------------------------------------------------------------------------------------
# Clocks and warning levels


def test_sign_clock_levels_at_given_instants(cfg: WorkOrderConfig) -> None:
    clock = sla.sign_clock(cfg, local(2026, 11, 23, 9), "normal")  # 4 working hours
    assert clock.basis == "working"
    assert clock.due == local(2026, 11, 23, 15)
    assert clock.yellow_at == local(2026, 11, 23, 11)  # 2 of 4 hours
    assert clock.orange_at == local(2026, 11, 23, 14, 12)  # 3.2 of 4 hours, lunch skipped
    for at, level in [
        (local(2026, 11, 23, 10, 59), "none"),
        (local(2026, 11, 23, 11), "yellow"),
        (local(2026, 11, 23, 13, 59), "yellow"),  # lunch: no working time passes
        (local(2026, 11, 23, 14, 12), "orange"),
        (local(2026, 11, 23, 14, 59), "orange"),
        (local(2026, 11, 23, 15), "red"),
        (local(2026, 11, 30, 9), "red"),
    ]:
        assert sla.clock_level(clock, at) == level, at


def test_sign_clock_over_a_weekend(cfg: WorkOrderConfig) -> None:
    clock = sla.sign_clock(cfg, local(2026, 11, 27, 16), "normal")  # Friday 16:00
    assert clock.due == local(2026, 11, 30, 11)
    assert clock.yellow_at == local(2026, 11, 30, 9)  # 1.5h Friday + 0.5h Monday
    assert sla.clock_level(clock, local(2026, 11, 29, 12)) == "none"  # Sunday: nothing elapses


def test_emergency_sign_is_one_wall_clock_hour(cfg: WorkOrderConfig) -> None:
    saturday_night = local(2026, 11, 28, 22)
    clock = sla.sign_clock(cfg, saturday_night, "emergency")
    assert clock.basis == "wall"
    assert clock.due == local(2026, 11, 28, 23)
    assert clock.yellow_at == local(2026, 11, 28, 22, 30)
    assert clock.orange_at == local(2026, 11, 28, 22, 48)
    # on a working morning the 4 working hours would be later still: the earliest rule wins
    assert sla.sign_clock(cfg, local(2026, 11, 23, 9), "emergency").due == local(2026, 11, 23, 10)


@pytest.mark.parametrize(
    ("kind", "priority", "category", "due"),
    [
        ("咨询", "normal", None, local(2026, 11, 26, 9)),  # 3 working days
        ("求助", "normal", None, local(2026, 11, 30, 9)),  # 5
        ("投诉", "normal", None, local(2026, 12, 7, 9)),  # 10
        ("举报", "normal", "城市管理", local(2026, 12, 7, 9)),
        ("投诉", "normal", "供电", local(2026, 11, 25, 9)),  # utilities: 2 days
        ("投诉", "urgent", None, local(2026, 11, 25, 9)),  # urgent: 2 days
        ("投诉", "emergency", None, local(2026, 11, 24, 9)),  # 24 wall hours
    ],
)
def test_reply_deadlines(
    cfg: WorkOrderConfig, kind: str, priority: str, category: str | None, due: datetime
) -> None:
    assert sla.reply_clock(cfg, local(2026, 11, 23, 9), kind, priority, category).due == due


def test_share_and_stored_instants_agree_minute_by_minute(cfg: WorkOrderConfig) -> None:
    cal = cfg.work_calendar
    start = local(2026, 9, 30, 15, 7)  # straddles the National Day holiday
    clock = sla.sign_clock(cfg, start, "normal")
    t = start
    while t < clock.due + timedelta(hours=2):
        share = sla.elapsed_share(cal, "working", start, clock.due, t)
        assert sla.level_for_share(share, cfg.warnings) == sla.clock_level(clock, t), t
        t += timedelta(minutes=1) if cal.is_working_time(t) else timedelta(hours=1)


def test_level_for_share_uses_the_configured_thresholds() -> None:
    w = Warnings(yellow=0.6, orange=0.9)
    assert [sla.level_for_share(s, w) for s in (0, 0.59, 0.6, 0.89, 0.9, 1.0, 3)] == [
        "none",
        "none",
        "yellow",
        "yellow",
        "orange",
        "red",
        "red",
    ]
    cfg = load_config(overrides={"warnings": {"yellow": 0.6, "orange": 0.9}})
    clock = sla.sign_clock(cfg, local(2026, 11, 23, 9), "normal")
    assert clock.yellow_at == local(2026, 11, 23, 11, 24)  # 2.4h in


def test_durations_must_name_one_unit() -> None:
    with pytest.raises(ValueError):
        Duration(working_hours=1, wall_hours=1)
    with pytest.raises(ValueError):
        Duration()
    assert Duration(wall_hours=1).wall


def test_clocks_are_stored_in_utc(cfg: WorkOrderConfig) -> None:
    clock = sla.sign_clock(cfg, local(2026, 11, 23, 9), "normal")
    assert all(t.tzinfo is UTC for t in (clock.started_at, clock.yellow_at, clock.due))
    assert clock.due.astimezone(TZ).time() == time(15)
