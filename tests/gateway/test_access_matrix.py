"""Every route of the app × every kind of caller → the expected status.

Callers: anonymous, each role, and a department user of another department than the order's.
Each signed-in caller sends a bearer token and a session cookie (fresh for every request), so
API routes and pages are both checked. A route added later without an entry here fails
`test_every_route_has_an_entry`: decide who may call it, then add it.

Public routes send a request that is refused on its content (422), so the check stops before
any model or Rasa is needed; the point is that the refusal is not 401/403 and is the same for
everyone.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute, iter_route_contexts
from fastapi.testclient import TestClient
from starlette.routing import Mount, Route

from accounts import tokens, users
from gateway.app import create_app
from gateway.auth import SESSION_COOKIE
from handoffs import queue
from hotline.settings import Settings
from tests import signin
from tests.wechat.pictures import PNG
from workorders import pictures

CALLERS = ("anonymous", "manager", "other", "admin", "operator", "department")
OWN, OTHER = "市城市管理局", "市交通运输局"
ROLE_OF = {"other": ("department", OTHER), "department": ("department", OWN)}
STAFF = ("manager", "other", "admin", "operator", "department")
PAGE_ROLES = ("manager", "other", "admin", "operator", "department")


def everyone(status: int) -> dict[str, int]:
    return dict.fromkeys(CALLERS, status)


def signed_in(status: int, anonymous: int = 401, **others: int) -> dict[str, int]:
    return {"anonymous": anonymous, **dict.fromkeys(STAFF, status), **others}


@dataclass(frozen=True)
class Case:
    method: str
    path: str  # with {number} for the order; other parameters filled in
    expect: dict[str, int]
    body: dict[str, Any] | None = None
    form: dict[str, str] | None = None
    public: bool = False  # everyone the same status, never 401/403


# (route path, method) → the request made and what each caller gets. Order matters where a call
# changes the order: the department signs it last.
MATRIX: dict[tuple[str, str], Case] = {
    # Citizen channels: open, refused on their content only.
    ("/api/v1/chat", "POST"): Case("POST", "/api/v1/chat", everyone(422),
                                   body={"sender": "u", "text": " "}, public=True),
    ("/api/v1/triage", "POST"): Case("POST", "/api/v1/triage", everyone(422),
                                     body={"text": ""}, public=True),
    ("/api/v1/knowledge/search", "GET"): Case("GET", "/api/v1/knowledge/search?q=%20",
                                              everyone(422), public=True),
    # The PBX's endpoints: the test client is neither loopback nor in a PBX network.
    ("/api/v1/calls/{call_id}", "POST"): Case("POST", "/api/v1/calls/nope", everyone(403),
                                              body={}),
    ("/api/v1/calls/{call_id}/outcome", "GET"): Case("GET", "/api/v1/calls/nope/outcome",
                                                     everyone(403)),
    # WeChat's server URL: WeChat's signature is the authentication; off (404) without a token.
    ("/wechat", "GET"): Case("GET", "/wechat", everyone(404), public=True),
    ("/wechat", "POST"): Case("POST", "/wechat", everyone(404), public=True),
    ("/api/v1/auth/token", "POST"): Case("POST", "/api/v1/auth/token", everyone(422),
                                         form={}, public=True),
    # Accounts.
    ("/api/v1/auth/me", "GET"): Case("GET", "/api/v1/auth/me", signed_in(200)),
    ("/api/v1/auth/revoke", "POST"): Case("POST", "/api/v1/auth/revoke", signed_in(204)),
    ("/api/v1/audit", "GET"): Case("GET", "/api/v1/audit", signed_in(403, admin=200, manager=200)),
    # Work orders: centre staff create; everyone signed in reads (a department its own);
    # who acts is the role's business (the department signs, the centre may not).
    ("/api/v1/work-orders", "POST"): Case(
        "POST", "/api/v1/work-orders",
        signed_in(403, admin=201, operator=201),
        body={"channel": "api", "kind": "咨询", "request_text": "请问路灯归哪个部门管",
              "category": "城市管理"},
    ),
    ("/api/v1/work-orders", "GET"): Case("GET", "/api/v1/work-orders", signed_in(200)),
    ("/api/v1/work-orders/{number}", "GET"): Case(
        "GET", "/api/v1/work-orders/{number}", signed_in(200, other=404)
    ),
    # 修改工单: the centre corrects an open order (the second call changes nothing: 200 again).
    ("/api/v1/work-orders/{number}", "PATCH"): Case(
        "PATCH", "/api/v1/work-orders/{number}", signed_in(403, admin=200, operator=200),
        body={"address": "幸福路与人民路路口"},
    ),
    # The citizen's pictures: whoever may see the order (another department: 404).
    ("/api/v1/work-orders/{number}/attachments", "GET"): Case(
        "GET", "/api/v1/work-orders/{number}/attachments", signed_in(200, other=404)
    ),
    ("/api/v1/work-orders/{number}/attachments/{attachment_id}", "GET"): Case(
        "GET", "/api/v1/work-orders/{number}/attachments/1", signed_in(200, other=404)
    ),
    ("/api/v1/work-orders/{number}/{action}", "POST"): Case(
        "POST", "/api/v1/work-orders/{number}/sign",
        signed_in(403, other=404, department=200),
    ),
    # The handoff queue: operators and admins only. The admin (asked first) takes the
    # conversation, so the operator then finds it taken (409), never 403.
    ("/api/v1/handoffs", "GET"): Case("GET", "/api/v1/handoffs?status=pending",
                                      signed_in(403, admin=200, operator=200)),
    ("/api/v1/handoffs/events", "GET"): Case("GET", "/api/v1/handoffs/events?max_seconds=0",
                                             signed_in(403, admin=200, operator=200)),
    ("/api/v1/handoffs/{handoff_id}", "GET"): Case("GET", "/api/v1/handoffs/{handoff}",
                                                   signed_in(403, admin=200, operator=200)),
    ("/api/v1/handoffs/{handoff_id}/accept", "POST"): Case(
        "POST", "/api/v1/handoffs/{handoff}/accept", signed_in(403, admin=200, operator=409)),
    ("/api/v1/handoffs/{handoff_id}/messages", "POST"): Case(
        "POST", "/api/v1/handoffs/{handoff}/messages", signed_in(403, admin=201, operator=409),
        body={"text": "您好，我是话务员"}),
    ("/api/v1/handoffs/{handoff_id}/order", "POST"): Case(
        "POST", "/api/v1/handoffs/{handoff}/order", signed_in(403, admin=201, operator=409),
        body={"request_text": "幸福路口路灯坏了", "kind": "投诉", "citizen_phone": "13812345678"}),
    ("/api/v1/handoffs/{handoff_id}/release", "POST"): Case(
        "POST", "/api/v1/handoffs/{handoff}/release", signed_in(403, admin=200, operator=409)),
    ("/api/v1/handoffs/{handoff_id}/close", "POST"): Case(
        "POST", "/api/v1/handoffs/{handoff}/close", signed_in(403, admin=409, operator=409)),
    ("/api/v1/operators/me/status", "POST"): Case(
        "POST", "/api/v1/operators/me/status", signed_in(403, admin=200, operator=200),
        body={"status": "away"}),
    # The citizen's page reads its own conversation's operator messages (the sender id is the
    # secret): open, refused here on content.
    ("/api/v1/chat/{sender}/messages", "GET"): Case(
        "GET", "/api/v1/chat/u/messages?after=-1", everyone(422), public=True),
    ("/api/v1/chat/{sender}/events", "GET"): Case(
        "GET", "/api/v1/chat/u/events?max_seconds=-1", everyone(422), public=True),
    # The Rasa action webhook: the test client is not loopback and has no secret.
    ("/webhook", "POST"): Case("POST", "/webhook", everyone(403), body={}),
    ("/actions", "GET"): Case("GET", "/actions", everyone(403)),
    # Operations and documentation.
    ("/health", "GET"): Case("GET", "/health", everyone(503), public=True),  # no Rasa here
    ("/metrics", "GET"): Case("GET", "/metrics", everyone(200), public=True),
    ("/openapi.json", "GET"): Case("GET", "/openapi.json", everyone(200), public=True),
    ("/docs", "GET"): Case("GET", "/docs", everyone(200), public=True),
    ("/docs/oauth2-redirect", "GET"): Case("GET", "/docs/oauth2-redirect", everyone(200),
                                           public=True),
    ("/redoc", "GET"): Case("GET", "/redoc", everyone(200), public=True),
    ("/docs-assets", "GET"): Case("GET", "/docs-assets/swagger-ui.css", everyone(200),
                                  public=True),
    # Citizen pages.
    ("/", "GET"): Case("GET", "/", everyone(307), public=True),
    ("/chat", "GET"): Case("GET", "/chat", everyone(200), public=True),
    ("/call", "GET"): Case("GET", "/call", everyone(200), public=True),
    ("/static", "GET"): Case("GET", "/static/chat.css", everyone(200), public=True),
    ("/voice/ws", "WEBSOCKET"): Case("WEBSOCKET", "/voice/ws", {}, public=True),  # test_voice_ws
    # Staff pages: the session cookie; forms without their CSRF token are refused.
    ("/login", "GET"): Case("GET", "/login", signed_in(303, anonymous=200)),
    ("/login", "POST"): Case("POST", "/login", everyone(403), form={"username": "x",
                                                                    "password": "y"}),
    ("/logout", "POST"): Case("POST", "/logout", signed_in(403, anonymous=303), form={}),
    ("/console", "GET"): Case("GET", "/console", signed_in(200, anonymous=303)),
    ("/console/handoffs", "GET"): Case("GET", "/console/handoffs",
                                       signed_in(403, anonymous=303, admin=200, operator=200)),
    # An order's page: another department's order is not found, as an unknown one; its forms
    # without the session's CSRF token are refused (403), before any role check.
    ("/console/orders/{number}", "GET"): Case("GET", "/console/orders/{number}",
                                              signed_in(200, anonymous=303, other=404)),
    ("/console/orders/{number}/act", "POST"): Case(
        "POST", "/console/orders/{number}/act", signed_in(403, anonymous=303, other=404),
        form={"action": "签收"}),
    # 编辑工单: admins and operators; the form without the session's CSRF token is refused.
    ("/console/orders/{number}/edit", "GET"): Case(
        "GET", "/console/orders/{number}/edit",
        signed_in(403, anonymous=303, other=404, admin=200, operator=200)),
    ("/console/orders/{number}/edit", "POST"): Case(
        "POST", "/console/orders/{number}/edit", signed_in(403, anonymous=303, other=404),
        form={"request_text": "幸福路口路灯坏了", "address": "别处"}),
    ("/console/orders/{number}/attachments/{attachment_id}", "GET"): Case(
        "GET", "/console/orders/{number}/attachments/999",
        signed_in(404, anonymous=303, other=404)),
    ("/console/followups", "GET"): Case("GET", "/console/followups",
                                        signed_in(403, anonymous=303, admin=200, operator=200)),
    ("/console/users", "GET"): Case("GET", "/console/users",
                                    signed_in(403, anonymous=303, admin=200)),
    ("/console/users", "POST"): Case("POST", "/console/users", signed_in(403, anonymous=303),
                                     form={"name": "x1", "role": "operator"}),
    ("/console/users/{name}/active", "POST"): Case(
        "POST", "/console/users/operator/active", signed_in(403, anonymous=303),
        form={"active": "false"}),
    ("/console/users/{name}/password", "POST"): Case(
        "POST", "/console/users/operator/password", signed_in(403, anonymous=303),
        form={"password": "x"}),
    ("/console/reports", "GET"): Case("GET", "/console/reports?month=2026-11",
                                      signed_in(403, anonymous=303, admin=200, manager=200)),
}  # fmt: skip


def routes_of(app: Any) -> set[tuple[str, str]]:
    """(path, method) of every route, included routers' routes with their prefixes."""
    found: set[tuple[str, str]] = set()
    for context in iter_route_contexts(app.routes):
        route, path = context.original_route, str(context.path)
        if isinstance(route, APIWebSocketRoute):
            found.add((path, "WEBSOCKET"))
        elif isinstance(route, Mount):
            found.add((path, "GET"))
        elif isinstance(route, APIRoute | Route):
            found |= {(path, m) for m in (route.methods or ()) if m != "HEAD"}
        else:
            raise AssertionError(f"a route of an unknown kind: {route!r}")
    return found


