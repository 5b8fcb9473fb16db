"""POST /api/v1/triage: the decision for a message, without acting on it."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from gateway.app import create_app
from hotline.settings import Settings
from workorders import store


def client(tmp_path: Path) -> TestClient:
    settings = Settings(var_dir=tmp_path, knowledge_preload=False, cache_dir=Settings().cache_dir)
    return TestClient(create_app(settings))


def test_the_decision_is_returned_and_nothing_is_stored(tmp_path: Path) -> None:
    with client(tmp_path) as c:
        resp = c.post("/api/v1/triage", json={"text": "厨房着火了", "channel": "web"})
        url = c.app.state.settings.database_url
    assert resp.status_code == 200
    assert resp.json() == {
        "kind": "emergency", "handoff": True, "situation": "fire", "number": "119",
        "reason": "emergency",
    }  # fmt: skip
    assert store.list_orders(url) == []  # only the chat and the phone act on it


def test_bad_input_is_a_422_naming_the_field(tmp_path: Path) -> None:
    with client(tmp_path) as c:
        blank = c.post("/api/v1/triage", json={"text": "  "})
        channel = c.post("/api/v1/triage", json={"text": "你好", "channel": "fax"})
        long = c.post("/api/v1/triage", json={"text": "问" * 5000})
    assert blank.status_code == 422 and "text" in blank.json()["detail"]
    assert channel.status_code == 422 and "channel" in channel.json()["detail"]
    assert long.status_code == 422 and "limit" in long.json()["detail"]
