"""POST /api/v1/chat: one citizen turn on any channel, relayed to Rasa and logged."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from accounts.users import Principal
from gateway import fallback, followups, rate_limits, takeover
from gateway.auth import optional_user
from gateway.choices import ordinal, resolve
from gateway.errors import CitizenText, check_length
from gateway.identity import citizen_channel
from gateway.metrics import CHAT_TURN_SECONDS, CHAT_TURNS
from gateway.outbound import outbound_of
from gateway.rasa_client import BotTurn, MessageIdReused, RasaClient, RasaUnavailable
from handoffs import intake, queue
from handoffs.intake import is_cancel
from handoffs.model import Handoff
from hotline.conversations import (
    ConversationTurn,
    Turn,
    conversation_id,
    last_replies,
    latest_turn,
    record_turn,
    turn_with_message,
)
from hotline.settings import Channel, Settings

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1", tags=["chat"])

# A client's id for one message: letters, digits and . _ : - (a UUID fits), at most 64.
MESSAGE_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,64}$"

APOLOGY = (
    "抱歉，系统暂时繁忙，请稍后再试；如有急事请直接拨打12345热线，紧急情况请拨打110、119或120。"
)


class ChatRequest(BaseModel):
    sender: CitizenText = Field(
        min_length=1, max_length=128, description="the citizen's id on the channel"
    )
    text: CitizenText = Field(description="what the citizen typed or said")
    channel: Channel = "api"
    metadata: dict[str, Any] = Field(default_factory=dict)
    message_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        pattern=MESSAGE_ID_PATTERN,
        description="the client's id for this message (1-64 of A-Z a-z 0-9 . _ : -, e.g. a "
        "UUID), new for each message and the same when the client sends the message again "
        "(after a timeout, a dropped connection, a 5xx): a message whose id the conversation "
        "has already seen gets the reply its first handling produced and is not handled "
        "twice, on any replica. Without it every request is a new message.",
        examples=["3f2b9c4e-8d1a-4c55-9a57-1d0e6b2f7c10"],
    )


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
    decision: dict[str, Any] | None = Field(
        default=None,
        description="what the triage layer decided for this message: kind (answer, clarify, "
        "abstain, order_draft, handoff, emergency, status, service_hours), handoff (bool) and "
        "the kind's fields; null for small talk",
    )
    error: str | None = None


# What the app itself writes into a stored turn's metadata (the fallback's state, the triage
# decision the reports count, why a turn was degraded): never taken from a client's metadata.
STATE_KEYS = frozenset({"fallback", "triage", "degraded"})


@router.post(
    "/chat",
    response_model=ChatResponse,
    responses={
        409: {"description": "message_id was already used for another text in this conversation"},
        422: {"description": "invalid request (empty or too long text, unknown channel, bad JSON)"},
        429: {"description": "too many messages from this sender or address; see Retry-After"},
        503: {"model": ChatResponse, "description": "the bot is unavailable; body has an apology"},
    },
)
async def chat(
    body: ChatRequest,
    request: Request,
    user: Annotated[Principal | None, Depends(optional_user)],
) -> Any:
    """Open to every citizen; the channel (wechat, voice) and identity metadata (caller number,
    openid) are taken only from a signed-in operator's or admin's client (gateway/identity.py)."""
    settings: Settings = request.app.state.settings
    check_length("text", body.text, settings.max_text_chars)
    channel, metadata = citizen_channel(body.channel, body.metadata, user)
    if user is None:  # staff tools (WeChat/voice relays, harnesses) speak for many citizens
        per_sender, per_address = rate_limits.chat_rules(settings)
        counted = [(per_sender, f"{channel}:{body.sender}"),
                   (per_address, rate_limits.address_key(request))]  # fmt: skip
        await rate_limits.enforce(request, counted)
    try:
        outcome = await run_turn(settings, request.app.state.rasa, channel, body.sender,
                                 body.text, metadata, outbound_of(request.app),
                                 message_id=body.message_id)  # fmt: skip
    except MessageIdReused as exc:
        raise HTTPException(409, str(exc)) from exc
    return _respond(outcome)


@dataclass
class TurnOutcome:
    """One finished turn: the bot's messages, the conversation state, and an error if any."""

    messages: list[dict[str, Any]]
    state: Literal["bot", "waiting_human", "human"]
    intent: str | None = None
    error: str | None = None
    decision: dict[str, Any] | None = None  # the triage decision (ChatResponse.decision)