@pytest.fixture(scope="module")
def app_and_order(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[TestClient, str, int]]:
    tmp: Path = tmp_path_factory.mktemp("matrix")
    settings = Settings(var_dir=tmp, knowledge_preload=False, rasa_url="http://127.0.0.1:9")
    with TestClient(create_app(settings), follow_redirects=False) as client:
        url = settings.database_url
        for caller in STAFF:
            role, department = ROLE_OF.get(caller, (caller, None))
            signin.add(url, role, department, name=caller)
        headers = _credentials(client, "operator")
        draft = {"channel": "api", "kind": "投诉", "request_text": "幸福路口路灯坏了",
                 "category": "城市管理", "citizen_phone": "13812345678"}  # fmt: skip
        number = client.post("/api/v1/work-orders", json=draft, **headers).json()["order"]["number"]
        dispatched = client.post(f"/api/v1/work-orders/{number}/dispatch",
                                 json={"data": {"department": OWN}}, **headers)  # fmt: skip
        assert dispatched.status_code == 200
        pictures.keep(url, "wechat:matrix", PNG, 10**6)  # id 1, on the order
        pictures.attach_pending(url, "wechat:matrix", number)
        waiting, _ = queue.enqueue(url, "web:matrix", "web", "asked", {"wants": "转人工"})
        yield client, number, waiting.id


