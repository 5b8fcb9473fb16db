"""The console's order pages over HTTP (the browser flow is tests/integration/test_portal_flow):
a department signs, returns with a reason, the centre sends the return back, the department
replies with an attachment, the centre closes and the web-chat citizen rates 不满意 in the chat,
which reopens the order. Bad input gets the page again with a Chinese message and a 4xx."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from accounts import tokens, users
from gateway.app import create_app
from gateway.auth import SESSION_COOKIE
from hotline.conversations import to_citizen_after
from hotline.settings import Settings
from tests import signin
from workorders import store
from workorders.states import Actor

UNIT, OTHER = "市城市管理局", "市交通运输局"
DRAFT = {
    "channel": "web",
    "request_text": "幸福路口的路灯坏了一个星期，晚上很黑",
    "kind": "投诉",
    "citizen_phone": "13812345678",
    "category": "城市管理",
    "conversation_id": "web:citizen-1",
}


@pytest.fixture
def app(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(var_dir=tmp_path, knowledge_preload=False, sla_scan_seconds=0,
                        attachment_max_bytes=2048, rasa_url="http://127.0.0.1:9")  # fmt: skip
    with TestClient(create_app(settings), follow_redirects=False) as client:
        url = settings.database_url
        for name, role, dept in (
            ("op", "operator", None),
            ("unit", "department", UNIT),
            ("other", "department", OTHER),
            ("boss", "manager", None),
        ):
            signin.add(url, role, dept, name=name)  # fmt: skip
        yield client


def as_user(client: TestClient, name: str) -> str:
    """Sign this client in as `name` (a session cookie); returns the session's CSRF token."""
    url = client.app.state.settings.database_url  # type: ignore[attr-defined]
    user = users.find(url, name)
    assert user is not None
    secret, csrf = tokens.issue(url, user, "session", timedelta(minutes=30))
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, secret)
    assert csrf
    return csrf


def dispatched(client: TestClient) -> str:
    url = client.app.state.settings.database_url  # type: ignore[attr-defined]
    number = store.create(url, DRAFT).number
    store.transition(url, number, "派单", Actor.centre("op"), department=UNIT)
    return number


def act(client: TestClient, csrf: str, number: str, action: str, files=None, **form: str):  # type: ignore[no-untyped-def]
    return client.post(f"/console/orders/{number}/act", data={"csrf": csrf, "action": action,
                       **form}, files=files)  # fmt: skip


def status_of(client: TestClient, number: str) -> str:
    url = client.app.state.settings.database_url  # type: ignore[attr-defined]
    return store.get(url, number).status


def test_portal_lifecycle_through_the_forms(app: TestClient) -> None:
    number = dispatched(app)
    csrf = as_user(app, "unit")
    page = app.get(f"/console/orders/{number}")
    assert page.status_code == 200
    assert "签收时限" in page.text and "剩余" in page.text  # the running sign-for countdown
    assert 'id="act-签收"' in page.text and 'id="act-退单"' in page.text
    assert act(app, csrf, number, "签收").status_code == 303
    refused = act(app, csrf, number, "退单", note=" ")
    assert refused.status_code == 422 and "请填写原因" in refused.text
    assert act(app, csrf, number, "退单", note="不属本单位职责").status_code == 303
    assert status_of(app, number) == "退单审核中"

    csrf = as_user(app, "op")
    page = app.get(f"/console/orders/{number}").text
    assert "驳回退单（退回部门）" in page and "审定退单（重新派单）" in page
    assert act(app, csrf, number, "驳回退单", note="路灯属城管职责").status_code == 303
    assert status_of(app, number) == "已签收"  # back to the unit as it was

    csrf = as_user(app, "unit")
    too_big = act(app, csrf, number, "反馈", note="已修复",
                  files=[("files", ("big.jpg", b"x" * 4096, "image/jpeg"))])  # fmt: skip
    assert too_big.status_code == 422 and "超过2KB" in too_big.text
    assert status_of(app, number) == "已签收"  # nothing half-done
    done = act(app, csrf, number, "反馈", note="已更换灯泡，恢复照明",
               files=[("files", ("现场照片.jpg", b"jpeg-bytes", "image/jpeg"))])  # fmt: skip
    assert done.status_code == 303
    page = app.get(f"/console/orders/{number}").text
    link = re.search(rf'href="(/console/orders/{number}/attachments/\d+)">现场照片.jpg', page)
    assert link, "the attachment is listed on the timeline"
    got = app.get(link.group(1))
    assert got.content == b"jpeg-bytes" and "attachment" in got.headers["content-disposition"]

    csrf = as_user(app, "op")
    assert act(app, csrf, number, "办结", note="路灯已修复").status_code == 303
    url = app.app.state.settings.database_url  # type: ignore[attr-defined]
    feed = to_citizen_after(url, "web:citizen-1", 0)
    assert "路灯已修复" in feed[-1].bot_replies[0]["text"]
    rating = next(b for b in feed[-1].bot_replies[0]["buttons"] if b["title"] == "不满意")
    payload = rating["payload"].replace("}", ', "comment": "晚上还是不亮"}')
    reply = app.post("/api/v1/chat", json={"sender": "citizen-1", "text": payload,
                                           "channel": "web"})  # fmt: skip
    assert reply.status_code == 200 and "重新交办" in reply.json()["messages"][0]["text"]
    order = store.get(url, number)
    assert (order.status, order.department, order.redo_count) == ("已派单", UNIT, 1)
    steps = [(e.action, e.note) for e in store.timeline(url, number)[-3:]]
    assert steps[0] == ("发起回访", None)
    assert steps[1] == ("回访", "晚上还是不亮")
    assert steps[2][0] == "重办" and "晚上还是不亮" in (steps[2][1] or "")


