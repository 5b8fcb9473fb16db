"""WS /voice/ws: a phone call over a WebSocket (the browser call page, SIP gateways).

Protocol (docs/api.md has the full table):
1. client → `{"type": "start", "sample_rate": 8000|16000, "caller_id": "..."}` (text, first);
2. server → `{"type": "started", "call_id", "sample_rate"}`, then the call runs:
   client → binary frames of slin16 mono PCM at sample_rate (any size up to 1 s, 20 ms usual),
   `{"type": "dtmf", "digit": "5"}`, `{"type": "hangup"}`;
   server → binary TTS audio at sample_rate in 20 ms frames, paced in real time, and JSON events
   `partial`, `final`, `bot`, `state`, `clear` (drop queued audio: the caller barged in);
3. server → `{"type": "end", "call_id", "outcome", "reason", "queue", "work_order"}`, then close.
A protocol error gets `{"type": "error", "message"}` and ends the call.

Stopping (`hand_over`, run by gateway/app_server.py before uvicorn closes the websockets): each
live call hears the SHUTDOWN prompt and ends as ("transfer", "server_stop") with its `end` event
and a normal close; a connection whose call has not begun gets `{"type": "end", "outcome":
"refused", "reason": "server_stop"}` and closes with 1012 (service restart: call again).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketState

from hotline.settings import Settings
from speech.calls import CallCenter, LiveSession, describe

log = logging.getLogger(__name__)
router = APIRouter()

RATES = (8000, 16000)
START_SECONDS = 10.0
DTMF_KEYS = "0123456789*#ABCD"
CLOSE_NORMAL, CLOSE_POLICY, CLOSE_INTERNAL, CLOSE_RESTART, CLOSE_TRY_LATER = (
    1000, 1008, 1011, 1012, 1013
)  # fmt: skip


class ProtocolError(Exception):
    pass


class WebSocketTransport:
    def __init__(self, ws: WebSocket, sample_rate: int) -> None:
        self.ws = ws
        self.sample_rate = sample_rate
        self.closed = False
        self._lock = asyncio.Lock()

    async def send_audio(self, pcm: bytes) -> None:
        await self._send({"type": "websocket.send", "bytes": pcm})

    async def send_event(self, event: dict[str, Any]) -> None:
        text = json.dumps(event, ensure_ascii=False)
        await self._send({"type": "websocket.send", "text": text})

    async def _send(self, message: dict[str, Any]) -> None:
        if self.closed:
            return
        async with self._lock:
            try:
                await self.ws.send(message)
            except Exception as exc:  # disconnects surface as several exception types
                log.debug("voice ws: send failed: %r", exc)
                self.closed = True

    async def close(self, code: int = CLOSE_NORMAL) -> None:
        async with self._lock:
            if self.closed or self.ws.application_state != WebSocketState.CONNECTED:
                self.closed = True
                return
            self.closed = True
            try:
                await self.ws.close(code)
            except Exception as exc:
                log.debug("voice ws: close failed: %r", exc)


def parse_start(message: Mapping[str, Any], settings: Settings) -> tuple[int, str | None]:
    """(sample_rate, trusted caller number) from the first message; ProtocolError if invalid."""
    text = message.get("text")
    if text is None:
        raise ProtocolError('the first message must be {"type": "start", ...} as text')
    try:
        start = json.loads(text)
    except ValueError as exc:
        raise ProtocolError("the first message is not JSON") from exc
    if not isinstance(start, dict) or start.get("type") != "start":
        raise ProtocolError('the first message must have "type": "start"')
    rate = start.get("sample_rate")
    if rate not in RATES:
        raise ProtocolError(f"sample_rate must be one of {list(RATES)}")
    caller = start.get("caller_id")
    if caller is not None:
        caller = str(caller).strip()
        if len(caller) > 32 or not all(c in "0123456789+-*#" for c in caller):
            raise ProtocolError("caller_id: digits, + - * # only, at most 32")
    # A browser can claim any number: only trusted clients (a SIP gateway) may set it.
    return rate, (caller or None) if settings.voice_ws_trust_caller_id else None


class Lines:
    """The WS calls of this process (their handlers' tasks); one per app
    (`app.state.voice_lines`). Whether the app is stopping is `app.state.drain.stopping`."""

    def __init__(self) -> None:
        self.handlers: set[asyncio.Task[Any]] = set()


async def hand_over(app: Any, timeout: float | None) -> None:
    """The process is stopping: no WS call begins any more, each live call (AudioSocket ones
    too) is told and transferred (speech/calls.py), and this returns once every WS call has
    ended, or after `timeout` seconds."""
    lines: Lines = app.state.voice_lines
    app.state.drain.stopping.set()  # (already set by gateway/app_server.py)
    center: CallCenter | None = getattr(app.state, "calls", None)
    if center is not None:
        center.shut_down()
    if lines.handlers:
        log.info("stopping: %d voice WS connections are told and handed over", len(lines.handlers))
        _, late = await asyncio.wait(set(lines.handlers), timeout=timeout)
        if late:
            log.warning("%d voice WS calls still up after %s s", len(late), timeout)


@router.websocket("/voice/ws")
async def voice_ws(ws: WebSocket) -> None:
    lines: Lines = ws.app.state.voice_lines
    task = asyncio.current_task()
    assert task is not None
    lines.handlers.add(task)
    try:
        await _call(ws)
    finally:
        lines.handlers.discard(task)


async def _call(ws: WebSocket) -> None:
    await ws.accept()
    settings: Settings = ws.app.state.settings
    center: CallCenter = ws.app.state.calls
    stopping: asyncio.Event = ws.app.state.drain.stopping
    transport = WebSocketTransport(ws, 16000)
    call_id = str(uuid.uuid4())
    try:
        first = await _first_message(ws, stopping)
        if first is None:
            await _refuse_stopping(transport, call_id)
            return
        if first["type"] == "websocket.disconnect":
            return
        rate, caller = parse_start(first, settings)
    except TimeoutError:
        await _fail(transport, f"no start message within {START_SECONDS:.0f} s")
        return
    except ProtocolError as exc:
        await _fail(transport, str(exc))
        return
    transport.sample_rate = rate
    if stopping.is_set():
        await _refuse_stopping(transport, call_id)
        return
    try:
        session = await center.open(call_id, "websocket", transport, caller_number=caller)
    except Exception:
        log.exception("call %s: no session (speech engines unavailable?)", call_id)
        await transport.send_event({"type": "error", "message": "speech service unavailable"})
        await transport.close(CLOSE_INTERNAL)
        return
    if session is None and center.stopping.is_set():
        await _refuse_stopping(transport, call_id)
        return
    if session is None:
        await transport.send_event({"type": "started", "call_id": call_id, "sample_rate": rate})
        outcome = await center.refuse(call_id, "websocket", transport)
        await transport.send_event(describe(outcome))
        await transport.close(CLOSE_TRY_LATER)
        return
    await transport.send_event({"type": "started", "call_id": call_id, "sample_rate": rate})
    runner = asyncio.create_task(center.run(session), name=f"call-{call_id}")
    feeder = asyncio.create_task(_feed(ws, transport, session))
    try:
        await asyncio.wait({runner, feeder}, return_when=asyncio.FIRST_COMPLETED)
        if not runner.done():
            failed = feeder.exception()
            if failed is not None:
                log.error("call %s: reading the caller failed: %r", call_id, failed)
            session.hangup("disconnect" if failed else feeder.result())
        outcome = await runner
    finally:
        feeder.cancel()
        await asyncio.gather(feeder, return_exceptions=True)
        if not runner.done():  # the server is stopping
            session.hangup("server_stop")
            await asyncio.gather(runner, return_exceptions=True)
    await transport.send_event(describe(outcome))
    await transport.close()


async def _feed(ws: WebSocket, transport: WebSocketTransport, session: LiveSession) -> str:
    """Caller -> session until hang-up, disconnect or a protocol error; returns which."""
    max_bytes = 2 * transport.sample_rate  # one second
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return "disconnect"
        try:
            data = message.get("bytes")
            if data is not None:
                if len(data) % 2 or len(data) > max_bytes:
                    raise ProtocolError(
                        f"audio frames are whole samples, at most 1 s ({len(data)})"
                    )
                await session.audio(data)
                continue
            try:
                msg = json.loads(message.get("text") or "")
            except ValueError as exc:
                raise ProtocolError("text messages must be JSON") from exc
            kind = msg.get("type") if isinstance(msg, dict) else None
            if kind == "hangup":
                return "caller"
            if kind == "dtmf":
                digit = str(msg.get("digit", ""))
                if len(digit) != 1 or digit not in DTMF_KEYS:
                    raise ProtocolError(f"dtmf digit must be one of {DTMF_KEYS}")
                session.dtmf(digit)
                continue
            raise ProtocolError(f"unknown message type {kind!r}")
        except ProtocolError as exc:
            log.warning("call %s: voice ws protocol error: %s", session.call_id, exc)
            await transport.send_event({"type": "error", "message": str(exc)})
            return "protocol_error"


async def _first_message(ws: WebSocket, stopping: asyncio.Event) -> Mapping[str, Any] | None:
    """The client's first message; None when the process starts stopping first (a caller
    need not wait for a call that will not begin); TimeoutError after START_SECONDS."""
    receiving = asyncio.ensure_future(ws.receive())
    waiting = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait(
            {receiving, waiting}, timeout=START_SECONDS, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        for task in (receiving, waiting):
            if not task.done():
                task.cancel()
        await asyncio.gather(receiving, waiting, return_exceptions=True)
    if receiving.done() and not receiving.cancelled():
        return receiving.result()
    if stopping.is_set():
        return None
    raise TimeoutError


async def _refuse_stopping(transport: WebSocketTransport, call_id: str) -> None:
    log.info("call %s refused: the server is stopping", call_id)
    ended = {"type": "end", "call_id": call_id, "outcome": "refused", "reason": "server_stop"}
    await transport.send_event({**ended, "queue": None, "work_order": None})
    await transport.close(CLOSE_RESTART)


async def _fail(transport: WebSocketTransport, message: str) -> None:
    log.info("voice ws refused: %s", message)
    await transport.send_event({"type": "error", "message": message})
    await transport.close(CLOSE_POLICY)
