"""POST /api/v1/auth/token and the bearer scheme: tokens work, expire, end with the user; the
lockout; /docs shows the scheme; no password or token in any log line."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from accounts import users
from accounts.model import AuthToken
from gateway.app import create_app
from hotline.db import session_scope
from hotline.settings import Settings
from tests import signin


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(var_dir=tmp_path, knowledge_preload=False, signin_failure_delay=0,
                        signin_max_failures=3, signin_max_failures_address=6)  # fmt: skip
    with TestClient(create_app(settings)) as c:
        yield c


def _url(client: TestClient) -> str:
    return str(client.app.state.settings.database_url)  # type: ignore[attr-defined]


def _token(client: TestClient, name: str, password: str = signin.PASSWORD) -> httpx.Response:
    return client.post("/api/v1/auth/token", data={"username": name, "password": password})


def test_a_token_signs_in_until_it_expires_or_the_user_is_disabled(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    signin.add(_url(client), "department", "市城市管理局", name="wang")
    assert client.get("/api/v1/work-orders").status_code == 401
    assert client.get("/api/v1/work-orders").headers["www-authenticate"] == "Bearer"
    resp = _token(client, "wang")
    assert resp.status_code == 200
    body = resp.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    auth = {"Authorization": f"Bearer {body['access_token']}"}
    me = client.get("/api/v1/auth/me", headers=auth).json()
    assert me == {"name": "wang", "role": "department", "department": "市城市管理局"}
    assert client.get("/api/v1/work-orders", headers=auth).status_code == 200
    with session_scope(_url(client)) as s:  # the clock moves past the expiry
        s.execute(update(AuthToken).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    assert client.get("/api/v1/work-orders", headers=auth).status_code == 401
    fresh = {"Authorization": f"Bearer {_token(client, 'wang').json()['access_token']}"}
    assert client.get("/api/v1/auth/me", headers=fresh).status_code == 200
    users.set_active(_url(client), "wang", False)
    assert client.get("/api/v1/auth/me", headers=fresh).status_code == 401
    assert _token(client, "wang").status_code == 401  # a disabled user gets no new token
    secrets = (signin.PASSWORD, body["access_token"], fresh["Authorization"][7:])
    for record in caplog.records:
        assert not any(secret in record.getMessage() for secret in secrets)


def test_revoke_ends_the_token(client: TestClient) -> None:
    signin.add(_url(client), "operator", name="li")
    auth = {"Authorization": f"Bearer {_token(client, 'li').json()['access_token']}"}
    assert client.post("/api/v1/auth/revoke", headers=auth).status_code == 204
    assert client.get("/api/v1/auth/me", headers=auth).status_code == 401


def test_repeated_failures_lock_the_name_and_then_the_address(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    signin.add(_url(client), "operator", name="zhao")
    statuses = [_token(client, "zhao", f"wrong-guess-{i}").status_code for i in range(3)]
    assert statuses == [401, 401, 429]  # the third failure locks the name
    assert _token(client, "zhao").status_code == 429  # even with the right password
    for name in ("nobody-1", "nobody-2", "nobody-3"):  # unknown names count too
        assert _token(client, name, "wrong-guess-9").status_code == 401
    signin.add(_url(client), "operator", name="qian")
    assert _token(client, "qian").status_code == 429  # six failures from this address
    assert all("wrong-guess" not in r.getMessage() for r in caplog.records)


def test_openapi_shows_the_password_flow(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    schemes = spec["components"]["securitySchemes"]
    [(name, scheme)] = schemes.items()
    assert scheme["type"] == "oauth2"
    assert scheme["flows"]["password"]["tokenUrl"] == "/api/v1/auth/token"
    assert {name: []} in spec["paths"]["/api/v1/work-orders"]["get"]["security"]
    assert client.get("/docs").status_code == 200


def test_each_failure_waits_longer(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path, knowledge_preload=False, signin_failure_delay=0.2)
    with TestClient(create_app(settings)) as client:
        took = []
        for attempt in range(3):
            started = time.monotonic()
            assert _token(client, "nobody", f"wrong-{attempt}-guess").status_code == 401
            took.append(time.monotonic() - started)
        locked = _token(client, "nobody", "wrong-9-guess")  # not counted: no longer delayed
    assert took[0] >= 0.2 and took[1] >= 0.4 and took[2] >= 0.6
    assert locked.status_code == 401  # the default limit is 5
