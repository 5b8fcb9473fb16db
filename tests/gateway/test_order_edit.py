"""编辑工单 over HTTP: `PATCH /api/v1/work-orders/{number}` and the console's form at
/console/orders/{number}/edit share workorders/edits.py. Admin and operator edit; a department
and a manager get 403, nobody signed in 401 (the page: to sign-in); a closed order 409; bad input
4xx, on the page with a Chinese message and everything typed kept. Each edit is a 修改 step on
the order's page and in the audit log, phone numbers masked (the browser flow is
tests/integration/test_order_edit_page.py)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from accounts import audit
from tests import signin
from tests.gateway.test_console_orders import (  # noqa: F401
    DRAFT,
    UNIT,
    app,
    as_user,
    dispatched,
)
from workorders import edits, store
from workorders.states import Actor

DRAFT_TEXT = DRAFT["request_text"]


def url_of(client: TestClient) -> str:
    return client.app.state.settings.database_url  # type: ignore[attr-defined,no-any-return]


def patch(client: TestClient, number: str, headers: dict[str, str], **body: Any):  # type: ignore[no-untyped-def]
    client.cookies.clear()
    return client.patch(f"/api/v1/work-orders/{number}", json=body, headers=headers)


def closed(client: TestClient) -> str:
    url = url_of(client)
    number = dispatched(client)
    unit = Actor.of_department(UNIT, "王工")
    store.transition(url, number, "签收", unit)
    store.transition(url, number, "反馈", unit, "已修复")
    store.transition(url, number, "办结", Actor.centre("op"), "已答复")
    return number


def test_the_api_edits_an_open_order_once(app: TestClient) -> None:  # noqa: F811
    url = url_of(app)
    number = dispatched(app)
    operator = signin.bearer(url, "operator")
    body = {"address": "幸福路与人民路路口", "citizen_phone": "139 1234 5678",
            "category": "市容环卫", "note": "市民更正"}  # fmt: skip
    done = patch(app, number, operator, **body)
    assert done.status_code == 200
    assert done.json()["changed"] == ["address", "category", "citizen_phone"]
    order = done.json()["order"]
    assert (order["address"], order["category"], order["citizen_phone"]) == (
        "幸福路与人民路路口", "市容环卫", "139****5678"
    )  # fmt: skip
    steps = len(store.timeline(url, number))
    again = patch(app, number, operator, **body)  # a retry: the same result, no second step
    assert again.status_code == 200 and again.json()["changed"] == []
    assert len(store.timeline(url, number)) == steps
    shown = app.get(f"/api/v1/work-orders/{number}", headers=operator).json()["timeline"][-1]
    assert shown["action"] == "修改" and shown["note"] == "市民更正"
    assert shown["data"]["changes"]["citizen_phone"] == {"from": "138****5678", "to": "139****5678"}
    [entry] = [e for e in audit.entries(url, target=number) if e["action"] == "order.edit"]
    assert entry["detail"]["changes"]["address"]["to"] == "幸福路与人民路路口"
    assert "13912345678" not in str(entry) and "13812345678" not in str(entry)


def test_the_api_refuses_other_roles_closed_orders_and_bad_input(app: TestClient) -> None:  # noqa: F811
    url = url_of(app)
    number = dispatched(app)
    operator = signin.bearer(url, "operator")
    assert patch(app, number, {}, address="x").status_code == 401
    assert patch(app, number, signin.bearer(url, "manager"), address="x").status_code == 403
    own_unit = signin.bearer(url, "department", UNIT)
    assert patch(app, number, own_unit, address="x").status_code == 403
    assert patch(app, number, signin.bearer(url, "admin"), address="管理员改的").status_code == 200

    bad_phone = patch(app, number, operator, citizen_phone="12345")
    assert bad_phone.status_code == 422
    assert bad_phone.json()["detail"]["field"] == "citizen_phone"
    assert "电话号码格式不正确" in bad_phone.json()["detail"]["message"]
    assert patch(app, number, operator, category="外星人").status_code == 422
    assert patch(app, number, operator, request_text=" ").status_code == 422
    assert patch(app, number, operator, department="市交通运输局").status_code == 422
    assert patch(app, number, operator, address=["a"]).status_code == 422
    assert patch(app, "20261123-9999", operator, address="x").status_code == 404
    assert store.get(url, number).address == "管理员改的"

    refused = patch(app, closed(app), operator, address="别处")
    assert refused.status_code == 409 and "工单已办结，不能再修改" in refused.json()["detail"]


def test_the_console_form_edits_and_the_order_page_shows_it(app: TestClient) -> None:  # noqa: F811
    number = dispatched(app)
    csrf = as_user(app, "op")
    page = app.get(f"/console/orders/{number}")
    assert 'id="edit-order"' in page.text
    form = app.get(f"/console/orders/{number}/edit")
    assert form.status_code == 200
    assert "幸福路口的路灯坏了一个星期" in form.text and "当前：138****5678" in form.text
    assert "13812345678" not in form.text  # the phone field starts empty
    typed = {"csrf": csrf, "request_text": "幸福路口的路灯坏了两个星期",
             "address": "幸福路8号", "category": "市容环卫", "citizen_phone": "1391234",
             "note": "市民来电补充"}  # fmt: skip
    refused = app.post(f"/console/orders/{number}/edit", data=typed)
    assert refused.status_code == 422
    assert "联系电话：电话号码格式不正确" in refused.text
    for value in ("幸福路口的路灯坏了两个星期", 'value="幸福路8号"', "1391234", "市民来电补充",
                  '<option value="市容环卫" selected>'):  # fmt: skip
        assert value in refused.text  # nothing typed is lost
    assert store.get(url_of(app), number).address is None

    typed["citizen_phone"] = "13912345678"
    saved = app.post(f"/console/orders/{number}/edit", data=typed)
    assert saved.status_code == 303
    page = app.get(saved.headers["location"]).text
    assert "已修改。" in page and "幸福路8号" in page and "139****5678" in page
    assert "市容环卫" in page and "幸福路口的路灯坏了两个星期" in page
    assert "联系电话：138****5678 → 139****5678" in page
    assert "地址：（空） → 幸福路8号" in page and "市民来电补充" in page and "中心:op" in page
    assert "13912345678" not in page
    actions = [e["action"] for e in audit.entries(url_of(app), target=number)]
    assert "order.edit" in actions


def test_the_console_form_refuses_who_may_not_edit(app: TestClient) -> None:  # noqa: F811
    number = dispatched(app)
    form = {"request_text": "改", "address": "别处"}
    app.cookies.clear()
    assert app.get(f"/console/orders/{number}/edit").headers["location"].startswith("/login")
    for name, status in (("unit", 403), ("other", 404), ("boss", 403)):
        csrf = as_user(app, name)
        assert 'id="edit-order"' not in app.get(f"/console/orders/{number}").text
        assert app.get(f"/console/orders/{number}/edit").status_code == status
        posted = app.post(f"/console/orders/{number}/edit", data={"csrf": csrf, **form})
        assert posted.status_code == status
    csrf = as_user(app, "op")
    stale = app.post(f"/console/orders/{number}/edit", data={"csrf": "old", **form})
    assert stale.status_code == 403 and "页面已过期" in stale.text and "别处" in stale.text
    assert store.get(url_of(app), number).address is None


def test_a_closed_order_has_no_edit_form(app: TestClient) -> None:  # noqa: F811
    number = closed(app)
    csrf = as_user(app, "op")
    assert 'id="edit-order"' not in app.get(f"/console/orders/{number}").text
    page = app.get(f"/console/orders/{number}/edit")
    assert page.status_code == 409 and "工单已办结，不能再修改" in page.text
    assert 'id="edit-form"' not in page.text
    posted = app.post(f"/console/orders/{number}/edit",
                      data={"csrf": csrf, "request_text": "改", "address": "别处"})  # fmt: skip
    assert posted.status_code == 409 and "工单已办结，不能再修改" in posted.text


def test_a_stale_form_changes_only_what_its_operator_changed(app: TestClient) -> None:  # noqa: F811
    url = url_of(app)
    number = dispatched(app)
    csrf = as_user(app, "op")
    loaded = app.get(f"/console/orders/{number}/edit").text
    was = {f"was_{f}": v for f, v in (("request_text", DRAFT_TEXT), ("address", ""),
                                       ("category", "城市管理"))}  # fmt: skip
    for value in was.values():
        assert f'value="{value}"' in loaded
    edits.edit(url, number, Actor.centre("另一位坐席"), {"address": "幸福路8号"})  # meanwhile
    form = {"csrf": csrf, **was, "request_text": DRAFT_TEXT.replace("\n", "\r\n") + "，已三天",
            "address": "", "category": "城市管理"}  # fmt: skip
    assert app.post(f"/console/orders/{number}/edit", data=form).status_code == 303
    order = store.get(url, number)
    assert order.request_text.endswith("，已三天")
    assert order.address == "幸福路8号"  # the other operator's change stands
    assert list(store.timeline(url, number)[-1].data["changes"]) == ["request_text"]


def test_opening_the_form_on_a_text_with_numbers_is_an_audited_reveal(app: TestClient) -> None:  # noqa: F811
    url = url_of(app)
    number = store.create(url, {**DRAFT, "request_text": "路灯坏了，回电13912345678"}).number
    as_user(app, "op")
    assert "回电139****5678" in app.get(f"/console/orders/{number}").text  # the page masks it
    assert not [e for e in audit.entries(url, target=number) if e["action"] == "order.reveal"]
    assert "回电13912345678" in app.get(f"/console/orders/{number}/edit").text
    [reveal] = [e for e in audit.entries(url, target=number) if e["action"] == "order.reveal"]
    assert (reveal["actor"], reveal["detail"]) == ("op", {"fields": ["request_text"]})
