"""POST /api/v1/chat: one citizen turn on any channel, relayed to Rasa and logged."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, field_validator

from gateway.metrics import CHAT_TURN_SECONDS, CHAT_TURNS
from gateway.rasa_client import BotTurn, RasaClient, RasaUnavailable
from hotline.conversations import Turn, conversation_id, record_turn
from hotline.settings import Channel, Settings

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1", tags=["chat"])

APOLOGY = (
    "抱歉，系统暂时繁忙，请稍后再试；如有急事请直接拨打12345热线，紧急情况请拨打110、119或120。"
)


class ChatRequest(BaseModel):
    sender: str = Field(min_length=1, max_length=128, description="the citizen's id on the channel")
    text: str = Field(description="what the citizen typed or said")
    channel: Channel = "api"
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("sender", "text")
    @classmethod
    def not_blank(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be empty or whitespace")
        return value


class Button(BaseModel):
    title: str
    payload: str


class Message(BaseModel):
    text: str
    buttons: list[Button] = Field(default_factory=list)


class ChatResponse(BaseModel):
    messages: list[Message]
    state: Literal["bot", "waiting_human", "human"]
    work_order: dict[str, Any] | None = None
    error: str | None = None


@router.post(
    "/chat",
    response_model=ChatResponse,
    responses={
        422: {"description": "invalid request (empty or too long text, unknown channel, bad JSON)"},
        503: {"model": ChatResponse, "description": "the bot is unavailable; body has an apology"},
    },
)
async def chat(body: ChatRequest, request: Request) -> Any:
    settings: Settings = request.app.state.settings
    if len(body.text) > settings.max_text_chars:
        raise HTTPException(
            422, f"text is {len(body.text)} characters; the limit is {settings.max_text_chars}"
        )
    rasa: RasaClient = request.app.state.rasa
    received = datetime.now(UTC)
    sender_id = conversation_id(body.channel, body.sender)
    error: str | None = None
    try:
        bot = await rasa.turn(sender_id, body.text, body.channel, body.metadata)
    except RasaUnavailable as exc:
        log.warning("turn of %s not answered: %s", sender_id, exc)
        error = str(exc)
        bot = BotTurn(messages=[{"text": APOLOGY, "buttons": []}])
    state = "human" if bot.paused else "bot"
    turn = Turn(
        channel=body.channel,
        sender=body.sender,
        user_text=body.text,
        received_at=received,
        replied_at=datetime.now(UTC),
        bot_replies=bot.messages,
        intent=bot.intent,
        confidence=bot.confidence,
        state=state,
        error=error,
        metadata=body.metadata,
    )
    # The turn is stored before the reply leaves, so nothing said is lost.
    await asyncio.to_thread(record_turn, settings.database_url, turn)
    CHAT_TURNS.labels(body.channel, "error" if error else "ok").inc()
    CHAT_TURN_SECONDS.observe((turn.replied_at - received).total_seconds())
    reply = ChatResponse(messages=bot.messages, state=state, error=error)
    if error:
        return JSONResponse(reply.model_dump(), status_code=503)
    return reply
