"""POST /api/v1/triage: what the hotline would do with a citizen's message, without doing it.

For systems that put their own front end on the hotline (a government app, a partner's chat) and
for the operators' tools: the same typed decision the chat and the phone act on (triage/), as
JSON. Nothing is stored and no order is made; the conversation context is what the caller sends.
Like the knowledge search it reveals no citizen data, so it is open to the same callers.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from gateway.auth import public
from gateway.errors import CitizenText, check_length
from hotline.settings import Channel, Settings
from triage import Context, get_triage

router = APIRouter(prefix="/api/v1", tags=["triage"], dependencies=[Depends(public)])


class TriageRequest(BaseModel):
    text: CitizenText = Field(description="what the citizen typed or said")
    channel: Channel = "api"
    topic: str | None = Field(default=None, description="id of the entry answered last")
    misses: int = Field(default=0, ge=0, le=10, description="misunderstandings in a row so far")


@router.post(
    "/triage",
    responses={422: {"description": "empty or too long text, unknown channel, bad JSON"}},
)
async def triage(body: TriageRequest, request: Request) -> dict[str, Any]:
    """The decision (kind: answer, clarify, abstain, order_draft, handoff, emergency, status,
    service_hours; handoff: whether a person must take over) with the kind's fields."""
    settings: Settings = request.app.state.settings
    check_length("text", body.text, settings.max_text_chars)
    context = Context(channel=body.channel, topic=body.topic, misses=body.misses)
    decision = await asyncio.to_thread(get_triage(settings).decide, body.text, context)
    return decision.public()
