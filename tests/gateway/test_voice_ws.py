"""WS /voice/ws and the call endpoints, on a real uvicorn server with a `websockets` client.

Rasa is a local HTTP fake (it answers by rule, with the triage decision the actions would send,
and records what it was sent); the recogniser and
TTS are the scripted doubles of tests/speech/doubles.py. The conversation log and the outcome
table are the real ones (SQLite).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from gateway.app import create_app
from gateway.calls_api import make_call_center
from hotline.conversations import turns_of
from hotline.serve import free_port
from hotline.settings import Settings
from speech.prompts import GREETING, OVERFLOW, OVERFLOW_NO_NUMBER
from tests.conftest import serving
from tests.speech.doubles import LengthTTS, ScriptedASR, tone


class FakeRasa(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), RasaHandler)
        self.requests: list[dict[str, Any]] = []


class RasaHandler(BaseHTTPRequestHandler):
    server: FakeRasa

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(body)
        decision: dict[str, Any] = {"kind": "answer", "handoff": False}
        if body["message"] == "/request_human":
            text, intent = "好的，正在为您转接话务员，请稍候。", "request_human"
            decision = {"kind": "handoff", "handoff": True, "reason": "asked"}
        elif body["message"] == "0" and body["metadata"].get("dtmf") == "0":
            text, intent = "好的，正在为您转接话务员，请稍候。", "nlu_fallback"
            decision = {"kind": "handoff", "handoff": True, "reason": "dtmf_0"}
        else:
            text, intent = f"收到：{body['message']}", "consult"
        reply = {
            "messages": [
                {"recipient_id": body["sender"], "text": text},
                {"recipient_id": body["sender"], "custom": {"triage": decision}},
            ],
            "intent": {"name": intent, "confidence": 0.95},
            "paused": False,
        }
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@dataclass
class Server:
    url: str
    ws_url: str
    settings: Settings
    rasa: FakeRasa
    asr: ScriptedASR
    tts: LengthTTS


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    rasa = FakeRasa()
    threading.Thread(target=rasa.serve_forever, daemon=True).start()
    port = free_port()
    settings = Settings(
        var_dir=tmp_path_factory.mktemp("voice-ws"),
        rasa_url=f"http://127.0.0.1:{rasa.server_port}",
        knowledge_preload=False,
        sla_scan_seconds=0,
        max_calls=2,
        voice_no_input_seconds=5,
        port=port,
    )
    asr, tts = ScriptedASR(), LengthTTS(ms_per_char=5)
    app = create_app(settings)
    app.state.calls = make_call_center(
        settings, lambda: app.state.rasa, asr=lambda: asr, tts=lambda: tts
    )
    with serving(app, port) as base:
        yield Server(base, f"ws://127.0.0.1:{port}/voice/ws", settings, rasa, asr, tts)
    rasa.shutdown()


@dataclass
class Caller:
    """The client side of one call: what it received, by kind."""

    ws: ClientConnection
    events: list[dict[str, Any]] = field(default_factory=list)
    audio: bytearray = field(default_factory=bytearray)
    frame_sizes: set[int] = field(default_factory=set)

    async def start(self, **fields: Any) -> dict[str, Any]:
        await self.ws.send(json.dumps({"type": "start", "sample_rate": 16000, **fields}))
        return await self.until("started")

    async def until(self, kind: str, **match: Any) -> dict[str, Any]:
        """Read until an event of `kind` (with the given fields) arrives; audio is kept."""
        async for message in self.ws:
            if isinstance(message, bytes):
                self.audio += message
                self.frame_sizes.add(len(message))
                continue
            event = json.loads(message)
            self.events.append(event)
            if event["type"] == kind and all(event.get(k) == v for k, v in match.items()):
                return event
        raise AssertionError(f"closed before a {kind} event; got {self.events}")

    async def dtmf(self, keys: str) -> None:
        for key in keys:
            await self.ws.send(json.dumps({"type": "dtmf", "digit": key}))

    def said(self) -> list[str]:
        return [e["text"] for e in self.events if e["type"] == "bot"]


def _metric(server: Server, name: str) -> float:
    """One sample of the app's /metrics (served without an account)."""
    text = httpx.get(f"{server.url}/metrics").text
    found = [line.split()[-1] for line in text.splitlines() if line.startswith(name + " ")]
    return float(found[0]) if found else 0.0


