"""`hotline demo seed`: a generated history the store, the console and the report can use."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from demo.seed import NotEmpty, seed
from hotline import db
from hotline.db import engine_for
from reports.build import build_report
from reports.period import Month
from tests.conftest import fresh_postgres
from workorders import store
from workorders.model import WorkOrder, WorkOrderEvent
from workorders.states import TRANSITIONS, Action, Status

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
def seeded(request: pytest.FixtureRequest, tmp_path: object) -> object:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/demo.db"
        db.upgrade(url)
        seed(url, months=3, orders=600, now=NOW, batch_size=250)
        yield url
        return
    with fresh_postgres() as url:
        db.upgrade(url)
        seed(url, months=3, orders=600, now=NOW, batch_size=250)
        yield url


def test_timelines_follow_the_transition_table(seeded: str) -> None:
    with engine_for(seeded).connect() as conn:
        orders = {
            i: (n, s)
            for i, n, s in conn.execute(select(WorkOrder.id, WorkOrder.number, WorkOrder.status))
        }
        events = conn.execute(
            select(WorkOrderEvent.order_id, WorkOrderEvent.seq, WorkOrderEvent.action,
                   WorkOrderEvent.from_status, WorkOrderEvent.to_status)
            .order_by(WorkOrderEvent.order_id, WorkOrderEvent.seq)
        ).all()  # fmt: skip
    assert len(orders) == 600
    last: dict[int, str] = {}
    for oid, _seq, action, before, after in events:
        if before is not None:  # every transition is legal from the status before it
            rule = TRANSITIONS[(Status(before), Action(action))]
            assert rule.to.value == after
        last[oid] = after
    assert all(last[i] == status for i, (_n, status) in orders.items())
    statuses = {s for _n, s in orders.values()}
    assert {Status.VISITED.value, Status.CLOSED.value} <= statuses
    assert statuses & {Status.DISPATCHED.value, Status.IN_PROGRESS.value, Status.SIGNED.value}
    actions = {a for _o, _s, a, _b, _t in events}
    assert {Action.RETURN.value, Action.REDO.value, Action.VISIT.value} <= actions


def test_store_and_report_use_the_seeded_history(seeded: str) -> None:
    with engine_for(seeded).connect() as conn:
        number = conn.scalar(select(func.max(WorkOrder.number)))
    assert number is not None
    assert store.timeline(seeded, number)[0].action == "受理"
    later = store.create(seeded, {"channel": "web", "kind": "咨询", "request_text": "新的工单"},
                         now=NOW)  # fmt: skip
    assert later.number > number  # the numbering counters continue after the seeded ones
    report = build_report(seeded, Month(2026, 11, Month.parse("2026-11", "Asia/Shanghai").tz),
                          as_of=NOW)  # fmt: skip
    assert report.total.assigned > 50 and report.total.visited > 0
    assert report.contacts.contacts > 0 and report.contacts.by_kind.get("abstain", 0) > 0
    assert report.topics and report.gaps and report.forecasts
    with pytest.raises(NotEmpty):
        seed(seeded, months=1, orders=10, now=NOW)
