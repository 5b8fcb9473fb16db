"""The report's figures against the hand-counted month (tests/reports/fixture.py), on SQLite and
PostgreSQL."""

from __future__ import annotations

import pytest

from reports.build import MonthlyReport, build_report
from reports.period import Month
from tests.reports.fixture import AS_OF, TZ, A, B

NOV = Month(2026, 11, TZ)


@pytest.fixture(scope="module")
def report(month_db: tuple[str, dict[str, str]]) -> MonthlyReport:
    return build_report(month_db[0], NOV, as_of=AS_OF)


def test_month_bounds_are_local_midnights() -> None:
    assert NOV.start.isoformat() == "2026-10-31T16:00:00+00:00"
    assert NOV.end.isoformat() == "2026-11-30T16:00:00+00:00"
    assert Month.parse("2026-01", TZ).previous().label == "2025-12"
    with pytest.raises(ValueError, match="YYYY-MM"):
        Month.parse("2026-13", TZ)


def test_unit_volumes_match_the_hand_count(report: MonthlyReport) -> None:
    units = {u.now.department: u for u in report.units}
    assert set(units) == {A, B}
    a, b = units[A].now, units[B].now
    assert (a.assigned, a.handled, a.overdue, a.visited, a.satisfied, a.unsatisfied) == (
        4,
        2,
        1,
        3,
        2,
        1,
    )
    assert (a.redone, a.returned) == (1, 0)
    assert (b.assigned, b.handled, b.overdue, b.visited, b.satisfied, b.unsatisfied) == (
        2,
        1,
        1,
        1,
        1,
        0,
    )
    assert b.returned == 1  # the order it gave back counts for A, its 退单 for B
    t = report.total
    assert (t.assigned, t.handled, t.overdue, t.visited, t.satisfied, t.unsatisfied) == (
        6,
        3,
        2,
        4,
        3,
        1,
    )
    assert (report.totals.received, report.totals.direct, report.totals.pending) == (8, 1, 1)


def test_rates_ranks_and_changes(report: MonthlyReport) -> None:
    units = {u.now.department: u for u in report.units}
    a, b = units[A], units[B]
    assert (a.now.sign_due, a.now.signed_on_time) == (3, 2)
    assert (a.now.reply_due, a.now.replied_on_time) == (3, 2)
    assert a.now.satisfaction_rate == pytest.approx(2 / 3)
    assert (b.now.sign_rate, b.now.reply_rate, b.now.satisfaction_rate) == (1.0, 0.5, 1.0)
    assert (b.rank, a.rank) == (1, 2)
    assert a.previous is not None and a.previous.assigned == 1  # boundary_before, in October
    assert a.assigned_mom == pytest.approx(3.0)
    assert a.assigned_yoy is None  # nothing in November 2025


def test_categories_and_channels(report: MonthlyReport) -> None:
    assert [(s.name, s.count) for s in report.categories] == [("城市管理", 6), ("交通运输", 2)]
    assert report.categories[0].share == pytest.approx(0.75)
    assert [(s.name, s.count) for s in report.channels] == [("web", 8)]


def test_contacts_from_the_conversation_log(report: MonthlyReport) -> None:
    c = report.contacts
    assert (c.contacts, c.resolved_on_the_spot, c.with_order, c.handed_over) == (4, 2, 1, 1)
    assert c.on_the_spot_rate == 0.5 and c.handoff_rate == 0.25
    assert c.by_kind["abstain"] == 2 and c.decided_turns == 6
    assert c.abstain_rate == pytest.approx(1 / 3)


def test_open_repeats_and_gaps(report: MonthlyReport, month_db: tuple[str, dict[str, str]]) -> None:
    numbers = month_db[1]
    assert {r.number for r in report.repeats} == {numbers["a_late"], numbers["boundary_last"]}
    asked = {g.question for g in report.gaps} | {a for g in report.gaps for a in g.alternatives}
    # quoted with the phone number masked: reports leave the centre
    assert asked == {"我家楼上漏水谁管，电话139****5678", "社保", "狗证在哪里办"}
    assert len(report.gaps) == 3  # three different questions, each once


def test_forecast_has_a_backtested_model(report: MonthlyReport) -> None:
    everything = report.forecasts[0]
    assert everything.category == "全部"
    # Complete Monday-Sunday weeks only: 10-26..11-01 holds October 31st's order; 11-30 (a
    # Monday) starts an unfinished week, so boundary_last is not in the history yet.
    assert everything.history == [1, 3, 1, 3, 0]
    assert len(everything.forecast) == 4 == len(report.forecast_weeks)


def test_gaps_group_the_same_question_in_other_words() -> None:
    from reports.gaps import gaps_of

    asked = ["狗证在哪里办", "狗证在哪里办", "在哪里办狗证", "请问狗证在哪里办", "公积金怎么提取"]
    gaps = gaps_of(asked)
    assert [(g.question, g.count) for g in gaps] == [("狗证在哪里办", 4), ("公积金怎么提取", 1)]
    assert set(gaps[0].alternatives) == {"在哪里办狗证", "请问狗证在哪里办"}


def test_hot_topics_count_every_request_or_a_scaled_sample(
    report: MonthlyReport, month_db: tuple[str, dict[str, str]]
) -> None:
    assert sum(t.count for t in report.topics) == 8  # every November order in one topic
    assert sum(t.previous for t in report.topics) == 1  # October's last order
    sampled = build_report(month_db[0], NOV, as_of=AS_OF, exact_limit=4)
    assert abs(sum(t.count for t in sampled.topics) - 8) <= len(sampled.topics)


def test_a_reopened_order_counts_as_unsatisfied_after_a_later_rating(tmp_path) -> None:
    """重办 counts once, as 不满意: a 满意 after the redo replaced the first 不满意 and gave the
    unit a perfect 满意率 for a complaint it first failed (found by an exploratory test)."""
    from datetime import timedelta

    from hotline import db
    from tests.reports.fixture import CENTRE, _do, _lifecycle, _new, at
    from workorders.states import Actor

    url = f"sqlite:///{tmp_path / 'hotline.db'}"
    db.upgrade(url)
    number = _new(url, "东湖路烧烤摊油烟太大", at(11, 2, 9))
    _lifecycle(url, number, A, at(11, 2, 9, 10), at(11, 2, 9, 30), at(11, 3, 10), "不满意")
    _do(url, number, "redo", CENTRE, at(11, 5, 9), "市民不满意，重新办理")
    dept = Actor.of_department(A)
    _do(url, number, "sign", dept, at(11, 5, 10))
    _do(url, number, "feedback", dept, at(11, 6, 10), "已再次处理")
    _do(url, number, "close", CENTRE, at(11, 6, 11))
    _do(url, number, "visit", CENTRE, at(11, 6, 11) + timedelta(days=1), satisfaction="满意")
    (unit,) = build_report(url, NOV, as_of=AS_OF).units
    figures = unit.now
    assert (figures.visited, figures.satisfied, figures.unsatisfied) == (1, 0, 1)
