"""gateway/app_server.py stopping with calls up on WS /voice/ws, in this process: uvicorn for
real (its shutdown as a signal starts it), the stand-in Rasa, the scripted recogniser and TTS
of tests/speech/doubles.py, the real outcome table (SQLite). The same with the real engines and
a real `hotline serve` process: tests/faults/test_voice_ws_shutdown.py."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from gateway.app import create_app
from gateway.app_server import AppServer
from gateway.calls_api import make_call_center
from hotline.settings import Settings
from speech.outcomes import get_call
from speech.prompts import GREETING, SHUTDOWN
from tests.conftest import server_thread
from tests.gateway.test_voice_ws import Caller
from tests.speech.doubles import LengthTTS, ScriptedASR, tone
from tests.standin_rasa import StandInRasa

APP_PORT, RASA_PORT = 19683, 19684
MS_PER_CHAR = 20  # the SHUTDOWN prompt plays for about a third of a second


@dataclass
class Running:
    server: AppServer
    settings: Settings
    rasa: StandInRasa
    asr: ScriptedASR
    thread: threading.Thread

    def stop(self) -> None:
        """What SIGTERM does to uvicorn (signals reach only the main thread)."""
        self.server.should_exit = True


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    rasa = StandInRasa(RASA_PORT, delay=1.0).start()  # each bot turn takes a second
    settings = Settings(var_dir=tmp_path, rasa_url=f"http://127.0.0.1:{RASA_PORT}",
                        knowledge_preload=False, sla_scan_seconds=0, port=APP_PORT)  # fmt: skip
    asr = ScriptedASR()
    app = create_app(settings)
    app.state.calls = make_call_center(
        settings, lambda: app.state.rasa, asr=lambda: asr, tts=lambda: LengthTTS(MS_PER_CHAR)
    )
    config = uvicorn.Config(app, host="127.0.0.1", port=APP_PORT, log_level="warning",
                            timeout_graceful_shutdown=10)  # fmt: skip
    server = AppServer(config)
    server.app = app
    try:
        with server_thread(server) as thread:
            yield Running(server, settings, rasa, asr, thread)
    finally:
        rasa.stop()


async def _ended_by_stop(running: Running, speak: str | None) -> tuple[Caller, dict[str, Any]]:
    async with asyncio.timeout(30):  # guards against a hang only
        caller = Caller(await connect(f"ws://127.0.0.1:{APP_PORT}/voice/ws", max_size=None))
        await caller.start()
        await caller.until("state", state="listening")
        if speak:  # stop while the bot is answering
            running.asr.hear(speak)
            await caller.ws.send(tone(100, rate=16000))
            while not running.rasa.turns:
                await asyncio.sleep(0.01)
        heard = len(caller.audio)
        running.stop()
        end = await caller.until("end")
        with pytest.raises(ConnectionClosed):
            await caller.ws.recv()
        told = len(caller.audio) - heard
        return caller, {"end": end, "told": told, "code": caller.ws.close_code}


def test_a_listening_call_is_told_then_transferred_and_closed(running: Running) -> None:
    caller, seen = asyncio.run(_ended_by_stop(running, speak=None))
    end = seen["end"]
    assert (end["outcome"], end["reason"], end["queue"]) == ("transfer", "server_stop", "12345")
    assert caller.said() == [GREETING, SHUTDOWN]
    assert seen["told"] == pytest.approx(len(SHUTDOWN) * MS_PER_CHAR * 32, abs=2 * 640)
    assert seen["code"] == 1000
    row = get_call(running.settings.database_url, end["call_id"])
    assert row is not None and (row.outcome, row.reason) == ("transfer", "server_stop")
    running.thread.join(30)
    assert not running.thread.is_alive()  # uvicorn went on and finished its own shutdown


def test_the_bot_turn_in_flight_is_answered_before_the_caller_is_told(running: Running) -> None:
    caller, seen = asyncio.run(_ended_by_stop(running, speak="我想咨询公积金"))
    assert (seen["end"]["outcome"], seen["end"]["reason"]) == ("transfer", "server_stop")
    said = caller.said()
    assert said[0] == GREETING and said[-1] == SHUTDOWN
    assert any("机器人：我想咨询公积金" in text for text in said[1:-1]), said
    assert running.rasa.turns == ["我想咨询公积金"]