def test_who_sees_and_acts(app: TestClient) -> None:
    number = dispatched(app)
    as_user(app, "other")
    assert app.get(f"/console/orders/{number}").status_code == 404
    listed = app.get("/console").text
    assert number not in listed  # another department's list
    csrf = as_user(app, "boss")
    page = app.get(f"/console/orders/{number}")
    assert page.status_code == 200 and "act-" not in page.text  # managers read only
    assert act(app, csrf, number, "催办").status_code == 403
    csrf = as_user(app, "unit")
    assert number in app.get("/console?category=城市管理").text
    assert number not in app.get("/console?category=交通运输").text
    assert act(app, "wrong", number, "签收").status_code == 403  # CSRF
    wrong_role = act(app, csrf, number, "催办")
    assert wrong_role.status_code == 403 and "只能由中心执行" in wrong_role.text
    csrf = as_user(app, "op")
    assert act(app, csrf, number, "催办").status_code == 303
    assert act(app, csrf, number, "督办", note="请今日签收").status_code == 303
    page = app.get(f"/console/orders/{number}").text
    assert "请今日签收" in page and "中心:op" in page


OPENID = "oWECHAT-citizen-01"


def test_wechat_followup_is_a_customer_service_text_and_a_reply_rates_it(tmp_path: Path) -> None:
    from tests.wechat.fake_api import fake_wechat

    with fake_wechat("wx-app", "wx-secret") as fake:
        settings = Settings(var_dir=tmp_path, knowledge_preload=False, sla_scan_seconds=0,
                            rasa_url="http://127.0.0.1:9", wechat_appid="wx-app",
                            wechat_secret="wx-secret", wechat_api_base=fake.url)  # type: ignore[arg-type]  # fmt: skip
        with TestClient(create_app(settings), follow_redirects=False) as client:
            url = settings.database_url
            signin.add(url, "operator", name="op")
            draft = {**DRAFT, "channel": "wechat", "wechat_openid": OPENID,
                     "conversation_id": f"wechat:{OPENID}"}  # fmt: skip
            number = store.create(url, draft).number
            store.transition(url, number, "派单", Actor.centre("op"), department=UNIT)
            unit = Actor.of_department(UNIT, "王工")
            store.transition(url, number, "签收", unit)
            store.transition(url, number, "反馈", unit, "已修复")
            csrf = as_user(client, "op")
            assert act(client, csrf, number, "办结", note="路灯已修复").status_code == 303
            [text] = fake.texts_to(OPENID)
            assert number in text and "路灯已修复" in text and "不满意" in text
            bearer = signin.bearer(url, "operator")  # the WeChat endpoint's trusted turn
            turn = {"sender": OPENID, "text": "基本满意，修得还算及时", "channel": "wechat"}
            reply = client.post("/api/v1/chat", headers=bearer, json=turn)
            assert reply.json()["messages"][0]["text"] == "感谢您的评价！"
            order = store.get(url, number)
            assert (order.status, order.satisfaction) == ("已回访", "基本满意")
            assert store.timeline(url, number)[-1].note == "修得还算及时"


def test_an_undelivered_followup_lands_on_the_call_list(app: TestClient) -> None:
    url = app.app.state.settings.database_url  # type: ignore[attr-defined]
    draft = {**DRAFT, "channel": "wechat", "wechat_openid": OPENID, "conversation_id": None}
    number = store.create(url, draft).number
    store.transition(url, number, "派单", Actor.centre("op"), department=UNIT)
    unit = Actor.of_department(UNIT, "王工")
    store.transition(url, number, "签收", unit)
    store.transition(url, number, "反馈", unit, "已修复")
    csrf = as_user(app, "op")
    assert act(app, csrf, number, "办结", note="已修复").status_code == 303  # no WeChat API set
    page = app.get("/console/followups").text
    assert number in page and "消息未送达，请电话回访" in page and "13812345678" in page


