"""The citizen's web chat page reads what reaches it outside its own turns: operators' messages
and the handoff's notices. `GET /api/v1/chat/{sender}/events` (server-sent events) and
`GET /api/v1/chat/{sender}/messages?after=ID` (polling, where EventSource is unavailable).

Who may read: whoever knows the sender id. The chat page makes it at random (a UUID, kept in
the browser's localStorage) and never shows it; it is the conversation's secret, as a session
id would be. Only web-chat conversations are readable here (`web:<sender>`): WeChat and phone
citizens are reached on their own channels.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from gateway import sse
from gateway.auth import public
from gateway.errors import ID_MAX
from handoffs import intake, live, queue
from hotline.conversations import ConversationTurn, conversation_id, to_citizen_after
from hotline.settings import Settings

router = APIRouter(prefix="/api/v1/chat", tags=["chat"], dependencies=[Depends(public)])

Sender = Annotated[str, Path(min_length=1, max_length=128)]
After = Annotated[int, Query(ge=0, le=ID_MAX, description="the last message id the page has")]


class FeedButton(BaseModel):
    title: str
    payload: str


class FeedMessage(BaseModel):
    id: int
    text: str
    author: Literal["operator", "notice"]
    at: str
    buttons: list[FeedButton] = []  # e.g. the rating asked when an operator ends the service


class Feed(BaseModel):
    messages: list[FeedMessage]
    state: Literal["bot", "waiting_human", "human"]
    position: int | None = None  # place in the queue while waiting
    expected_wait_minutes: int | None = None


def _message(turn: ConversationTurn) -> FeedMessage:
    text = "\n".join(r.get("text") or "" for r in turn.bot_replies)
    author: Literal["operator", "notice"] = "notice" if turn.operator == "system" else "operator"
    buttons = [FeedButton(**b) for r in turn.bot_replies for b in r.get("buttons") or []]
    return FeedMessage(id=turn.id, text=text, author=author, at=turn.received_at.isoformat(),
                       buttons=buttons)  # fmt: skip


def _feed(settings: Settings, conversation: str, after: int) -> Feed:
    url = settings.database_url
    messages = [_message(t) for t in to_citizen_after(url, conversation, after)]
    item = queue.open_for(url, conversation)
    if item is None:
        return Feed(messages=messages, state="bot")
    if item.status == "active":
        return Feed(messages=messages, state="human")
    place = intake.place_of(settings, item)
    return Feed(messages=messages, state="waiting_human",
                position=place.position if place else None,
                expected_wait_minutes=place.expected_wait_minutes if place else None)  # fmt: skip


@router.get("/{sender}/messages", response_model=Feed)
async def messages(request: Request, sender: Sender, after: After = 0) -> Feed:
    """Messages for the citizen after id `after`, and the conversation's state."""
    settings: Settings = request.app.state.settings
    return await asyncio.to_thread(_feed, settings, conversation_id("web", sender), after)


@router.get("/{sender}/events", response_class=StreamingResponse)
async def events(
    request: Request,
    sender: Sender,
    after: After = 0,
    max_seconds: Annotated[float, Query(ge=0, le=3600)] = 300,
) -> StreamingResponse:
    """Server-sent events: `message` {"id", "text", "author", "at"} for each new message (the
    event id is the message id), `state` {"state", "position", "expected_wait_minutes"} when it
    changes. The stream ends after `max_seconds`; EventSource reconnects with Last-Event-ID."""
    settings: Settings = request.app.state.settings
    conversation = conversation_id("web", sender)
    cursor = sse.last_event_id(request, after)
    sent_state: dict[str, Any] = {}

    async def fetch() -> list[str]:
        nonlocal cursor
        feed = await asyncio.to_thread(_feed, settings, conversation, cursor)
        frames = [sse.event("message", m.model_dump(), m.id) for m in feed.messages]
        if feed.messages:
            cursor = feed.messages[-1].id
        state = feed.model_dump(exclude={"messages"})
        if state != sent_state:
            sent_state.clear()
            sent_state.update(state)
            frames.append(sse.event("state", state))
        return frames

    topics = (live.conversation_topic(conversation), live.QUEUE)
    return sse.response(request, topics, fetch, max_seconds)
