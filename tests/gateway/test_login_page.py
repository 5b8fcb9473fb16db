"""Staff sign-in in real headless Chromium: wrong password, lockout, sign-in to /console, a
form without its CSRF token refused, sign-out; screenshots kept under the pytest tmp dir.
Cookie flags (HttpOnly, SameSite, Secure under HTTPS) are checked without a browser."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import update

from accounts.model import AuthToken
from gateway.app import create_app
from hotline.db import session_scope
from hotline.serve import free_port
from hotline.settings import Settings
from tests import signin
from tests.conftest import serving
from workorders import intake, store
from workorders.states import Actor

CITY, TRAFFIC = "市城市管理局", "市交通运输局"


@dataclass
class Server:
    url: str
    settings: Settings
    shots: Path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    port = free_port()
    settings = Settings(var_dir=tmp_path_factory.mktemp("login"), knowledge_preload=False,
                        sla_scan_seconds=0, port=port, rasa_url="http://127.0.0.1:9",
                        signin_max_failures=3, signin_failure_delay=0)  # fmt: skip
    with serving(create_app(settings), port) as base:
        url = settings.database_url
        signin.add(url, "department", CITY, name="wang")
        signin.add(url, "operator", name="li")
        for text, department in (("幸福路口路灯坏了一个星期", CITY), ("公交站台顶棚漏雨", TRAFFIC)):
            draft = store.Draft(channel="web", kind="投诉", request_text=text, category="城市管理",
                                citizen_name="张三", citizen_phone="13812345678")  # fmt: skip
            order = intake.submit(url, draft, settings=settings)
            store.transition(url, order.number, "dispatch", Actor.centre("li"),
                             department=department)  # fmt: skip
        yield Server(base, settings, tmp_path_factory.mktemp("screenshots"))


def _sign_in(page: Page, name: str, password: str) -> None:
    page.fill("#username", name)
    page.fill("#password", password)
    page.click("#submit")


def test_sign_in_console_csrf_and_sign_out(server: Server, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 1100, "height": 700})
    page = context.new_page()
    page.goto(f"{server.url}/console")
    expect(page).to_have_url(f"{server.url}/login?next=/console")
    expect(page.locator("h1")).to_have_text("12345政务服务便民热线")
    _sign_in(page, "wang", "not-the-password")
    expect(page.locator("#error")).to_have_text("账号或密码错误。")
    page.screenshot(path=server.shots / "1-wrong-password.png")
    _sign_in(page, "wang", signin.PASSWORD)
    expect(page).to_have_url(f"{server.url}/console")
    expect(page.locator("#who")).to_contain_text("wang（部门人员 · 市城市管理局）")
    rows = page.locator("#orders tbody tr")
    expect(rows).to_have_count(1)  # its own department's order only
    expect(rows.first).to_contain_text("幸福路口路灯坏了一个星期")
    expect(rows.first).to_contain_text("138****5678")  # contact data masked on the list
    expect(page.locator("#orders")).not_to_contain_text("公交站台")
    page.screenshot(path=server.shots / "2-console.png", full_page=True)
    [cookie] = [c for c in context.cookies() if c["name"] == "hotline_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and not cookie["secure"]
    # A state-changing post without the form's CSRF token (as another site would send it).
    forged = page.request.post(f"{server.url}/logout", form={"csrf": "guessed"})
    assert forged.status == 403
    api = page.request.post(f"{server.url}/api/v1/work-orders", data={"request_text": "x"})
    assert api.status == 403  # the cookie alone does not authorise API writes
    page.goto(f"{server.url}/console")
    expect(page.locator("#who")).to_be_visible()  # still signed in
    page.click("#logout")
    expect(page.locator(".notice")).to_have_text("您已退出登录。")
    page.screenshot(path=server.shots / "3-signed-out.png")
    page.goto(f"{server.url}/console")
    expect(page).to_have_url(f"{server.url}/login?next=/console")
    context.close()


def test_a_login_form_without_its_csrf_token_is_refused(server: Server, browser: Browser) -> None:
    page = browser.new_page()
    page.goto(f"{server.url}/login")
    page.evaluate("document.querySelector('input[name=csrf]').value = 'forged'")
    _sign_in(page, "li", signin.PASSWORD)
    expect(page.locator("#error")).to_have_text("页面已过期，请重新登录。")
    page.close()


def test_repeated_failures_lock_the_account(server: Server, browser: Browser) -> None:
    page = browser.new_page()
    page.goto(f"{server.url}/login")
    for attempt in range(3):
        _sign_in(page, "li", f"wrong-{attempt}-password")
    expect(page.locator("#error")).to_contain_text("登录失败次数过多")
    _sign_in(page, "li", signin.PASSWORD)  # the right password does not open a locked account
    expect(page.locator("#error")).to_contain_text("登录失败次数过多")
    page.screenshot(path=server.shots / "4-locked.png")
    page.close()


def test_cookies_are_secure_under_https(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    settings = Settings(var_dir=tmp_path, knowledge_preload=False,
                        public_url="https://12345.example.gov.cn")  # fmt: skip
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        signin.add(settings.database_url, "manager", name="zhou")
        form = client.get("/login")
        assert "secure" in form.headers["set-cookie"].lower()
        csrf = client.cookies["hotline_login_csrf"]
        done = client.post("/login", data={"username": "zhou", "password": signin.PASSWORD,
                                           "csrf": csrf}, follow_redirects=False)  # fmt: skip
    assert done.status_code == 303 and done.headers["location"] == "/console"
    session = next(h for h in done.headers.get_list("set-cookie") if "hotline_session=" in h)
    flags = {f.strip().lower() for f in session.split(";")[1:]}
    assert {"httponly", "secure", "samesite=lax", "path=/"} <= flags
    assert "max-age=28800" in flags
    secret = session.split(";")[0].split("=", 1)[1]
    for record in caplog.records:  # no password, session or CSRF token in any log line
        assert not any(s in record.getMessage() for s in (signin.PASSWORD, secret, csrf))


def test_an_expired_session_signs_out(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path, knowledge_preload=False)
    with TestClient(create_app(settings), follow_redirects=False) as client:
        signin.add(settings.database_url, "operator", name="sun")
        client.get("/login")
        form = {"username": "sun", "password": signin.PASSWORD,
                "csrf": client.cookies["hotline_login_csrf"]}  # fmt: skip
        assert client.post("/login", data=form).status_code == 303
        assert client.get("/console").status_code == 200
        with session_scope(settings.database_url) as s:
            s.execute(update(AuthToken).values(expires_at=datetime.now(UTC)))
        gone = client.get("/console")
    assert gone.status_code == 303 and gone.headers["location"] == "/login?next=/console"


def test_api_calls_with_the_session_cookie_need_its_csrf_token(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path, knowledge_preload=False)
    with TestClient(create_app(settings), follow_redirects=False) as client:
        signin.add(settings.database_url, "manager", name="he")
        client.get("/login")
        form = {"username": "he", "password": signin.PASSWORD,
                "csrf": client.cookies["hotline_login_csrf"]}  # fmt: skip
        client.post("/login", data=form)
        page = client.get("/console").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page)[1]  # type: ignore[index]
        assert client.get("/api/v1/auth/me").json()["name"] == "he"  # reading needs none
        assert client.post("/api/v1/auth/revoke").status_code == 403
        odd = client.post("/api/v1/auth/revoke", headers={"X-CSRF-Token": "令牌".encode()})
        assert odd.status_code == 403
        ok = client.post("/api/v1/auth/revoke", headers={"X-CSRF-Token": csrf})
        assert ok.status_code == 204
        logout = client.post("/logout", data={"csrf": "令牌"})
        assert logout.status_code == 403


def test_api_docs_authorize_then_call_a_protected_route(server: Server, browser: Browser) -> None:
    """/docs renders without a CDN; its Authorize button signs in through the token route and
    the protected routes then answer as that user."""
    signin.add(server.settings.database_url, "operator", name="zhao")  # li may be locked by now
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.goto(f"{server.url}/docs")
    page.click("button.btn.authorize")
    page.fill("#oauth_username", "zhao")
    page.fill("#oauth_password", signin.PASSWORD)
    page.click(".auth-container button.authorize")
    expect(page.locator(".auth-container h6")).to_have_text("Authorized")  # the token came
    page.click(".auth-container button.btn-done")
    operation = page.locator("#operations-auth-me_api_v1_auth_me_get")
    operation.locator(".opblock-summary").click()
    operation.locator("button.try-out__btn").click()
    operation.locator("button.execute").click()
    body = operation.locator(".live-responses-table .response .microlight").first
    expect(body).to_contain_text('"name": "zhao"')
    expect(body).to_contain_text('"role": "operator"')
    page.screenshot(path=server.shots / "5-api-docs.png", full_page=False)
    context.close()
