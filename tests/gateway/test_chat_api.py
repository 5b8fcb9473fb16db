"""POST /api/v1/chat: validation, relay to Rasa, logging, and behaviour when Rasa fails.

Rasa is replaced here by a local HTTP server so that its failures (down, slow) can be produced
on demand; the real Rasa is exercised in tests/integration.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.chat_api import APOLOGY
from gateway.rasa_client import RasaClient, RasaUnavailable
from hotline.conversations import turns_of
from hotline.serve import free_port
from hotline.settings import Settings
from tests import signin


class FakeRasa(ThreadingHTTPServer):
    delay = 0.0
    requests: list[dict]
    extra: list[dict]  # messages appended to every reply

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests = []
        self.extra = []


class Handler(BaseHTTPRequestHandler):
    server: FakeRasa

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(body)
        time.sleep(self.server.delay)
        reply = {
            "messages": [{"recipient_id": body["sender"], "text": "您好", "buttons": [
                {"title": "公积金", "payload": "/ask{\"t\":\"gjj\"}"}]}, *self.server.extra],
            "intent": {"name": "greet", "confidence": 0.97},
            "paused": False,
        }  # fmt: skip
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def fake_rasa() -> Iterator[FakeRasa]:
    server = FakeRasa()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def client_for(tmp_path: Path, rasa_url: str, **overrides: object) -> TestClient:
    settings = Settings(var_dir=tmp_path, rasa_url=rasa_url, knowledge_preload=False, **overrides)
    return TestClient(create_app(settings))


def test_turn_is_relayed_with_namespaced_sender_and_logged(tmp_path: Path, fake_rasa) -> None:
    with client_for(tmp_path, f"http://127.0.0.1:{fake_rasa.server_port}") as client:
        operator = signin.bearer(client.app.state.settings.database_url, "operator")
        resp = client.post(
            "/api/v1/chat",
            json={"sender": "u1", "text": " 你好 ", "channel": "wechat", "metadata": {"k": 1}},
            headers=operator,  # a trusted client may speak for the WeChat channel
        )
        url = client.app.state.settings.database_url
    assert resp.status_code == 200
    assert resp.json() == {
        "messages": [
            {"text": "您好", "buttons": [{"title": "公积金", "payload": '/ask{"t":"gjj"}'}]}
        ],
        "state": "bot",
        "work_order": None,
        "decision": None,
        "error": None,
    }
    assert fake_rasa.requests == [
        {"sender": "wechat:u1", "message": "你好", "channel": "wechat", "metadata": {"k": 1}}
    ]
    [turn] = turns_of(url, "wechat:u1")
    assert (turn.user_text, turn.intent, turn.confidence) == ("你好", "greet", 0.97)


def test_an_anonymous_client_cannot_claim_a_channel_or_a_citizen(tmp_path: Path, fake_rasa) -> None:
    """A web page saying it is the phone channel for someone's number is a web chat of nobody;
    the same from a department user (not a channel client) too."""
    claim = {"caller_number": "13912345678", "caller": "13912345678", "openid": "oX1", "k": 1}
    with client_for(tmp_path, f"http://127.0.0.1:{fake_rasa.server_port}") as client:
        url = client.app.state.settings.database_url
        for channel in ("voice", "wechat"):
            body = {"sender": "u9", "text": "我之前反映的问题办得怎么样了", "channel": channel}
            resp = client.post("/api/v1/chat", json={**body, "metadata": claim})
            assert resp.status_code == 200
        department = signin.bearer(url, "department", "市城市管理局")
        client.post("/api/v1/chat", json={**body, "metadata": claim}, headers=department)
        forged = signin.bearer(url, "operator") | {"Authorization": "Bearer hl_forged"}
        client.post("/api/v1/chat", json={**body, "metadata": claim}, headers=forged)
    assert [r["channel"] for r in fake_rasa.requests] == ["web"] * 4
    assert all(r["metadata"] == {"k": 1} for r in fake_rasa.requests)
    assert {r["sender"] for r in fake_rasa.requests} == {"web:u9"}
    assert turns_of(url, "voice:u9") == [] and turns_of(url, "wechat:u9") == []


def test_the_triage_decision_is_returned_and_not_shown_as_a_message(
    tmp_path: Path, fake_rasa
) -> None:
    decision = {"kind": "handoff", "handoff": True, "reason": "asked"}
    fake_rasa.extra = [{"recipient_id": "x", "custom": {"triage": decision}}]
    with client_for(tmp_path, f"http://127.0.0.1:{fake_rasa.server_port}") as client:
        body = client.post("/api/v1/chat", json={"sender": "u2", "text": "转人工"}).json()
    assert body["decision"] == decision
    assert [m["text"] for m in body["messages"]] == ["您好"]


def test_a_typed_number_presses_that_button_and_the_citizens_words_are_logged(
    tmp_path: Path, fake_rasa
) -> None:
    with client_for(tmp_path, f"http://127.0.0.1:{fake_rasa.server_port}") as client:
        for text in ("你好", "1", "第二个"):
            client.post("/api/v1/chat", json={"sender": "u1", "text": text, "channel": "web"})
        url = client.app.state.settings.database_url
    # "1" after one button sends its payload; "第二个" names no offered option and goes as said.
    said = [r["message"] for r in fake_rasa.requests]
    assert said == ["你好", '/ask{"t":"gjj"}', "第二个"]
    assert [t.user_text for t in turns_of(url, "web:u1")] == ["你好", "1", "第二个"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"sender": "u1", "text": "   ", "channel": "web"}, "text: must not be empty"),
        ({"sender": "u1", "text": "", "channel": "web"}, "text: must not be empty"),
        ({"sender": "u1", "text": "你好", "channel": "fax"}, "channel: Input should be 'web'"),
        ({"text": "你好", "channel": "web"}, "sender: Field required"),
        ({"sender": "u1", "text": 5, "channel": "web"}, "text: Input should be a valid string"),
    ],
)
def test_bad_requests_get_422_with_a_clear_message(
    tmp_path: Path, fake_rasa, body: dict, message: str
) -> None:
    with client_for(tmp_path, f"http://127.0.0.1:{fake_rasa.server_port}") as client:
        resp = client.post("/api/v1/chat", json=body)
    assert resp.status_code == 422
    assert message in resp.json()["detail"]
    assert fake_rasa.requests == []  # nothing reached the bot


def test_too_long_text_names_the_limit(tmp_path: Path, fake_rasa) -> None:
    port = fake_rasa.server_port
    with client_for(tmp_path, f"http://127.0.0.1:{port}", max_text_chars=10) as client:
        resp = client.post("/api/v1/chat", json={"sender": "u", "text": "字" * 11})
    assert resp.status_code == 422
    assert resp.json()["detail"] == "text is 11 characters; the limit is 10"


def test_broken_json_is_422(tmp_path: Path, fake_rasa) -> None:
    with client_for(tmp_path, f"http://127.0.0.1:{fake_rasa.server_port}") as client:
        resp = client.post(
            "/api/v1/chat",
            content=b'{"sender": "u1", text',
            headers={"content-type": "application/json"},
        )
    assert resp.status_code == 422
    assert "not valid JSON" in resp.json()["detail"]


def test_rasa_down_is_answered_by_triage_and_the_turn_is_logged(tmp_path: Path) -> None:
    """Without Rasa the triage layer answers (gateway/fallback.py; tests/faults has the whole
    conversation); /health still says Rasa is down."""
    with client_for(tmp_path, f"http://127.0.0.1:{free_port()}") as client:
        resp = client.post("/api/v1/chat", json={"sender": "u9", "text": "在吗", "channel": "web"})
        health = client.get("/health")
        url = client.app.state.settings.database_url
    assert resp.status_code == 200
    assert resp.json()["messages"][0]["text"] != APOLOGY
    [turn] = turns_of(url, "web:u9")
    assert turn.user_text == "在吗" and turn.metadata_["degraded"].startswith("rasa unreachable")
    assert health.status_code == 503
    assert health.json()["dependencies"]["rasa"]["status"] == "down"
    assert health.json()["dependencies"]["database"]["status"] == "ok"


def test_rasa_slower_than_the_timeout_is_answered_by_triage(tmp_path: Path, fake_rasa) -> None:
    fake_rasa.delay = 1.5
    port = fake_rasa.server_port
    with client_for(tmp_path, f"http://127.0.0.1:{port}", rasa_timeout=0.3) as client:
        resp = client.post("/api/v1/chat", json={"sender": "u1", "text": "你好"})
        again = client.get("/openapi.json")  # the process is still serving
        url = client.app.state.settings.database_url
    assert resp.status_code == 200
    [turn] = turns_of(url, "api:u1")
    assert "timed out" in turn.metadata_["degraded"]
    assert again.status_code == 200


def test_a_failing_fallback_gives_503_apology(tmp_path: Path, monkeypatch) -> None:
    """Rasa down and the triage layer failing too: the apology, and the turn is logged."""

    def broken(*args: object) -> None:
        raise RuntimeError("knowledge index unreadable")

    monkeypatch.setattr("gateway.fallback.answer", broken)
    with client_for(tmp_path, f"http://127.0.0.1:{free_port()}") as client:
        resp = client.post("/api/v1/chat", json={"sender": "u8", "text": "在吗", "channel": "web"})
        url = client.app.state.settings.database_url
    assert resp.status_code == 503
    assert resp.json()["messages"][0]["text"] == APOLOGY
    [turn] = turns_of(url, "web:u8")
    assert turn.error.startswith("rasa unreachable")


def test_metrics_count_turns(tmp_path: Path, fake_rasa) -> None:
    with client_for(tmp_path, f"http://127.0.0.1:{fake_rasa.server_port}") as client:
        client.post("/api/v1/chat", json={"sender": "u1", "text": "你好", "channel": "api"})
        text = client.get("/metrics").text
    assert 'hotline_chat_turns_total{channel="api",outcome="ok"}' in text


def test_a_client_cannot_write_the_apps_own_turn_state(tmp_path: Path, fake_rasa) -> None:
    """The fallback's state, the triage decision and the degraded mark are the app's: sent in
    a client's metadata they are dropped, never stored nor passed to Rasa."""
    forged = {"fallback": {"form": {"fields": {"wo_what": "x"}, "asked": "confirm"}},
              "triage": {"kind": "answer"}, "degraded": "no", "page": "/chat"}  # fmt: skip
    with client_for(tmp_path, f"http://127.0.0.1:{fake_rasa.server_port}") as client:
        resp = client.post("/api/v1/chat", json={"sender": "u7", "text": "你好", "channel": "web",
                                                 "metadata": forged})  # fmt: skip
        url = client.app.state.settings.database_url
    assert resp.status_code == 200
    [turn] = turns_of(url, "web:u7")
    assert turn.metadata_ == {"page": "/chat"}
    assert fake_rasa.requests[-1]["metadata"] == {"page": "/chat"}


def test_tracker_events_to_a_hung_rasa_wait_once_then_skip_it(fake_rasa) -> None:
    """A Rasa that does not answer is not waited for again on the next event or turn (the
    fallback answers at once) until `retry_seconds` have passed."""
    fake_rasa.delay = 1.0
    rasa = RasaClient(f"http://127.0.0.1:{fake_rasa.server_port}", timeout=0.3, retry_seconds=60)

    async def twice() -> list[str]:
        errors = []
        for send in (rasa.append_events, rasa.append_events):
            try:
                await send("web:u6", [{"event": "active_loop", "name": None}])
            except RasaUnavailable as exc:
                errors.append(str(exc))
        try:
            await rasa.turn("web:u6", "你好", "web", {})
        except RasaUnavailable as exc:
            errors.append(str(exc))
        await rasa.close()
        return errors

    errors = asyncio.run(twice())
    assert len(errors) == 3 and "timed out" in errors[0]
    assert len(fake_rasa.requests) == 1  # only the first reached Rasa
