"""Phone calls on the gateway side: the bot turn of a call, outcomes, and the PBX's endpoints.

- `POST /api/v1/calls/{call_id}` — the PBX registers the caller's number before AudioSocket()
  (AudioSocket frames carry no caller id); JSON `{"caller_number": "..."}` or the form body
  Asterisk's CURL() posts (`caller_number=...`); `pass_on=1` when the dialplan has another
  speech process to try: a full one then hands the call back at once (reason "full").
- `GET /api/v1/calls/{call_id}/outcome` — how the call ended, asked by the dialplan after
  AudioSocket() returns: JSON, or `?format=hash` for Asterisk's CURLOPT(hashcompat)/HASH().

`make_call_center` builds the `speech.calls.CallCenter` both transports share; `serve_audiosocket`
runs the AudioSocket listener as its own process (`hotline voice audiosocket`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import Counter

from gateway.auth import pbx_only
from gateway.chat_api import run_turn
from gateway.rasa_client import RasaClient
from gateway.voice_lexicon import hotline_lexicon
from handoffs import queue
from hotline.conversations import conversation_id
from hotline.settings import Settings
from hotline.shutdown import Stopper
from speech.calls import CallCenter
from speech.engine import ASREngine, TTSEngine
from speech.outcomes import (
    get_call,
    passes_on,
    record_outcome,
    register_call,
    registered_caller,
)
from speech.session import BotReply, CallOutcome, SessionConfig, TurnFn
from workorders import intake, store
from workorders.queries import OrderFilter
from workorders.store import Draft

log = logging.getLogger(__name__)
# The PBX calls these without an account; gateway.auth.pbx_only says how it is recognised.
router = APIRouter(prefix="/api/v1/calls", tags=["voice"], dependencies=[Depends(pbx_only)])

VOICE_CALLS = Counter(
    "hotline_voice_calls_total",
    "Phone calls ended, by transport and outcome",
    ["channel", "outcome"],
)
# Phrases recognisers with phrase lists (Vosk) should favour: the answers the IVR asks for.
PHRASES = ("对", "不对", "是的", "不是", "转人工", "人工服务", "再见", "工单", "投诉", "咨询")


class GatewayCallHooks:
    """Bot turns through run_turn (channel "voice", sender = call id); outcomes in the DB."""

    def __init__(self, settings: Settings, rasa: Callable[[], RasaClient]) -> None:
        self.settings = settings
        self._rasa = rasa

    def turn_for(self, call_id: str) -> TurnFn:
        async def turn(text: str, metadata: dict[str, Any]) -> BotReply:
            done = await run_turn(self.settings, self._rasa(), "voice", call_id, text, metadata)
            return BotReply(
                done.messages, done.state, done.intent, done.error, decision=done.decision
            )

        return turn

    async def caller_of(self, call_id: str) -> str | None:
        return await asyncio.to_thread(registered_caller, self.settings.database_url, call_id)

    async def passes_on(self, call_id: str) -> bool:
        return await asyncio.to_thread(passes_on, self.settings.database_url, call_id)

    async def request_callback(self, call_id: str, caller_number: str) -> str:
        """A caller past capacity asked for a call-back: a 求助 order for the centre's
        operators (not routed to a department), stored before its number is read out."""
        draft = Draft(
            channel="voice",
            request_text="来电时线路繁忙，市民按键要求回电。",
            summary="线路繁忙，市民要求回电",
            kind="求助",
            citizen_phone=caller_number,
            conversation_id=conversation_id("voice", call_id),
        )
        key = intake.idempotency_key(call_id, "overflow-callback")
        order = await asyncio.to_thread(
            intake.submit,
            self.settings.database_url,
            draft,
            key,
            settings=self.settings,
            auto_route=False,
        )
        return order.number

    async def finished(self, outcome: CallOutcome) -> CallOutcome:
        url = self.settings.database_url

        def store_it() -> None:
            if outcome.outcome != "refused" or outcome.reason == "callback":
                call = OrderFilter(conversation_id=conversation_id("voice", outcome.call_id))
                orders = store.list_orders(url, call, limit=1)
                outcome.work_order = orders[0].number if orders else None
            record_outcome(url, outcome)

        await asyncio.to_thread(store_it)
        VOICE_CALLS.labels(outcome.channel, outcome.outcome).inc()
        return outcome


def load_asr(settings: Settings) -> ASREngine:
    from speech.asr import load_engine  # the engines load only when a call needs them

    return load_engine(settings)


def load_tts(settings: Settings) -> TTSEngine:
    from speech.tts import load_tts as load

    return load(settings)


def make_call_center(
    settings: Settings,
    rasa: Callable[[], RasaClient],
    *,
    asr: Callable[[], ASREngine] | None = None,
    tts: Callable[[], TTSEngine] | None = None,
) -> CallCenter:
    return CallCenter(
        SessionConfig.from_settings(settings),
        settings.max_calls,
        asr or (lambda: load_asr(settings)),
        tts or (lambda: load_tts(settings)),
        GatewayCallHooks(settings, rasa),
        phrases=PHRASES,
        lexicon=hotline_lexicon(),
    )


def _call_id(raw: str) -> str:
    try:
        return str(uuid.UUID(raw))
    except ValueError as exc:
        raise HTTPException(422, "call_id: must be a UUID") from exc


@router.post("/{call_id}", status_code=201)
async def register(call_id: str, request: Request) -> dict[str, Any]:
    """The PBX tells the caller's number before the call's AudioSocket() starts."""
    call_id = _call_id(call_id)
    body = await request.body()
    try:
        if request.headers.get("content-type", "").startswith("application/json"):
            data = json.loads(body or b"{}")
        else:
            data = {k: v[-1] for k, v in parse_qs(body.decode()).items()}
    except (ValueError, UnicodeDecodeError) as exc:
        raise HTTPException(422, "body: JSON or form data with caller_number expected") from exc
    number = str(data.get("caller_number") or "").strip() or None
    if number is not None and (len(number) > 32 or not all(c in "0123456789+-*#" for c in number)):
        raise HTTPException(422, "caller_number: digits, + - * # only, at most 32")
    pass_on = str(data.get("pass_on", "")).strip().lower()
    if pass_on not in ("", "0", "1", "true", "false"):
        raise HTTPException(422, "pass_on: 1 or 0 (another speech process follows if full)")
    url = request.app.state.settings.database_url
    passing = pass_on in ("1", "true")
    if not await asyncio.to_thread(register_call, url, call_id, number, passing):
        raise HTTPException(409, "call has already ended")
    return {"call_id": call_id, "caller_number": number, "pass_on": passing}


@router.get(
    "/{call_id}/outcome",
    responses={
        202: {"description": "the call is registered or still up; outcome is null"},
        404: {"description": "no such call"},
    },
)
async def outcome(
    call_id: str,
    request: Request,
    format: str = Query("json", pattern="^(json|hash)$", description="hash: key=value&… text"),
) -> Response:
    """How the call ended: completed | transfer (to `queue`) | hangup | refused; for a
    transfer, the operators' queue item (`handoff`) and its five-second `summary` line, for the
    PBX to show the operator who picks up."""
    call_id = _call_id(call_id)
    url = request.app.state.settings.database_url
    row = await asyncio.to_thread(get_call, url, call_id)
    handoff = await asyncio.to_thread(queue.latest_for, url, conversation_id("voice", call_id))
    if row is None:
        body: dict[str, Any] = dict.fromkeys(("outcome", "reason", "queue", "work_order"))
        body = {"call_id": call_id, **body}
        status = 404
    else:
        body = row.public()
        status = 200 if row.outcome else 202
    body["handoff"] = handoff.id if handoff else None
    body["summary"] = handoff.summary.get("line") if handoff else None
    if format == "hash":
        text = urlencode({k: "" if v is None else v for k, v in body.items()})
        return PlainTextResponse(text, status_code=status)
    return JSONResponse(body, status_code=status)


async def serve_audiosocket(settings: Settings, stopper: Stopper) -> None:
    """The AudioSocket listener as its own process (the app may run elsewhere) until SIGINT or
    SIGTERM: then no new call is taken, live calls are told and transferred, and the rest of
    the work is dropped in time for `stopper`'s deadline (hotline/shutdown.py)."""
    from hotline import db
    from speech.audiosocket import AudioSocketServer

    stopper.install()
    await asyncio.to_thread(db.upgrade, settings.database_url)
    rasa = RasaClient(settings.rasa_url, settings.rasa_timeout)
    center = make_call_center(settings, lambda: rasa)
    server = AudioSocketServer(center, settings.audiosocket_host, settings.audiosocket_port)
    try:
        if not stopper.requested.is_set():
            await server.start()
            center.warm_up_soon()
            await stopper.requested.wait()
    finally:
        # A second left for storing outcomes and closing connections after the calls end.
        await server.stop(grace=max(0.0, stopper.remaining() - 1.0))
        await rasa.close()
        center.close()
        log.info("AudioSocket listener stopped")
