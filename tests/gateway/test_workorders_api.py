"""/api/v1/work-orders over HTTP: idempotent create, filters, timeline, permissions, errors.

The client signs in as an operator; department staff and managers have their own headers.
(Who may call what at all is tests/gateway/test_access_matrix.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gateway.app import create_app
from hotline import db
from hotline.settings import Settings
from tests import signin
from workorders import intake
from workorders.config import default_config
from workorders.store import Draft

DRAFT = {
    "channel": "web",
    "request_text": "城东区幸福路口的路灯坏了一个星期了，晚上很黑",
    "kind": "投诉",
    "citizen_name": "张三",
    "citizen_phone": "13812345678",
    "category": "城市管理",
    "district": "城东区",
    "address": "城东区幸福路口",
}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(var_dir=tmp_path, knowledge_preload=False)
    with TestClient(create_app(settings)) as c:
        c.headers.update(signin.bearer(settings.database_url, "operator"))
        yield c


def staff(client: TestClient, role: str, department: str | None = None) -> dict[str, str]:
    url = client.app.state.settings.database_url  # type: ignore[attr-defined]
    return signin.bearer(url, role, department)


def test_create_is_idempotent_and_masks_contact_data(client: TestClient) -> None:
    first = client.post("/api/v1/work-orders", json=DRAFT, headers={"Idempotency-Key": "k-1"})
    again = client.post("/api/v1/work-orders", json=DRAFT, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == 201 and again.status_code == 201
    order = first.json()["order"]
    assert again.json()["order"]["number"] == order["number"]
    assert order["status"] == "待派单"
    assert order["citizen_phone"] == "138****5678" and order["citizen_name"] == "张*"
    assert client.get("/api/v1/work-orders").json()["total"] == 1


def test_lifecycle_with_permissions_and_illegal_steps(client: TestClient) -> None:
    number = client.post("/api/v1/work-orders", json=DRAFT).json()["order"]["number"]
    url = f"/api/v1/work-orders/{number}"
    city = staff(client, "department", "市城市管理局")
    other = staff(client, "department", "市交通运输局")
    assert client.post(f"{url}/sign", headers=city).status_code == 404  # not theirs yet
    early = client.post(f"{url}/rate", json={"data": {"satisfaction": "满意"}})
    assert early.status_code == 409  # not dispatched, let alone closed
    dispatched = client.post(f"{url}/dispatch", json={"data": {"department": "市城市管理局"}})
    assert dispatched.status_code == 200 and dispatched.json()["order"]["status"] == "已派单"
    assert client.post(f"{url}/sign").status_code == 403  # the centre does not sign
    assert client.post(f"{url}/sign", headers=other).status_code == 404  # not even seen
    # Who acts is the signed-in user; an actor in the body is ignored.
    claim = {"actor": {"role": "department", "department": "市城市管理局"}}
    assert client.post(f"{url}/sign", json=claim, headers=other).status_code == 404
    signed = client.post(f"{url}/sign", headers=city).json()["order"]
    assert signed["status"] == "已签收"
    reply = {"note": "已更换灯泡，路灯恢复照明。"}
    assert client.post(f"{url}/feedback", json=reply, headers=city).status_code == 200
    assert client.post(f"{url}/close").json()["order"]["status"] == "已办结"
    rated = client.post(f"{url}/rate", json={"data": {"satisfaction": "满意"}})
    assert rated.json()["order"]["satisfaction"] == "满意"
    shown = client.get(url).json()
    actions = [e["action"] for e in shown["timeline"]]
    # 办结 started the 回访 (a phone call for an order without a chat conversation)
    assert actions == ["受理", "派单", "签收", "反馈", "办结", "发起回访", "回访"]
    assert shown["timeline"][5]["data"] == {"channel": "phone", "delivered": True}
    listed = client.get("/api/v1/work-orders", params={"status": "已回访"}).json()
    assert [o["number"] for o in listed["items"]] == [number]


def test_bad_input_is_refused_and_nothing_is_stored(client: TestClient) -> None:
    bad_phone = client.post("/api/v1/work-orders", json={**DRAFT, "citizen_phone": "12345"})
    assert bad_phone.status_code == 422
    assert bad_phone.json()["detail"]["field"] == "citizen_phone"
    unknown = client.post("/api/v1/work-orders", json={**DRAFT, "category": "不存在的分类"})
    assert unknown.status_code == 422 and unknown.json()["detail"]["field"] == "category"
    huge = client.post("/api/v1/work-orders", json={**DRAFT, "request_text": "字" * 20000})
    assert huge.status_code == 422
    assert client.get("/api/v1/work-orders").json()["total"] == 0
    assert client.get("/api/v1/work-orders/20260101-0001").status_code == 404
    number = client.post("/api/v1/work-orders", json=DRAFT).json()["order"]["number"]
    assert client.post(f"/api/v1/work-orders/{number}/fly").status_code == 422


def test_orders_of_one_conversation_category_and_district(client: TestClient) -> None:
    mine = client.post("/api/v1/work-orders", json={**DRAFT, "conversation_id": "web:u1"})
    client.post("/api/v1/work-orders", json={**DRAFT, "conversation_id": "web:u2"})
    client.post("/api/v1/work-orders", json={**DRAFT, "district": "城西区"})
    by_chat = client.get("/api/v1/work-orders", params={"conversation_id": "web:u1"}).json()
    assert [o["number"] for o in by_chat["items"]] == [mine.json()["order"]["number"]]
    west = client.get("/api/v1/work-orders", params={"district": "城西区"}).json()
    assert west["total"] == 1
    city = client.get("/api/v1/work-orders", params={"category": "城市管理"}).json()
    assert city["total"] == 3


# Creation goes through the same intake as chat: routing, emergency flag, repeats, idempotency.

LAMP = {
    "channel": "api",
    "request_text": "小区门口的路灯坏了一个星期，晚上黑漆漆的",
    "kind": "投诉",
    "address": "城东区东湖路",
}


def test_an_order_created_over_rest_is_routed_like_a_chat_order(
    client: TestClient, tmp_path: Path
) -> None:
    made = client.post("/api/v1/work-orders", json=LAMP)
    assert made.status_code == 201
    order, routing = made.json()["order"], made.json()["routing"]
    settings = client.app.state.settings  # type: ignore[attr-defined]
    chat_url = f"sqlite:///{tmp_path / 'chat.db'}"
    db.upgrade(chat_url)
    chat = intake.submit(chat_url, Draft(**{**LAMP, "channel": "web"}), settings=settings)
    assert (order["category"], order["department"], order["district"]) == (
        chat.category, chat.department, chat.district,
    )  # fmt: skip
    assert order["department"] and order["district"] == "城东区"
    assert routing["gate"] in ("auto", "confirm", "manual") and routing["category"] == chat.category
    assert (order["status"] == "已派单") == (routing["gate"] == "auto") == (chat.status == "已派单")


def test_an_emergency_over_rest_is_flagged_and_not_dispatched(client: TestClient) -> None:
    body = {**LAMP, "request_text": "楼下饭店着火了，烟好大，快来人", "kind": "求助"}
    made = client.post("/api/v1/work-orders", json=body).json()
    assert made["order"]["priority"] == "emergency" and made["order"]["status"] == "待派单"
    assert made["routing"]["emergency"] == "119" and made["routing"]["gate"] == "manual"


def test_rest_links_repeats_once_and_a_replay_changes_nothing(client: TestClient) -> None:
    me = {"channel": "api", "kind": "投诉", "citizen_phone": "13812345678"}
    first = client.post(
        "/api/v1/work-orders", json={**me, "request_text": "我家楼上每天半夜装修电钻声吵得没法睡觉"}
    )
    again = {**me, "request_text": "楼上邻居晚上还在用电钻装修，太吵了睡不着"}
    second = client.post("/api/v1/work-orders", json=again, headers={"Idempotency-Key": "k-9"})
    replay = client.post("/api/v1/work-orders", json=again, headers={"Idempotency-Key": "k-9"})
    number = second.json()["order"]["number"]
    assert replay.status_code == 201 and replay.json()["order"]["number"] == number
    assert replay.json()["routing"] == second.json()["routing"]
    expected = [{"number": first.json()["order"]["number"], "kind": "repeat", "direction": "to"}]
    assert second.json()["related"] == replay.json()["related"] == expected
    shown = client.get(f"/api/v1/work-orders/{number}").json()
    assert [e["action"] for e in shown["timeline"]].count("关联") == 1
    assert client.get("/api/v1/work-orders").json()["total"] == 2
    other = client.post(
        "/api/v1/work-orders",
        json={**again, "request_text": "别的事"},
        headers={"Idempotency-Key": "k-9"},
    )
    assert other.status_code == 409


def test_health_names_the_router_in_use(client: TestClient, tmp_path: Path) -> None:
    router = client.get("/health").json()["dependencies"]["router"]
    assert router["status"] == "ok" and router["source"] == "table"
    assert router["labels"] == len(default_config().categories)
    broken = Settings(var_dir=tmp_path / "b", knowledge_preload=False, router_dir=tmp_path / "x")
    with TestClient(create_app(broken)) as c:
        health = c.get("/health")
        operator = signin.bearer(broken.database_url, "operator")
        made = c.post("/api/v1/work-orders", json=LAMP, headers=operator)
    assert health.status_code == 503
    router = health.json()["dependencies"]["router"]
    assert (router["status"], router["source"], router["path"]) == (
        "down", "trained", str(tmp_path / "x"),
    )  # fmt: skip
    assert "hotline router train --out" in router["error"]
    assert made.status_code == 201 and made.json()["order"]["department"] is None  # kept unrouted


# Accounts: department scope, read-only managers, audited reveals and changes.


def _dispatched(client: TestClient, department: str) -> str:
    number = client.post("/api/v1/work-orders", json=DRAFT).json()["order"]["number"]
    client.post(f"/api/v1/work-orders/{number}/dispatch", json={"data": {"department": department}})
    return str(number)


def test_department_staff_see_and_act_on_their_own_orders_only(client: TestClient) -> None:
    mine, theirs = _dispatched(client, "市城市管理局"), _dispatched(client, "市交通运输局")
    city = staff(client, "department", "市城市管理局")
    listed = client.get("/api/v1/work-orders", headers=city).json()
    assert [o["number"] for o in listed["items"]] == [mine] and listed["total"] == 1
    asked = client.get(
        "/api/v1/work-orders", params={"department": "市交通运输局"}, headers=city
    ).json()
    assert asked == {"total": 0, "items": []}
    assert client.get(f"/api/v1/work-orders/{theirs}", headers=city).status_code == 404
    assert client.get(f"/api/v1/work-orders/{mine}", headers=city).status_code == 200
    signed = client.post(f"/api/v1/work-orders/{mine}/sign", headers=city)
    timeline = client.get(f"/api/v1/work-orders/{mine}").json()["timeline"]
    assert signed.status_code == 200 and timeline[-1]["actor"].startswith("部门:市城市管理局/")


def test_a_manager_reads_everything_and_changes_nothing(client: TestClient) -> None:
    number = _dispatched(client, "市城市管理局")
    manager = staff(client, "manager")
    assert client.get("/api/v1/work-orders", headers=manager).json()["total"] == 1
    shown = client.get(f"/api/v1/work-orders/{number}", headers=manager).json()["order"]
    assert shown["citizen_phone"] == "138****5678"
    assert (
        client.get(f"/api/v1/work-orders/{number}?reveal=true", headers=manager).status_code == 403
    )
    assert client.post(f"/api/v1/work-orders/{number}/close", headers=manager).status_code == 403
    assert client.post("/api/v1/work-orders", json=DRAFT, headers=manager).status_code == 403


def test_reveals_and_changes_are_in_the_audit_log(client: TestClient) -> None:
    from accounts import audit

    url = client.app.state.settings.database_url  # type: ignore[attr-defined]
    number = _dispatched(client, "市城市管理局")
    shown = client.get(f"/api/v1/work-orders/{number}", params={"reveal": "true"}).json()
    assert shown["order"]["citizen_phone"] == "13812345678"
    assert shown["order"]["citizen_name"] == "张三"
    city = staff(client, "department", "市城市管理局")
    client.post(f"/api/v1/work-orders/{number}/签收", headers=city)
    log = audit.entries(url, target=number)
    assert [e["action"] for e in log] == ["order.sign", "order.reveal", "order.dispatch",
                                          "order.create"]  # fmt: skip
    reveal = log[1]
    assert reveal["role"] == "operator" and reveal["actor"].startswith("operator-")
    assert reveal["detail"]["fields"] == ["citizen_name", "citizen_phone"]
    assert log[0]["role"] == "department" and log[0]["at"] >= reveal["at"]
    manager = staff(client, "manager")
    over_http = client.get("/api/v1/audit", params={"target": number}, headers=manager).json()
    assert over_http["items"] == log
    assert client.get("/api/v1/audit", headers=city).status_code == 403
