"""Rasa's action webhook served by the app with rasa_sdk's executor."""

from pathlib import Path

from fastapi.testclient import TestClient

from gateway.app import create_app
from hotline.settings import Settings


def action_call(name: str) -> dict:
    return {
        "next_action": name,
        "sender_id": "web:u1",
        "version": "3.6.21",
        "domain": {"responses": {}, "intents": [], "slots": {}},
        "tracker": {
            "sender_id": "web:u1",
            "slots": {},
            "latest_message": {"intent": {"name": "ask_service_hours"}, "text": "你们几点上班"},
            "events": [{"event": "user", "parse_data": {"intent": {"name": "ask_service_hours"}}}],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        },
    }


def test_runs_a_registered_action(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(var_dir=tmp_path, knowledge_preload=False))) as client:
        resp = client.post("/webhook", json=action_call("action_triage"))
        names = {a["name"] for a in client.get("/actions").json()}
    assert resp.status_code == 200
    assert "今天是" in resp.json()["responses"][0]["text"]
    assert {"action_triage", "action_submit_work_order"} <= names


def test_unknown_action_is_404_and_bad_json_is_400(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(var_dir=tmp_path, knowledge_preload=False))) as client:
        missing = client.post("/webhook", json=action_call("action_nope"))
        broken = client.post("/webhook", content=b"{", headers={"content-type": "application/json"})
    assert missing.status_code == 404
    assert missing.json()["action_name"] == "action_nope"
    assert broken.status_code == 400
