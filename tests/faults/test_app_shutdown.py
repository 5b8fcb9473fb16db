"""`hotline serve --only app` stopped with SIGTERM while a chat turn is in flight: the turn is
answered and logged, no new connection is taken, and the process leaves with status 0 within
HOTLINE_SHUTDOWN_SECONDS (uvicorn's graceful timeout, then `serve` itself)."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from hotline.conversations import turns_of
from hotline.serve import spawn
from tests.standin_rasa import StandInRasa

APP_PORT, RASA_PORT = 18551, 18552
SHUTDOWN_SECONDS = 8


def test_sigterm_finishes_the_turn_in_flight_and_exits(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'hotline.db'}"
    rasa = StandInRasa(RASA_PORT, delay=2.0).start()  # each turn takes the bot 2 s
    env = {"HOTLINE_VAR_DIR": str(tmp_path), "HOTLINE_DATABASE_URL": db,
           "HOTLINE_PORT": str(APP_PORT), "HOTLINE_RASA_URL": f"http://127.0.0.1:{RASA_PORT}",
           "HOTLINE_KNOWLEDGE_PRELOAD": "false", "HOTLINE_SLA_SCAN_SECONDS": "0",
           "HOTLINE_SHUTDOWN_SECONDS": str(SHUTDOWN_SECONDS)}  # fmt: skip
    url = f"http://127.0.0.1:{APP_PORT}"
    try:
        proc = spawn(env, tmp_path / "serve.log", part="app", timeout=180)
        replies: list[httpx.Response] = []
        turn = {"sender": "stop-1", "text": "你好", "channel": "web"}
        sender = threading.Thread(
            target=lambda: replies.append(httpx.post(f"{url}/api/v1/chat", json=turn, timeout=60))
        )
        sender.start()
        while not rasa.turns:  # the turn is with the bot
            time.sleep(0.01)
        proc.send_signal(signal.SIGTERM)
        sender.join()
        time.sleep(0.5)
        with pytest.raises(httpx.TransportError):  # stopped taking new work
            httpx.post(f"{url}/api/v1/chat", json={**turn, "sender": "late"}, timeout=5)
        try:
            code = proc.wait(SHUTDOWN_SECONDS + 20)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail("hotline serve did not stop")
    finally:
        rasa.stop()
    log = (tmp_path / "serve.log").read_text(errors="replace")
    assert code == 0, log
    assert [r.status_code for r in replies] == [200]
    assert replies[0].json()["messages"][0]["text"] == "机器人：你好"
    assert [t.user_text for t in turns_of(db, "web:stop-1")] == ["你好"]