def test_the_call_list_keeps_an_id_number_in_the_text_masked(app: TestClient) -> None:
    """The script is read aloud: an ID number the citizen gave stays masked (it was shown and
    scripted in full), the phone to call is shown; the centre's own answer names the centre."""
    url = app.app.state.settings.database_url  # type: ignore[attr-defined]
    draft = {**DRAFT, "kind": "咨询", "channel": "api", "conversation_id": None,
             "request_text": "居住证要带什么材料 来电人身份证号320102198003151234"}  # fmt: skip
    number = store.create(url, draft).number
    store.transition(url, number, "办结", Actor.centre("op"), "携带身份证到街道便民服务中心办理。")
    as_user(app, "op")
    page = app.get("/console/followups").text
    assert number in page and "13812345678" in page
    assert "320102198003151234" not in page and "320102********1234" in page
    assert "已由12345热线办结" in page and "。。" not in page


def test_closing_through_the_api_starts_the_followup_too(app: TestClient) -> None:
    url = app.app.state.settings.database_url  # type: ignore[attr-defined]
    number = dispatched(app)
    unit = Actor.of_department(UNIT, "王工")
    store.transition(url, number, "签收", unit)
    store.transition(url, number, "反馈", unit, "已修复")
    app.cookies.clear()
    closed = app.post(f"/api/v1/work-orders/{number}/close", json={"note": "已答复"},
                      headers=signin.bearer(url, "operator"))  # fmt: skip
    assert closed.status_code == 200
    assert store.timeline(url, number)[-1].data == {"channel": "web", "delivered": True}
    [button] = [b for b in to_citizen_after(url, "web:citizen-1", 0)[-1].bot_replies[0]["buttons"]
                if b["title"] == "满意"]  # fmt: skip
    assert number in button["payload"]


def test_an_open_emergency_is_marked_and_listed_first(app: TestClient) -> None:
    """Emergency orders looked like every other row, below newer routine ones: an operator
    could not tell which of the waiting orders was a gas leak."""
    url = app.app.state.settings.database_url  # type: ignore[attr-defined]
    urgent = {**DRAFT, "kind": "求助", "priority": "emergency",
              "request_text": "楼道里很浓的煤气味 邻居家没人"}  # fmt: skip
    gas = store.create(url, urgent).number
    routine = store.create(url, DRAFT).number  # newer, not urgent
    as_user(app, "op")
    listing = app.get("/console").text
    assert listing.index(gas) < listing.index(routine)
    row = listing[listing.index(gas) : listing.index("</tr>", listing.index(gas))]
    assert 'class="urgent"' in row
    assert 'id="urgent"' in app.get(f"/console/orders/{gas}").text
    assert 'id="urgent"' not in app.get(f"/console/orders/{routine}").text


def test_the_extension_form_offers_the_days_the_server_accepts(app: TestClient) -> None:
    """The form allowed 30 working days; the server refuses more than 15 (and the typed reason
    was lost with the error)."""
    url = app.app.state.settings.database_url  # type: ignore[attr-defined]
    number = store.create(url, DRAFT).number
    store.transition(url, number, "派单", Actor.centre("op"), department=UNIT)
    unit = Actor.of_department(UNIT, "王工")
    store.transition(url, number, "签收", unit)
    store.transition(url, number, "办理", unit)
    as_user(app, "unit")
    page = app.get(f"/console/orders/{number}").text
    assert 'name="days" type="number" min="1" max="15"' in page


def test_the_full_number_is_shown_on_request_to_those_who_handle_orders(app: TestClient) -> None:
    """A callback order exists to be called back, yet its page showed 138****5678 only: the
    handling roles may now show the number, audited; a manager may not; other units see
    nothing of the order."""
    from accounts import audit

    url = app.app.state.settings.database_url  # type: ignore[attr-defined]
    number = store.create(url, DRAFT).number
    store.transition(url, number, "派单", Actor.centre("op"), department=UNIT)
    as_user(app, "op")
    page = app.get(f"/console/orders/{number}").text
    assert "138****5678" in page and "13812345678" not in page and 'id="reveal"' in page
    shown = app.get(f"/console/orders/{number}?reveal=1")
    assert "13812345678" in shown.text and shown.headers["cache-control"] == "no-store"
    assert [e["action"] for e in audit.entries(url, target=number)][:1] == ["order.reveal"]
    as_user(app, "unit")
    assert "13812345678" in app.get(f"/console/orders/{number}?reveal=1").text
    as_user(app, "boss")
    assert app.get(f"/console/orders/{number}?reveal=1").status_code == 403
    assert 'id="reveal"' not in app.get(f"/console/orders/{number}").text
    as_user(app, "other")
    assert app.get(f"/console/orders/{number}?reveal=1").status_code == 404
