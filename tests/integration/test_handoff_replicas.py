"""A handoff across two app replicas: two uvicorn processes on one PostgreSQL database and one
Redis. A web-chat citizen on replica A asks for a person (A runs the real handoff action through
its action webhook and queues the conversation); an operator on replica B sees it, accepts and
replies; the citizen's event stream on A gets the reply. A's stream reads the database only when
woken, and nothing on A wrote the reply, so the reply reaching it is B's wake-up carried by Redis
pub/sub. Rasa is the local stand-in (tests/standin_rasa.py) that, as Rasa does, runs the entry
action on the app's action webhook for each turn and records pause/resume."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from hotline.settings import PROJECT_ROOT
from tests import signin
from tests.conftest import fresh_postgres, unavailable
from tests.standin_rasa import Answer, stand_in_rasa

pytestmark = pytest.mark.stack
PORT_A, PORT_B, PORT_RASA = 18311, 18312, 18313
REDIS_URL = "redis://127.0.0.1:6379/8"
ASKED, REPLY = "我要找人工客服", "您好，我是话务员小李"


def runs_the_entry_action(actions_url: str) -> Answer:
    """Each turn runs action_triage on the app's action webhook, as Rasa's action endpoint
    would; `actions_url`: the replica Rasa's endpoints.yml names."""

    def answer(body: dict[str, Any]) -> dict[str, Any]:
        sender, text, channel = body["sender"], body["message"], body["channel"]
        user = {"event": "user", "text": text, "input_channel": channel,
                "metadata": body.get("metadata") or {},
                "parse_data": {"intent": {"name": "request_human"}}}  # fmt: skip
        call = {
            "next_action": "action_triage", "sender_id": sender, "version": "3.6.21",
            "domain": {"responses": {}, "intents": [], "slots": {}},
            "tracker": {"sender_id": sender, "slots": {}, "paused": False,
                        "latest_message": {**user, "intent": {"name": "request_human"}},
                        "events": [user], "followup_action": None, "active_loop": {},
                        "latest_action_name": "action_listen", "latest_input_channel": channel},
        }  # fmt: skip
        done = httpx.post(f"{actions_url}/webhook", json=call, timeout=60)
        done.raise_for_status()
        messages = [
            {"text": r["text"], "buttons": r.get("buttons") or []} if r.get("text")
            else {"custom": r.get("custom")}
            for r in done.json()["responses"]
        ]  # fmt: skip
        return {"messages": messages, "intent": {"name": "request_human", "confidence": 0.99},
                "paused": False}  # fmt: skip

    return answer


@contextmanager
def replica(name: str, port: int, database_url: str, var: Path) -> Iterator[str]:
    """One app process (uvicorn, as `hotline serve --only app` runs it)."""
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "HOTLINE_VAR_DIR": str(var / name),
           "HOTLINE_DATABASE_URL": database_url, "HOTLINE_REDIS_URL": REDIS_URL,
           "HOTLINE_RASA_URL": f"http://127.0.0.1:{PORT_RASA}",
           "HOTLINE_KNOWLEDGE_PRELOAD": "false", "HOTLINE_SLA_SCAN_SECONDS": "0"}  # fmt: skip
    log = (var / f"{name}.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "gateway.app:main_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, (var / f"{name}.log").read_text()[-3000:]
            with suppress(httpx.HTTPError):
                if httpx.get(f"{url}/login", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, f"replica {name} did not start"
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        with suppress(subprocess.TimeoutExpired):
            proc.wait(20)
        if proc.poll() is None:
            proc.kill()
        log.close()


class Stream:
    """The citizen page's EventSource on one replica, read in a thread."""

    def __init__(self, url: str) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.thread = threading.Thread(target=self._read, args=(url,), daemon=True)
        self.thread.start()

    def _read(self, url: str) -> None:
        name = ""
        with suppress(httpx.HTTPError), httpx.stream("GET", url, timeout=90) as resp:
            for line in resp.iter_lines():  # ends when the replica stops
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    self.events.append((name, json.loads(line[6:])))

    def wait_for(self, check: Any, seconds: float = 30) -> list[tuple[str, dict[str, Any]]]:
        deadline = time.monotonic() + seconds
        while not check(self.events) and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.events


def test_a_citizen_on_one_replica_gets_the_reply_of_an_operator_on_another(
    tmp_path: Path,
) -> None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        unavailable(f"Redis at {REDIS_URL} ({exc})")
    with ExitStack() as running:
        database_url = running.enter_context(fresh_postgres())
        rasa = running.enter_context(
            stand_in_rasa(PORT_RASA, answer=runs_the_entry_action(f"http://127.0.0.1:{PORT_A}"))
        )
        a = running.enter_context(replica("a", PORT_A, database_url, tmp_path))
        b = running.enter_context(replica("b", PORT_B, database_url, tmp_path))  # A migrated
        operator = signin.bearer(database_url, "operator")
        assert httpx.post(f"{b}/api/v1/operators/me/status", headers=operator,
                          json={"status": "available"}).status_code == 200  # fmt: skip
        stream = Stream(f"{a}/api/v1/chat/rep-1/events?max_seconds=60")
        stream.wait_for(lambda ev: ev)  # subscribed: the first state has come

        turn = {"sender": "rep-1", "text": ASKED, "channel": "web"}
        asked = httpx.post(f"{a}/api/v1/chat", json=turn, timeout=60).json()
        assert asked["state"] == "waiting_human", asked
        assert "第1位" in asked["messages"][0]["text"]

        pending = httpx.get(f"{b}/api/v1/handoffs?status=pending", headers=operator).json()
        [item] = [h for h in pending["items"] if h["conversation_id"] == "web:rep-1"]
        taken = httpx.post(f"{b}/api/v1/handoffs/{item['id']}/accept", headers=operator,
                           timeout=30)  # fmt: skip
        assert taken.status_code == 200
        reply = httpx.post(f"{b}/api/v1/handoffs/{item['id']}/messages", timeout=30,
                           headers=operator, json={"text": REPLY})  # fmt: skip
        assert reply.status_code == 201

        def got_reply(events: list[tuple[str, dict[str, Any]]]) -> bool:
            return any(e.get("text") == REPLY for _, e in events)

        events = stream.wait_for(got_reply)
        assert got_reply(events), events
        human = {"state": "human", "position": None, "expected_wait_minutes": None}
        assert ("state", human) in events
        polled = httpx.get(f"{a}/api/v1/chat/rep-1/messages?after=0").json()
        assert polled["state"] == "human"
        assert [m["text"] for m in polled["messages"]][-1] == REPLY
        assert rasa.events == [("web:rep-1", "pause")]  # B paused the bot
        assert rasa.turns == [ASKED]  # one bot turn, on A