def call(server: Server, script: Callable[[Caller], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        async with asyncio.timeout(30):  # guards against a hang only
            async with connect(server.ws_url, max_size=None) as ws:
                return await script(Caller(ws))

    return asyncio.run(main())


def test_a_call_over_the_websocket(server: Server) -> None:
    async def script(caller: Caller) -> tuple[str, Caller]:
        started = await caller.start(caller_id="13912345678")
        assert started["sample_rate"] == 16000
        await caller.until("state", state="listening")
        server.asr.hear("我要咨询公积金")
        await caller.ws.send(tone(100, rate=16000))
        await caller.until("bot", text="收到：我要咨询公积金。")
        await caller.until("state", state="listening")
        await caller.ws.send(json.dumps({"type": "hangup"}))
        end = await caller.until("end")
        assert end == {
            "type": "end",
            "call_id": started["call_id"],
            "outcome": "hangup",
            "reason": "caller",
            "queue": None,
            "work_order": None,
        }
        return started["call_id"], caller

    answered_before = _metric(server, "hotline_voice_reply_seconds_count")
    call_id, caller = call(server, script)
    assert caller.said() == [GREETING, "收到：我要咨询公积金。"]
    # The process's metrics counted the answer (end of speech → first audio of the reply).
    assert _metric(server, "hotline_voice_reply_seconds_count") == answered_before + 1
    assert _metric(server, "hotline_voice_active_calls") == 0
    finals = [e for e in caller.events if e["type"] == "final"]
    assert finals == [{"type": "final", "text": "我要咨询公积金", "confidence": 0.9}]
    # TTS audio at the caller's rate: 20 ms frames of 16 kHz slin16, both prompts whole.
    assert caller.frame_sizes == {640}
    spoken = len(GREETING) + len("收到：我要咨询公积金。")
    assert len(caller.audio) == pytest.approx(spoken * 5 * 32, abs=2 * 640)
    # The bot saw the turn on the voice channel under the call id; the log has it.
    sent = [r for r in server.rasa.requests if r["sender"] == f"voice:{call_id}"]
    assert [r["message"] for r in sent] == ["我要咨询公积金"]
    assert sent[0]["channel"] == "voice"
    assert "caller_number" not in sent[0]["metadata"]  # a browser's claim is not trusted
    turns = turns_of(server.settings.database_url, f"voice:{call_id}")
    assert [(t.user_text, t.channel) for t in turns] == [("我要咨询公积金", "voice")]
    assert turns[0].metadata_["call"]["transport"] == "websocket"
    resp = httpx.get(f"{server.url}/api/v1/calls/{call_id}/outcome")
    assert resp.status_code == 200
    assert resp.json()["outcome"] == "hangup"


def test_zero_transfers_and_the_outcome_says_where(server: Server) -> None:
    async def script(caller: Caller) -> str:
        started = await caller.start()
        await caller.until("state", state="listening")
        await caller.dtmf("0#")
        end = await caller.until("end")
        assert (end["outcome"], end["reason"], end["queue"]) == ("transfer", "dtmf_0", "12345")
        with pytest.raises(ConnectionClosed):
            await caller.ws.recv()
        assert caller.ws.close_code == 1000
        return started["call_id"]

    call_id = call(server, script)
    sent = [r for r in server.rasa.requests if r["sender"] == f"voice:{call_id}"]
    assert [(r["message"], r["metadata"]["dtmf"]) for r in sent] == [("0", "0")]
    resp = httpx.get(f"{server.url}/api/v1/calls/{call_id}/outcome")
    assert resp.json() == {
        "call_id": call_id,
        "outcome": "transfer",
        "reason": "dtmf_0",
        "queue": "12345",
        "work_order": None,
        "handoff": None,  # this fake Rasa runs no actions: nothing was queued
        "summary": None,
    }
    hashed = httpx.get(f"{server.url}/api/v1/calls/{call_id}/outcome?format=hash")
    assert hashed.text == (
        f"call_id={call_id}&outcome=transfer&reason=dtmf_0&queue=12345&work_order="
        "&handoff=&summary="
    )


def test_trusted_gateways_pass_the_caller_number(server: Server) -> None:
    server.settings.voice_ws_trust_caller_id = True
    try:

        async def script(caller: Caller) -> str:
            started = await caller.start(caller_id="13912345678")
            await caller.until("state", state="listening")
            await caller.dtmf("13800138000#")
            await caller.until("bot", text="收到：13800138000。")
            await caller.ws.close()
            return started["call_id"]

        call_id = call(server, script)
    finally:
        server.settings.voice_ws_trust_caller_id = False
    sent = [r for r in server.rasa.requests if r["sender"] == f"voice:{call_id}"]
    assert sent[0]["metadata"]["caller_number"] == "13912345678"
    assert sent[0]["metadata"]["input"] == "dtmf"


@pytest.mark.parametrize(
    ("first", "error"),
    [
        (b"\0\0", "first message"),
        ("hello", "not JSON"),
        (json.dumps({"type": "start", "sample_rate": 44100}), "sample_rate"),
        (json.dumps({"type": "start", "sample_rate": 8000, "caller_id": "abc"}), "caller_id"),
        (json.dumps({"type": "dtmf", "digit": "1"}), "start"),
    ],
)
def test_a_bad_start_is_refused_with_a_reason(server: Server, first: Any, error: str) -> None:
    async def script(caller: Caller) -> None:
        await caller.ws.send(first)
        event = json.loads(await caller.ws.recv())
        assert event["type"] == "error" and error in event["message"]
        with pytest.raises(ConnectionClosed):
            await caller.ws.recv()
        assert caller.ws.close_code == 1008

    call(server, script)


def test_a_protocol_error_mid_call_ends_it(server: Server) -> None:
    async def script(caller: Caller) -> None:
        await caller.start()
        await caller.ws.send(json.dumps({"type": "dtmf", "digit": "x"}))
        error = await caller.until("error")
        assert "dtmf" in error["message"]
        end = await caller.until("end")
        assert (end["outcome"], end["reason"]) == ("hangup", "protocol_error")

    call(server, script)


@pytest.mark.parametrize("size", [3, 321, 2 * 16000 + 2, 1_000_000])
def test_a_wrong_sized_audio_frame_ends_the_call_and_the_next_call_works(
    server: Server, size: int
) -> None:
    """Half a sample, or more than one second: an error naming it, the call ends as a
    protocol error, and the server takes the next call."""

    async def bad(caller: Caller) -> None:
        await caller.start()
        await caller.ws.send(b"\x01" * size)
        error = await caller.until("error")
        assert "audio frames" in error["message"] and str(size) in error["message"]
        end = await caller.until("end")
        assert (end["outcome"], end["reason"]) == ("hangup", "protocol_error")
        with pytest.raises(ConnectionClosed):
            await caller.ws.recv()

    async def good(caller: Caller) -> None:
        await caller.start()
        await caller.until("state", state="listening")
        await caller.ws.send(json.dumps({"type": "hangup"}))
        assert (await caller.until("end"))["reason"] == "caller"

    call(server, bad)
    call(server, good)


def test_calls_past_capacity_are_told_and_handed_to_a_person(server: Server) -> None:
    async def script(first: Caller) -> None:
        await first.start()
        async with (
            connect(server.ws_url) as ws2,
            connect(server.ws_url) as ws3,
        ):
            second, third = Caller(ws2), Caller(ws3)
            await second.start()
            await third.start()
            await third.until("bot", text=OVERFLOW)  # told at once
            # A call-back needs the caller's number; this server does not trust the browser's.
            await ws3.send(json.dumps({"type": "dtmf", "digit": "1"}))
            end = await third.until("end")
            assert (end["outcome"], end["reason"], end["queue"]) == (
                "transfer",
                "overflow",
                "12345",
            )
            assert third.said() == [OVERFLOW, OVERFLOW_NO_NUMBER]
            assert len(third.audio) >= len(OVERFLOW) * 5 * 32
            with pytest.raises(ConnectionClosed):
                await ws3.recv()
            await second.until("state", state="listening")  # the calls up go on

    call(server, script)


def test_an_abrupt_disconnect_is_recorded_as_a_hangup(server: Server) -> None:
    async def script(caller: Caller) -> str:
        started = await caller.start()
        await caller.until("bot")
        caller.ws.transport.abort()
        return started["call_id"]

    call_id = call(server, script)
    deadline = time.monotonic() + 20
    while True:  # the server notices the drop on its own time
        resp = httpx.get(f"{server.url}/api/v1/calls/{call_id}/outcome")
        if resp.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert resp.json()["outcome"] == "hangup"
    assert resp.json()["reason"] == "disconnect"


def test_the_pbx_registers_the_caller_before_the_call(server: Server) -> None:
    call_id = str(uuid.uuid4())
    url = f"{server.url}/api/v1/calls/{call_id}"
    # Asterisk's CURL() posts form data.
    resp = httpx.post(
        url,
        content="caller_number=13912345678",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert resp.status_code == 201
    assert resp.json() == {"call_id": call_id, "caller_number": "13912345678", "pass_on": False}
    pending = httpx.get(f"{url}/outcome")
    assert pending.status_code == 202 and pending.json()["outcome"] is None
    assert httpx.post(url, json={"caller_number": "x"}).status_code == 422
    assert httpx.post(f"{server.url}/api/v1/calls/not-a-uuid", json={}).status_code == 422
    unknown = httpx.get(f"{server.url}/api/v1/calls/{uuid.uuid4()}/outcome?format=hash")
    assert unknown.status_code == 404 and "outcome=&" in unknown.text


def test_the_call_page_is_served(server: Server) -> None:
    resp = httpx.get(f"{server.url}/call")
    assert resp.status_code == 200
    assert "/voice/ws" in httpx.get(f"{server.url}/static/call.js").text
    assert 'href="/call"' in httpx.get(f"{server.url}/chat").text


def test_outcome_endpoint_uses_the_registered_number(server: Server) -> None:
    """A registered call that ends over AudioSocket carries the number into its outcome."""
    from speech.outcomes import get_call, record_outcome, register_call
    from speech.session import CallOutcome

    call_id = str(uuid.uuid4())
    url = server.settings.database_url
    assert register_call(url, call_id, "13912345678")
    record_outcome(url, CallOutcome(call_id, "completed", "goodbye", "audiosocket"))
    row = get_call(url, call_id)
    assert row is not None and (row.caller_number, row.outcome) == ("13912345678", "completed")
    assert not register_call(url, call_id, "13800000000")  # an ended call cannot be re-registered
