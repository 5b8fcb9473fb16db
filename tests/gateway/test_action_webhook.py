"""Rasa's action webhook served by the app with rasa_sdk's executor, for Rasa only."""

import asyncio
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from gateway.app import create_app
from hotline.settings import Settings

RASA = ("127.0.0.1", 41234)  # Rasa calls from the same host


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
    settings = Settings(var_dir=tmp_path, knowledge_preload=False)
    with TestClient(create_app(settings), client=RASA) as client:
        resp = client.post("/webhook", json=action_call("action_triage"))
        names = {a["name"] for a in client.get("/actions").json()}
    assert resp.status_code == 200
    assert "今天是" in resp.json()["responses"][0]["text"]
    assert {"action_triage", "action_submit_work_order"} <= names


def test_unknown_action_is_404_and_bad_json_is_400(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path, knowledge_preload=False)
    with TestClient(create_app(settings), client=RASA) as client:
        missing = client.post("/webhook", json=action_call("action_nope"))
        broken = client.post("/webhook", content=b"{", headers={"content-type": "application/json"})
    assert missing.status_code == 404
    assert missing.json()["action_name"] == "action_nope"
    assert broken.status_code == 400


def test_only_the_bot_may_call_it(tmp_path: Path) -> None:
    """From elsewhere: only with the shared secret; behind a local proxy the secret alone."""
    settings = Settings(var_dir=tmp_path, knowledge_preload=False, action_secret="s3cret-x")
    outside = ("203.0.113.7", 5555)
    with TestClient(create_app(settings), client=outside) as client:
        refused = client.post("/webhook", json=action_call("action_triage"))
        listing = client.get("/actions")
        wrong = client.post("/webhook", json=action_call("action_triage"),
                            headers={"X-Hotline-Action-Secret": "guess"})  # fmt: skip
        right = client.post("/webhook", json=action_call("action_triage"),
                            headers={"X-Hotline-Action-Secret": "s3cret-x"})  # fmt: skip
    assert (refused.status_code, listing.status_code, wrong.status_code) == (403, 403, 403)
    assert right.status_code == 200
    proxied = Settings(var_dir=tmp_path / "p", knowledge_preload=False, action_secret="s3cret-x",
                       action_webhook_loopback=False)  # fmt: skip
    with TestClient(create_app(proxied), client=RASA) as client:
        assert client.post("/webhook", json=action_call("action_triage")).status_code == 403


def test_a_long_conversations_tracker_is_taken_from_rasa_only(tmp_path: Path) -> None:
    """An action call carries the whole tracker (hundreds of KB in a long conversation): Rasa
    may send it; anyone else keeps the 64 KB limit of every JSON body, on the webhook too."""
    settings = Settings(var_dir=tmp_path, knowledge_preload=False, action_secret="s3cret-x")
    call = action_call("action_triage")
    filler = {"event": "bot", "text": "请核对您要登记的内容：" + "某" * 500}
    call["tracker"]["events"] = [*call["tracker"]["events"], *[filler] * 200]  # ~300 KB
    with TestClient(create_app(settings), client=RASA) as client:
        from_rasa = client.post("/webhook", json=call)
        chat = client.post("/api/v1/chat", json={"sender": "u1", "text": "你好" * 100_000})
    with TestClient(create_app(settings), client=("203.0.113.7", 5555)) as client:
        stranger = client.post("/webhook", json=call)
        with_secret = client.post("/webhook", json=call,
                                  headers={"X-Hotline-Action-Secret": "s3cret-x"})  # fmt: skip
    assert from_rasa.status_code == 200 and "今天是" in from_rasa.json()["responses"][0]["text"]
    assert with_secret.status_code == 200
    assert (stranger.status_code, chat.status_code) == (413, 413)


def test_hotline_serve_gives_rasa_the_secret(tmp_path: Path) -> None:
    from hotline.bot import render_endpoints

    plain = render_endpoints(Settings(var_dir=tmp_path)).read_text()
    assert "headers" not in plain
    text = render_endpoints(Settings(var_dir=tmp_path, action_secret='a"b: c')).read_text()
    import yaml

    endpoint = yaml.safe_load(text)["action_endpoint"]
    assert endpoint["headers"] == {"X-Hotline-Action-Secret": 'a"b: c'}


class BusyAction(Action):
    """Holds its call until released, like an action busy with the KB search or a DB write."""

    def __init__(self) -> None:
        self.started, self.release = threading.Event(), threading.Event()
        self.released = False

    def name(self) -> str:
        return "action_busy"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        self.started.set()
        # Synchronous like the real actions; False only if nobody could release it meanwhile.
        self.released = self.release.wait(30)
        dispatcher.utter_message(text="好了")
        return []


def while_busy(
    settings: Settings, other: Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]
) -> tuple[httpx.Response, httpx.Response, BusyAction]:
    """(the `other` request's response, the busy action's response, the action): `other` is
    sent while the busy action holds its call, which is released once `other` is answered."""
    app = create_app(settings)
    busy = BusyAction()
    app.state.executor.register_action(busy)

    async def scenario() -> tuple[httpx.Response, httpx.Response]:
        transport = httpx.ASGITransport(app=app, client=RASA)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            call = asyncio.create_task(client.post("/webhook", json=action_call("action_busy")))
            await asyncio.to_thread(busy.started.wait, 30)
            answered = await other(client)
            busy.release.set()
            return answered, await call

    answered, done = asyncio.run(scenario())
    app.state.actions.close()  # no lifespan here: the action threads' loops are closed by hand
    return answered, done, busy


def test_the_app_answers_other_requests_while_an_action_is_busy(tmp_path: Path) -> None:
    """A citizen's turn, or Rasa's next call, is not held up by another conversation's action."""
    listing, done, busy = while_busy(
        Settings(var_dir=tmp_path, knowledge_preload=False),
        lambda client: client.get("/actions"),  # answered while the action still runs
    )
    listed, text = listing.status_code, done.json()["responses"][0]["text"]
    assert (listed, done.status_code, text) == (200, 200, "好了")
    assert busy.released  # the other request was served before the action finished


def test_another_conversations_action_runs_while_one_is_busy(tmp_path: Path) -> None:
    """Two citizens' actions run side by side: one busy with the KB search or a database write
    does not hold up the other's (one action thread queued them: BENCHMARKS.md "Chat load")."""
    other, done, busy = while_busy(
        Settings(var_dir=tmp_path, knowledge_preload=False, action_workers=2),
        lambda client: client.post("/webhook", json=action_call("action_triage")),
    )
    assert (other.status_code, done.status_code) == (200, 200)
    assert "今天是" in other.json()["responses"][0]["text"]  # the hours, while the other held
    assert busy.released


def test_action_workers_must_be_at_least_one(tmp_path: Path) -> None:
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="action_workers"):
        Settings(var_dir=tmp_path, action_workers=0)
