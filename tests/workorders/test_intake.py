"""A request becomes a stored order: routed by the real router, dispatched when it is sure, kept
(unrouted) when routing fails, and flagged as an emergency when it is one."""

from __future__ import annotations

import pytest

from workorders import intake, store
from workorders.routing import Routing
from workorders.store import Draft


def draft(text: str, address: str | None = None) -> Draft:
    return Draft(channel="web", request_text=text, kind="投诉", address=address)


def test_a_clear_request_is_routed_to_the_districts_unit(module_sqlite: str) -> None:
    order = intake.submit(
        module_sqlite, draft("小区门口的路灯坏了一个星期，晚上黑漆漆的", "城东区东湖路")
    )
    assert order.district == "城东区" and order.category
    assert order.department  # proposed (or dispatched) to a real unit of the table
    if order.status == "已派单":
        assert [e.actor for e in store.timeline(module_sqlite, order.number)][-1].endswith(
            "智能派单"
        )


def test_a_sure_routing_is_dispatched_and_an_unsure_one_waits_for_an_operator(
    module_sqlite: str,
) -> None:
    sure = Routing("城市管理", "城东区人民政府", "城东区", "auto", 0.99, (), None)
    unsure = Routing("城市管理", "城东区人民政府", "城东区", "confirm", 0.5, (), None)
    a = intake.submit(module_sqlite, draft("井盖丢了"), routing=sure)
    b = intake.submit(module_sqlite, draft("井盖又丢了"), routing=unsure)
    assert (a.status, a.department) == ("已派单", "城东区人民政府")
    assert (b.status, b.department) == ("待派单", "城东区人民政府")


def test_routing_failure_never_loses_the_order(
    module_sqlite: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> None:
        raise RuntimeError("model file missing")

    monkeypatch.setattr(intake, "router", broken)
    order = intake.submit(module_sqlite, draft("垃圾三天没人收了"))
    assert order.status == "待派单" and order.department is None
    assert store.get(module_sqlite, order.number).request_text == "垃圾三天没人收了"


def test_an_emergency_is_flagged_and_left_to_a_person(module_sqlite: str) -> None:
    order = intake.submit(module_sqlite, draft("楼道里有很大的煤气味，好像漏气了"))
    assert order.priority == "emergency" and order.status == "待派单"


def test_a_callback_request_is_not_routed(module_sqlite: str) -> None:
    order = intake.submit(module_sqlite, draft("市民要求人工服务，请回电"), auto_route=False)
    assert order.department is None and order.status == "待派单"
