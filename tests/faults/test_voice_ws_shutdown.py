"""`hotline serve --only app` stopped with SIGTERM while calls are up on WS /voice/ws (issue 19).

uvicorn's own shutdown closes every websocket with 1012 before the app's lifespan shutdown runs,
so a caller used to be cut off without a word. Now a live call hears SHUTDOWN, gets the `end`
event (transfer, server_stop) and a normal close, and its outcome is stored as such; a
connection that has not started its call yet is refused with an `end` event and 1012; the
port takes no new connection. The engines are the real ones (faster-whisper, espeak-ng), Rasa
is the stand-in, the database SQLite."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from hotline.serve import spawn
from speech.outcomes import get_call
from speech.prompts import SHUTDOWN
from tests.conftest import unavailable
from tests.gateway.test_voice_ws import Caller
from tests.standin_rasa import StandInRasa

APP_PORT, RASA_PORT = 19681, 19682
SHUTDOWN_SECONDS = 10
WS_URL = f"ws://127.0.0.1:{APP_PORT}/voice/ws"
BYTES_PER_SECOND = 2 * 16000  # slin16 at 16 kHz


async def _refused(ws: Any) -> tuple[dict[str, Any], int | None]:
    """The one event a connection gets before its close, and the close code."""
    event = json.loads(await ws.recv())
    with pytest.raises(ConnectionClosed):
        await ws.recv()
    return event, ws.close_code


async def _stop_during_calls(proc: subprocess.Popen[bytes]) -> dict[str, Any]:
    async with asyncio.timeout(180):  # the first call waits for the engines to load
        live = Caller(await connect(WS_URL, max_size=None, open_timeout=30))
        started = await live.start()
        await live.until("state", state="listening")  # the greeting has been heard
        idle = await connect(WS_URL, open_timeout=30)  # connected, its call not started
        heard_before = len(live.audio)
        signalled = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        end, (refusal, idle_code) = await asyncio.gather(live.until("end"), _refused(idle))
        with pytest.raises(ConnectionClosed):
            await live.ws.recv()
        # No new call once stopping: the port is closed, or, while the drain still waits for
        # requests in flight with the port open, a new connection is refused with `end`. (The
        # port's closing races this connect under load: CI once connected here.)
        try:
            async with connect(WS_URL, open_timeout=5) as ws:
                event, _ = await _refused(ws)
                late = "refused" if event.get("outcome") == "refused" else "connected"
        except (OSError, TimeoutError, ConnectionClosed) as exc:
            late = type(exc).__name__
        return {
            "call_id": started["call_id"],
            "end": end,
            "said_after": [e["text"] for e in live.events if e["type"] == "bot"][-1],
            "told_seconds": (len(live.audio) - heard_before) / BYTES_PER_SECOND,
            "close_code": live.ws.close_code,
            "refusal": refusal,
            "idle_code": idle_code,
            "late": late,
            "signalled": signalled,
        }


def test_sigterm_tells_a_live_websocket_call_and_transfers_it(tmp_path: Path) -> None:
    if not shutil.which("espeak-ng") or not shutil.which("sox"):
        unavailable("espeak-ng and sox (apt-get install espeak-ng sox)")
    db = f"sqlite:///{tmp_path / 'hotline.db'}"
    rasa = StandInRasa(RASA_PORT).start()
    env = {"HOTLINE_VAR_DIR": str(tmp_path), "HOTLINE_DATABASE_URL": db,
           "HOTLINE_PORT": str(APP_PORT), "HOTLINE_RASA_URL": f"http://127.0.0.1:{RASA_PORT}",
           "HOTLINE_KNOWLEDGE_PRELOAD": "false", "HOTLINE_SLA_SCAN_SECONDS": "0",
           "HOTLINE_SHUTDOWN_SECONDS": str(SHUTDOWN_SECONDS)}  # fmt: skip
    proc = spawn(env, tmp_path / "serve.log", part="app", timeout=180)
    try:
        seen = asyncio.run(_stop_during_calls(proc))
        code = proc.wait(SHUTDOWN_SECONDS + 20)
        stopped_in = time.monotonic() - seen["signalled"]
    finally:
        rasa.stop()
        if proc.poll() is None:
            proc.kill()
    log = (tmp_path / "serve.log").read_text(errors="replace")
    assert code == 0, log
    assert stopped_in < SHUTDOWN_SECONDS + 5, log
    # The live call: told (the whole announcement, paced), then transferred and closed cleanly.
    call_id = seen["call_id"]
    transferred = {"outcome": "transfer", "reason": "server_stop", "queue": "12345"}
    assert seen["end"] == {"type": "end", "call_id": call_id, **transferred, "work_order": None}
    assert seen["said_after"] == SHUTDOWN
    assert seen["told_seconds"] > 2.0, seen
    assert seen["close_code"] == 1000
    row = get_call(db, call_id)
    assert row is not None
    assert (row.outcome, row.reason, row.queue, row.channel) == (
        "transfer", "server_stop", "12345", "websocket"
    )  # fmt: skip
    assert row.transcript and row.transcript[-1]["text"] == SHUTDOWN
    # The connection that had not started its call: refused, saying why, "service restart".
    assert seen["refusal"]["type"] == "end", seen
    assert (seen["refusal"]["outcome"], seen["refusal"]["reason"]) == ("refused", "server_stop")
    assert seen["idle_code"] == 1012
    assert seen["late"] != "connected"