async def run_turn(
    settings: Settings,
    rasa: RasaClient,
    channel: str,
    sender: str,
    text: str,
    metadata: dict[str, Any],
    outbound: takeover.Outbound | None = None,
    *,
    message_id: str | None = None,
) -> TurnOutcome:
    """Relay one turn to Rasa and log it; every channel (chat, WeChat, voice) goes through here.
    While the conversation waits for or talks with an operator, the turn goes to the operator
    instead of the bot. `outbound`: how other waiting citizens hear that the queue moved.
    `message_id`: the client's id of the message; a message already answered (logged with it,
    or in Rasa's tracker when the replica that handled it died before logging) gets that answer
    again instead of a second handling; one found there with another text raises
    MessageIdReused (nothing is handled or logged)."""
    received = datetime.now(UTC)
    sender_id = conversation_id(channel, sender)
    metadata = {k: v for k, v in metadata.items() if k not in STATE_KEYS}
    if message_id is not None:
        logged = await asyncio.to_thread(
            turn_with_message, settings.database_url, sender_id, message_id
        )
        if logged is not None and logged.user_text != text:
            raise MessageIdReused(message_id)
        if logged is not None:
            log.info("turn %s of %s answered again from the log", message_id, sender_id)
            CHAT_TURNS.labels(channel, "repeated").inc()
            return _outcome_of(logged)
    if channel in ("web", "wechat"):  # the citizen may be answering a 回访
        said_thanks = await asyncio.to_thread(followups.answer, settings, channel, sender_id, text)
        if said_thanks is not None:
            return await _followup_turn(settings, channel, sender, text, metadata, received,
                                        said_thanks, message_id)  # fmt: skip
    if channel != "voice":  # a call in the queue was transferred; it has no more bot turns
        item = await asyncio.to_thread(queue.open_for, settings.database_url, sender_id)
        if item is not None:
            return await to_operator(settings, item, channel, sender, text, metadata, received,
                                     outbound, message_id=message_id)  # fmt: skip
    error: str | None = None
    said = text
    if (choice := ordinal(text)) is not None:  # 第二个 after a list of options
        replies = await asyncio.to_thread(last_replies, settings.database_url, sender_id)
        said = resolve(choice, replies) or text
    previous = None
    if channel != "voice":  # a form begun while Rasa was down is finished without it
        previous = await asyncio.to_thread(latest_turn, settings.database_url, sender_id)
        if previous is not None and fallback.in_form(previous[1]):
            return await _fallback_turn(settings, channel, sender, text, said, metadata,
                                        received, previous, "form begun without Rasa",
                                        message_id)  # fmt: skip
    try:
        if previous is not None and fallback.rasa_form_closed(previous[1]):
            # The fallback finished a form Rasa had begun: close it in Rasa's tracker first.
            await rasa.append_events(sender_id, fallback.CLOSE_RASA_FORM)
        bot = await rasa.turn(sender_id, said, channel, metadata, message_id)
    except RasaUnavailable as exc:
        if channel != "voice":  # the triage layer answers instead (a call is transferred)
            log.warning("turn of %s served by triage, Rasa unavailable: %s", sender_id, exc)
            try:
                return await _fallback_turn(settings, channel, sender, text, said, metadata,
                                            received, previous, str(exc),
                                            message_id)  # fmt: skip
            except Exception:
                log.exception("turn of %s: the triage fallback failed too", sender_id)
        log.warning("turn of %s not answered: %s", sender_id, exc)
        error = str(exc)
        bot = BotTurn(messages=[{"text": APOLOGY, "buttons": []}])
    state: Literal["bot", "waiting_human", "human"] = "human" if bot.paused else "bot"
    if bot.decision and bot.decision.get("handoff"):  # the actions may have queued it
        item = await asyncio.to_thread(queue.open_for, settings.database_url, sender_id)
        if item is not None:
            state = "waiting_human" if item.status == "pending" else "human"
    turn = Turn(
        channel=channel,
        sender=sender,
        user_text=text,
        received_at=received,
        replied_at=datetime.now(UTC),
        bot_replies=bot.messages,
        intent=bot.intent,
        confidence=bot.confidence,
        state=state,
        error=error,
        # The triage decision is kept with the turn: the monthly report counts answers,
        # clarifications and abstentions from it (reports/queries.py); the form's draft, so
        # the fallback can finish it if Rasa goes away (gateway/fallback.py).
        metadata={
            **metadata,
            **({"triage": bot.decision} if bot.decision else {}),
            **({"fallback": {"rasa_form": bot.form}} if bot.form else {}),
        },
        # a failed turn may be tried again with its id; an answered one is answered from here
        message_id=None if error else message_id,
    )
    # The turn is stored before the reply leaves, so nothing said is lost.
    await asyncio.to_thread(record_turn, settings.database_url, turn)
    if bot.repeated:  # Rasa had handled it: the replica that did died before logging it
        log.info("turn %s of %s answered again from Rasa's tracker", message_id, sender_id)
    CHAT_TURNS.labels(channel, "repeated" if bot.repeated else "error" if error else "ok").inc()
    CHAT_TURN_SECONDS.observe((turn.replied_at - received).total_seconds())
    return TurnOutcome(bot.messages, state, bot.intent, error, bot.decision)


