"""A request becomes a stored order: routed by the real router, dispatched when it is sure, kept
(unrouted) when routing fails, flagged as an emergency when it is one, linked to its repeats
once, and stored once per idempotency key."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hotline.settings import Settings, model_paths
from knowledge.embedding_model import configured_model, encode_passages
from workorders import intake, store
from workorders.config import default_config
from workorders.router_model import Router
from workorders.router_source import table_router
from workorders.routing import Routing
from workorders.states import Actor
from workorders.store import Draft


def draft(text: str, address: str | None = None, **fields: Any) -> Draft:
    return Draft(channel="web", request_text=text, kind="投诉", address=address, **fields)


@pytest.fixture(scope="module")
def router() -> Router:
    return table_router(default_config())  # the app's router without HOTLINE_ROUTER_DIR


class Counting:
    """The real router, counting how often it is asked."""

    def __init__(self, router: Router) -> None:
        self.router, self.calls = router, 0

    def predict(self, texts: Sequence[str]) -> Any:
        self.calls += 1
        return self.router.predict(texts)

    def gate(self, prediction: Any) -> Any:
        return self.router.gate(prediction)


class Broken:
    def predict(self, texts: Sequence[str]) -> Any:
        raise RuntimeError("model file missing")


def first_event(url: str, number: str) -> dict[str, Any]:
    return store.timeline(url, number)[0].data


def test_a_clear_request_is_routed_to_the_districts_unit(
    module_sqlite: str, router: Router
) -> None:
    order = intake.submit(
        module_sqlite,
        draft("小区门口的路灯坏了一个星期，晚上黑漆漆的", "城东区东湖路"),
        router=router,
    )
    assert order.district == "城东区" and order.category
    assert order.department  # proposed (or dispatched) to a real unit of the table
    proposal = first_event(module_sqlite, order.number)["routing"]
    assert (proposal["category"], proposal["department"]) == (order.category, order.department)
    dispatched = [e.actor for e in store.timeline(module_sqlite, order.number)][-1]
    assert (order.status == "已派单") == (proposal["gate"] == "auto")
    if order.status == "已派单":
        assert dispatched.endswith("智能派单")


def test_a_sure_routing_is_dispatched_and_an_unsure_one_waits_for_an_operator(
    module_sqlite: str,
) -> None:
    sure = Routing("城市管理", "城东区人民政府", "城东区", "auto", 0.99, (), None)
    unsure = Routing("城市管理", "城东区人民政府", "城东区", "confirm", 0.5, (), None)
    a = intake.submit(module_sqlite, draft("井盖丢了"), routing=sure)
    b = intake.submit(module_sqlite, draft("井盖又丢了"), routing=unsure)
    assert (a.status, a.department) == ("已派单", "城东区人民政府")
    assert (b.status, b.department) == ("待派单", "城东区人民政府")
    assert first_event(module_sqlite, b.number)["routing"]["gate"] == "confirm"  # for the operator


def test_an_emergency_is_never_dispatched_even_by_a_sure_routing(module_sqlite: str) -> None:
    sure = Routing("城市管理", "城东区人民政府", "城东区", "auto", 0.99, (), None)
    order = intake.submit(module_sqlite, draft("小区配电箱着火了，冒黑烟"), routing=sure)
    assert (order.priority, order.status) == ("emergency", "待派单")
    proposal = first_event(module_sqlite, order.number)["routing"]
    assert (proposal["gate"], proposal["emergency"]) == ("manual", "119")


def test_the_callers_category_is_kept_and_left_to_an_operator(module_sqlite: str) -> None:
    sure = Routing("城市管理", "城东区人民政府", "城东区", "auto", 0.99, (), None)
    order = intake.submit(module_sqlite, draft("井盖丢了", category="市容环卫"), routing=sure)
    assert (order.category, order.department, order.status) == ("市容环卫", None, "待派单")


def test_a_chosen_unit_gets_the_likeliest_type_it_handles(module_sqlite: str) -> None:
    """A unit given without a type stayed untyped and could not be dispatched (派单前须确定工单
    类型); the router's type is used when that unit handles it, else the next of its top 3."""
    sure = Routing("市容环卫", "城东区人民政府", "城东区", "auto", 0.99,
                   (("市容环卫", 0.99), ("城市管理", 0.01)), None)  # fmt: skip
    given = draft("渣土车夜间抛洒渣土", department="市城市管理局")
    order = intake.submit(module_sqlite, given, routing=sure)
    assert (order.category, order.department, order.status) == (
        "市容环卫",
        "市城市管理局",
        "待派单",
    )
    other = Routing("物业管理", "城东区人民政府", "城东区", "auto", 0.7,
                    (("物业管理", 0.7), ("城市管理", 0.2)), None)  # fmt: skip
    order = intake.submit(module_sqlite, draft("小区门口占道", department="市城市管理局"),
                          routing=other)  # fmt: skip
    assert order.category == "城市管理"  # 物业管理 is 住建's
    store.transition(module_sqlite, order.number, "派单", Actor.centre("op"))  # dispatchable


