"""/console/users: an admin adds an account, disables and enables it, resets its password;
refusals come back as the page with a Chinese message; every change is in the audit log."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from accounts import audit, users
from gateway.app import create_app
from hotline.settings import Settings
from tests import signin
from tests.gateway.test_console_orders import as_user

NEW_PASSWORD = "Another-Passw0rd-2026"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(var_dir=tmp_path, knowledge_preload=False, sla_scan_seconds=0)
    with TestClient(create_app(settings), follow_redirects=False) as client:
        signin.add(settings.database_url, "admin", name="root")
        yield client


def test_admin_manages_accounts(app: TestClient) -> None:
    url = app.app.state.settings.database_url  # type: ignore[attr-defined]
    csrf = as_user(app, "root")
    form = {"csrf": csrf, "name": "wang", "role": "department", "department": "市城市管理局",
            "password": signin.PASSWORD}  # fmt: skip
    assert app.post("/console/users", data=form).status_code == 303
    page = app.get("/console/users?done=ok").text
    assert "wang" in page and "市城市管理局" in page and "部门人员" in page
    again = app.post("/console/users", data=form)
    assert again.status_code == 422 and "已存在" in again.text
    no_dept = app.post("/console/users", data={**form, "name": "li", "department": ""})
    assert no_dept.status_code == 422 and "部门" in no_dept.text

    assert app.post("/console/users/wang/active", data={"csrf": csrf, "active": "false"}
                    ).status_code == 303  # fmt: skip
    assert users.authenticate(url, "wang", signin.PASSWORD) is None
    assert app.post("/console/users/wang/active", data={"csrf": csrf, "active": "true"}
                    ).status_code == 303  # fmt: skip
    weak = app.post("/console/users/wang/password", data={"csrf": csrf, "password": "123"})
    assert weak.status_code == 422
    assert app.post("/console/users/wang/password", data={"csrf": csrf,
                    "password": NEW_PASSWORD}).status_code == 303  # fmt: skip
    assert users.authenticate(url, "wang", NEW_PASSWORD) is not None

    self_off = app.post("/console/users/root/active", data={"csrf": csrf, "active": "false"})
    assert self_off.status_code == 422 and "不能停用自己的账号" in self_off.text
    actions = [e["action"] for e in audit.entries(url, target="wang", limit=10)]
    assert {"user.add", "user.disable", "user.enable", "user.reset_password"} <= set(actions)
