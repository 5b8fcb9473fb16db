"""The SLA scan: 催办 and 超期督办 recorded once per order, clock and level, also when two
workers scan at the same moment (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import pytest

from tests.workorders.support import CENTRE, DEPT, T0, dispatched, local, new_order
from tests.workorders.test_concurrency import race
from workorders import sla, store

# Sign-for clock of an order dispatched at T0 (Monday 09:00): yellow 11:00, orange 14:12, red 15:00.
YELLOW, ORANGE, RED = local(2026, 11, 23, 11), local(2026, 11, 23, 14, 12), local(2026, 11, 23, 15)


def reminders(url: str, number: str) -> list[tuple[str, str]]:
    return [
        (e.data["clock"], e.data["level"])
        for e in store.timeline(url, number)
        if e.action in ("催办", "超期督办")
    ]


def test_each_level_is_recorded_once(url: str) -> None:
    number = dispatched(url)
    assert sla.scan(url, local(2026, 11, 23, 10)) == []
    (first,) = sla.scan(url, YELLOW)
    assert (first.number, first.clock, first.level) == (number, "sign", "yellow")
    assert sla.scan(url, YELLOW) == []  # already recorded
    assert [r.level for r in sla.scan(url, ORANGE)] == ["orange"]
    assert [r.level for r in sla.scan(url, RED)] == ["red"]
    assert sla.scan(url, local(2026, 11, 24, 9)) == []
    assert reminders(url, number) == [("sign", "yellow"), ("sign", "orange"), ("sign", "red")]
    events = store.timeline(url, number)
    red = events[-1]
    assert (red.action, red.actor, red.from_status, red.to_status) == (
        "超期督办",
        "系统:sla",
        "已派单",
        "已派单",
    )
    assert "签收已超期" in (red.note or "") and "城东区人民政府" in (red.note or "")


def test_only_the_highest_level_reached_is_recorded(url: str) -> None:
    number = dispatched(url)
    assert [(r.clock, r.level) for r in sla.scan(url, local(2026, 11, 24, 9))] == [("sign", "red")]
    assert reminders(url, number) == [("sign", "red")]


def test_stopped_clocks_do_not_warn_and_new_clocks_warn_again(url: str) -> None:
    number = dispatched(url)
    sla.scan(url, YELLOW)
    store.transition(url, number, "签收", DEPT, now=YELLOW)
    assert sla.scan(url, RED) == []  # signed: the sign clock stopped
    # the reply clock (投诉: 10 working days from T0, due 12-07 09:00) keeps running
    assert [(r.clock, r.level) for r in sla.scan(url, local(2026, 12, 1, 9))] == [
        ("reply", "yellow")
    ]
    store.transition(url, number, "办理", DEPT, now=YELLOW)
    store.transition(url, number, "申请延期", DEPT, "需联合执法", now=YELLOW, days=10)
    store.transition(url, number, "批准延期", CENTRE, now=local(2026, 12, 1, 10))
    # a new deadline is a new clock instance: its own yellow is recorded when reached again
    assert sla.scan(url, local(2026, 12, 2, 9)) == []
    late = sla.scan(url, local(2026, 12, 21, 9))
    assert [(r.clock, r.level) for r in late] == [("reply", "red")]
    assert reminders(url, number) == [("sign", "yellow"), ("reply", "yellow"), ("reply", "red")]


def test_orders_waiting_for_dispatch_warn_on_the_reply_clock(url: str) -> None:
    number = new_order(url, kind="咨询")  # 3 working days: due Thursday 09:00
    (r,) = sla.scan(url, local(2026, 11, 26, 9))
    assert (r.number, r.clock, r.level) == (number, "reply", "red")
    assert "12345热线中心" in (store.timeline(url, number)[-1].note or "")


@pytest.mark.parametrize("at", [YELLOW, ORANGE, RED], ids=["yellow", "orange", "red"])
def test_two_workers_scanning_at_once_record_each_reminder_once(url: str, at: datetime) -> None:
    numbers = [dispatched(url, request_text=f"占道经营{i}") for i in range(8)]
    for moment in (YELLOW, ORANGE, RED):
        if moment > at:
            break
        results = race(2, lambda _, moment=moment: sla.scan(url, moment))
        assert [r for r in results if isinstance(r, BaseException)] == []
        recorded = [(r.number, r.level) for batch in results for r in batch]  # type: ignore[union-attr]
        assert sorted(recorded) == sorted((n, sla_level(moment)) for n in numbers)
    for number in numbers:
        counts = Counter(reminders(url, number))
        assert set(counts.values()) == {1}
        assert len(counts) == [YELLOW, ORANGE, RED].index(at) + 1


def sla_level(moment: datetime) -> str:
    return {YELLOW: "yellow", ORANGE: "orange", RED: "red"}[moment]


def test_scan_needs_aware_times(sqlite_db: str) -> None:
    with pytest.raises(ValueError, match="naive"):
        sla.scan(sqlite_db, datetime(2026, 11, 23, 11))
    assert T0.tzinfo is not None