def test_routing_failure_never_loses_the_order(module_sqlite: str) -> None:
    order = intake.submit(module_sqlite, draft("垃圾三天没人收了"), router=Broken())  # type: ignore[arg-type]
    assert order.status == "待派单" and order.department is None
    assert store.get(module_sqlite, order.number).request_text == "垃圾三天没人收了"


def test_without_a_usable_router_orders_are_kept_and_emergencies_still_flagged(
    module_sqlite: str, tmp_path: Path
) -> None:
    settings = Settings(var_dir=tmp_path, router_dir=tmp_path / "no-router-here")
    order = intake.submit(module_sqlite, draft("楼道里煤气泄漏了，味道很大"), settings=settings)
    assert (order.priority, order.status, order.department) == ("emergency", "待派单", None)


def test_an_emergency_is_flagged_and_left_to_a_person(module_sqlite: str, router: Router) -> None:
    order = intake.submit(module_sqlite, draft("楼道里有很大的煤气味，好像漏气了"), router=router)
    assert order.priority == "emergency" and order.status == "待派单"
    proposal = first_event(module_sqlite, order.number)["routing"]
    assert (proposal["gate"], proposal["emergency"]) == ("manual", "119")


def test_a_callback_request_is_not_routed(module_sqlite: str) -> None:
    order = intake.submit(
        module_sqlite,
        draft("市民要求人工服务，请回电"),
        auto_route=False,
        router=Broken(),  # type: ignore[arg-type]
    )
    assert order.department is None and order.status == "待派单"


def test_a_retry_returns_the_same_order_without_routing_it_again(
    module_sqlite: str, router: Router
) -> None:
    counting = Counting(router)
    request = draft("路口的红绿灯坏了，一直闪黄灯", "城西区")
    key = intake.idempotency_key("web:u7", request.model_dump_json())
    first = intake.submit(module_sqlite, request, key, router=counting)  # type: ignore[arg-type]
    events = len(store.timeline(module_sqlite, first.number))
    again = intake.submit(module_sqlite, request, key, router=counting)  # type: ignore[arg-type]
    assert again.number == first.number and counting.calls == 1
    assert len(store.timeline(module_sqlite, first.number)) == events
    with pytest.raises(store.IdempotencyConflict):
        intake.submit(module_sqlite, draft("另一件事"), key, router=counting)  # type: ignore[arg-type]


def test_repeats_are_linked_once_by_intake(sqlite_db: str, router: Router) -> None:
    model = configured_model(model_paths())

    def encode(texts: Sequence[str]) -> np.ndarray:
        return encode_passages(model, list(texts))

    phone = {"citizen_phone": "13812345678"}
    first = intake.submit(
        sqlite_db, draft("我家楼上每天半夜装修电钻声吵得没法睡觉", **phone), router=router
    )
    again = draft("楼上邻居晚上还在用电钻装修，太吵了睡不着", **phone)
    second = intake.submit(sqlite_db, again, "k-2", router=router, encode=encode)
    replay = intake.submit(sqlite_db, again, "k-2", router=router, encode=encode)
    assert replay.number == second.number
    assert [r["number"] for r in store.related(sqlite_db, second.number)] == [first.number]
    links = [e for e in store.timeline(sqlite_db, second.number) if e.action == "关联"]
    assert len(links) == 1 and links[0].data["related"] == first.number
    third = intake.submit(sqlite_db, draft("楼上装修电钻太吵", **phone), router=router)
    assert store.related(sqlite_db, third.number) == []  # no embedding function: no detection


def test_idempotency_keys() -> None:
    key = intake.idempotency_key("web:u1", "emergency", "着火了")
    assert key == intake.idempotency_key("web:u1", "emergency", "着火了")
    assert len(key) == 32 and int(key, 16) >= 0
    assert intake.idempotency_key("a|b", "c") != intake.idempotency_key("a", "b|c")
    assert store.idempotency_key is intake.idempotency_key
