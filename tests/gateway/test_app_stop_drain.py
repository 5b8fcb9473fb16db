"""gateway/app_server.py stopping with a chat turn in flight whose Rasa custom action has not
run yet: the port stays open for Rasa's action call, the turn is answered with the action's
result, new requests get 503 meanwhile, and then the server stops. uvicorn for real in this
process; a stand-in Rasa that calls the app's action webhook (as Rasa does) only once the
stop has begun."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from gateway.app import create_app
from gateway.app_server import AppServer
from gateway.draining import STOPPING
from hotline.settings import Settings
from tests.conftest import server_thread
from tests.gateway.test_action_webhook import action_call
from tests.standin_rasa import StandInRasa

APP_PORT, RASA_PORT = 19685, 19686
APP = f"http://127.0.0.1:{APP_PORT}"


def test_a_turn_in_flight_gets_its_action_while_the_app_stops(tmp_path: Path) -> None:
    stopping = threading.Event()  # the stop has begun: set by the test below

    def rasa_turn(body: dict[str, Any]) -> dict[str, Any]:
        # Rasa has parsed the message; its action is called only after the stop began
        assert stopping.wait(30)
        try:
            resp = httpx.post(f"{APP}/webhook", json=action_call("action_triage"), timeout=30)
            said = f"action {resp.status_code}"
        except httpx.ConnectError:
            said = "action unreachable"
        return {"messages": [{"text": said}], "intent": None}

    rasa = StandInRasa(RASA_PORT, answer=rasa_turn).start()
    settings = Settings(var_dir=tmp_path, rasa_url=f"http://127.0.0.1:{RASA_PORT}",
                        knowledge_preload=False, sla_scan_seconds=0, port=APP_PORT)  # fmt: skip
    app = create_app(settings)
    config = uvicorn.Config(app, host="127.0.0.1", port=APP_PORT, log_level="warning",
                            timeout_graceful_shutdown=10)  # fmt: skip
    server = AppServer(config)
    server.app = app
    try:
        with server_thread(server) as thread, ThreadPoolExecutor(1) as pool:
            body = {"sender": "drain-1", "text": "你们几点上班", "channel": "web"}
            turn: Future[httpx.Response] = pool.submit(
                httpx.post, f"{APP}/api/v1/chat", json=body, timeout=60
            )
            while not rasa.turns:  # the turn is with Rasa
                time.sleep(0.01)
            server.should_exit = True  # what SIGTERM does
            while not app.state.drain.stopping.is_set():
                time.sleep(0.01)
            late = httpx.post(f"{APP}/api/v1/chat", json={**body, "sender": "drain-2"}, timeout=10)
            stopping.set()
            answered = turn.result(60)
            thread.join(30)
            assert not thread.is_alive()  # then the server stopped
    finally:
        rasa.stop()
    assert answered.status_code == 200, answered.text
    assert answered.json()["messages"][0]["text"] == "action 200"  # not "action unreachable"
    assert late.status_code == 503 and late.json() == {"detail": STOPPING}
    assert late.headers["Retry-After"] == "1"
    assert rasa.turns == ["你们几点上班"]  # the late one never reached Rasa