async def _fallback_turn(
    settings: Settings,
    channel: str,
    sender: str,
    text: str,
    said: str,
    metadata: dict[str, Any],
    received: datetime,
    previous: tuple[str, dict[str, Any]] | None,
    why: str,
    message_id: str | None = None,
) -> TurnOutcome:
    """A turn served by the triage layer directly (gateway/fallback.py); its state is stored
    with the turn, so the next one continues it on any replica."""
    sender_id = conversation_id(channel, sender)
    reply = await asyncio.to_thread(
        fallback.answer, settings, channel, sender_id, said, previous, metadata
    )
    state: Literal["bot", "waiting_human", "human"] = (
        "waiting_human" if reply.waiting_human else "bot"
    )
    extra: dict[str, Any] = {"fallback": reply.state, "degraded": why[:200]}
    if reply.decision:
        extra["triage"] = reply.decision
    turn = Turn(channel=channel, sender=sender, user_text=text, received_at=received,
                replied_at=datetime.now(UTC), bot_replies=reply.messages, state=state,
                metadata={**metadata, **extra}, message_id=message_id)  # fmt: skip
    await asyncio.to_thread(record_turn, settings.database_url, turn)
    CHAT_TURNS.labels(channel, "fallback").inc()
    CHAT_TURN_SECONDS.observe((turn.replied_at - received).total_seconds())
    return TurnOutcome(reply.messages, state, None, None, reply.decision)


async def to_operator(
    settings: Settings,
    item: Handoff,
    channel: str,
    sender: str,
    text: str,
    metadata: dict[str, Any],
    received: datetime,
    outbound: takeover.Outbound | None = None,
    *,
    message_id: str | None = None,
) -> TurnOutcome:
    """The citizen's message while a handoff is open: logged for the operator (who sees it
    live); while still waiting, the citizen is told their place (or leaves the queue)."""
    url = settings.database_url
    messages: list[dict[str, Any]] = []
    state: Literal["bot", "waiting_human", "human"] = "human"
    if item.status == "pending" and is_cancel(text):
        await takeover.cancel(url, item.id, outbound)
        messages, state = [{"text": takeover.CANCELLED, "buttons": []}], "bot"
    elif item.status == "pending":
        place = await asyncio.to_thread(intake.place_of, settings, item)
        if place is not None:  # told now, in the reply: not sent again
            await asyncio.to_thread(queue.mark_told, url, item.id, place.position)
        wait = (
            f"您现在排在第{place.position}位，预计等待约{place.expected_wait_minutes}分钟。"
            if place
            else ""
        )
        messages = [{"text": f"您的留言已转给话务员。{wait}输入“取消排队”可回到智能客服。",
                     "buttons": []}]  # fmt: skip
        state = "waiting_human"
    turn = Turn(channel=channel, sender=sender, user_text=text, received_at=received,
                replied_at=datetime.now(UTC), bot_replies=messages, state=state,
                metadata=metadata, message_id=message_id)  # fmt: skip
    row = await asyncio.to_thread(record_turn, url, turn)
    takeover.notify(item, {"type": "message", "id": row, "from": "citizen"})
    CHAT_TURNS.labels(channel, "operator").inc()
    return TurnOutcome(messages, state)


async def _followup_turn(
    settings: Settings,
    channel: str,
    sender: str,
    text: str,
    metadata: dict[str, Any],
    received: datetime,
    reply: str,
    message_id: str | None = None,
) -> TurnOutcome:
    """A 回访 rating was recorded instead of a bot turn; the turn is logged like any other."""
    messages: list[dict[str, Any]] = [{"text": reply, "buttons": []}]
    turn = Turn(channel=channel, sender=sender, user_text=text, received_at=received,
                replied_at=datetime.now(UTC), bot_replies=messages, state="bot",
                intent="followup_rating", metadata=metadata, message_id=message_id)  # fmt: skip
    await asyncio.to_thread(record_turn, settings.database_url, turn)
    CHAT_TURNS.labels(channel, "followup").inc()
    return TurnOutcome(messages, "bot")


_STATES: dict[str, Literal["bot", "waiting_human", "human"]] = {
    "bot": "bot", "waiting_human": "waiting_human", "human": "human"}  # fmt: skip


def _outcome_of(logged: ConversationTurn) -> TurnOutcome:
    """What a logged turn answered, as its first handling returned it."""
    metadata = logged.metadata_ if isinstance(logged.metadata_, dict) else {}
    state = _STATES.get(logged.state, "bot")
    return TurnOutcome(list(logged.bot_replies or []), state, logged.intent, None,
                       metadata.get("triage"))  # fmt: skip


def _respond(outcome: TurnOutcome) -> Any:
    reply = ChatResponse(
        messages=[Message.model_validate(m) for m in outcome.messages],  # Rasa's JSON, checked
        state=outcome.state,
        error=outcome.error,
        decision=outcome.decision,
    )
    if outcome.error:
        return JSONResponse(reply.model_dump(), status_code=503)
    return reply