def _credentials(client: TestClient, caller: str) -> dict[str, Any]:
    """A fresh bearer token and session of this caller (nothing for anonymous)."""
    client.cookies.clear()
    if caller == "anonymous":
        return {}
    url = client.app.state.settings.database_url  # type: ignore[attr-defined]
    user = users.find(url, caller)
    assert user is not None
    bearer, _ = tokens.issue(url, user, "bearer", timedelta(minutes=5))
    session, _ = tokens.issue(url, user, "session", timedelta(minutes=5))
    client.cookies.set(SESSION_COOKIE, session)
    return {"headers": {"Authorization": f"Bearer {bearer}"}}


def test_every_route_has_an_entry(app_and_order: tuple[TestClient, str, int]) -> None:
    client, _, _ = app_and_order
    routes = routes_of(client.app)
    missing = routes - set(MATRIX)
    assert not missing, f"routes without an access rule in the matrix: {sorted(missing)}"
    assert not set(MATRIX) - routes, "matrix entries for routes that no longer exist"


@pytest.mark.parametrize("route", list(MATRIX), ids=[f"{m} {p}" for p, m in MATRIX])
def test_route_answers_each_caller_as_expected(
    app_and_order: tuple[TestClient, str, int], route: tuple[str, str]
) -> None:
    client, number, handoff = app_and_order
    case = MATRIX[route]
    if case.method == "WEBSOCKET":
        return  # a citizen channel; its protocol and trust rules are tests/gateway/test_voice_ws
    got: dict[str, int] = {}
    for caller in CALLERS:
        kwargs = _credentials(client, caller)
        if case.body is not None:
            kwargs["json"] = case.body
        if case.form is not None:
            kwargs["data"] = case.form
        path = case.path.format(number=number, handoff=handoff)
        resp = client.request(case.method, path, **kwargs)
        got[caller] = resp.status_code
    assert got == case.expect
    if case.public:
        assert len(set(got.values())) == 1 and not set(got.values()) & {401, 403}


def test_a_new_route_is_noticed(tmp_path: Path) -> None:
    """The enumeration sees routes however they are added (directly or by an included router,
    with its prefix), so a route without an entry cannot slip past the first test."""
    from fastapi import APIRouter

    app = create_app(Settings(var_dir=tmp_path, knowledge_preload=False))
    extra = APIRouter(prefix="/api/v1/reports")
    extra.add_api_route("/monthly", lambda: {}, methods=["GET"])
    app.include_router(extra)
    app.add_api_route("/api/v1/direct", lambda: {}, methods=["DELETE"])
    added = routes_of(app) - set(MATRIX)
    assert added == {("/api/v1/reports/monthly", "GET"), ("/api/v1/direct", "DELETE")}
