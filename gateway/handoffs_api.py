"""The operators' handoff API (operators and admins; the console uses it too):
`/api/v1/handoffs` (the queue by status, one conversation with its transcript and agent assist,
server-sent events for the console) with accept (409 when another operator has it), messages,
release and close, and `POST /api/v1/operators/me/status` (presence)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from accounts.roles import Role
from accounts.users import Principal
from gateway import sse, takeover
from gateway.auth import allow, audit_of, settings_of
from gateway.errors import ID_MAX, CitizenText, RowId, check_length
from gateway.outbound import outbound_of
from handoffs import intake, live, presence, queue
from handoffs.model import Handoff
from hotline.conversations import ConversationTurn, turns_of
from hotline.settings import Settings
from hotline.zh import normalise_text
from knowledge.service import get_service
from triage.wording import asks_for_person
from workorders import intake as order_intake
from workorders.model import WorkOrder, mask_name, mask_phone
from workorders.store import Draft, InvalidField

router = APIRouter(prefix="/api/v1", tags=["handoffs"])
OPERATORS = allow(Role.OPERATOR, Role.ADMIN)
Operator = Annotated[Principal, Depends(OPERATORS)]
Status = Literal["pending", "active", "closed"]


class HandoffOut(BaseModel):
    id: int
    conversation_id: str
    channel: str
    reason: str
    status: Status
    summary: dict[str, Any]
    waiting_seconds: int
    position: int | None = Field(description="place in the queue while pending (1 = next)")
    operator: str | None
    created_at: str
    accepted_at: str | None
    closed_at: str | None


class HandoffList(BaseModel):
    items: list[HandoffOut]
    available_operators: int
    my_status: Literal["available", "away"]


class Line(BaseModel):
    id: int
    author: Literal["citizen", "bot", "operator", "notice"]
    text: str
    at: str


class AssistEntry(BaseModel):
    id: str
    title: str
    answer: str
    score: float


class Conversation(BaseModel):
    handoff: HandoffOut
    transcript: list[Line]
    assist: list[AssistEntry]
    assist_for: str | None = Field(description="the citizen's message the entries answer")
    draft: dict[str, Any] = Field(description="the bot's work-order draft, contact data masked")


class TextIn(BaseModel):
    text: CitizenText


class OrderIn(BaseModel):
    """The work order an operator makes from the conversation; what is left out is taken from
    what the bot collected (the phone among it, so the operator need not see it whole)."""

    request_text: CitizenText
    kind: Literal["咨询", "求助", "投诉", "举报", "建议", "表扬"] = "求助"
    address: str | None = Field(default=None, max_length=200)
    citizen_name: str | None = Field(default=None, max_length=50)
    citizen_phone: str | None = Field(default=None, max_length=32)


class PresenceIn(BaseModel):
    status: Literal["available", "away"]


def _out(item: Handoff, position: int | None = None, now: datetime | None = None) -> HandoffOut:
    def iso(t: datetime | None) -> str | None:
        return t.isoformat() if t else None

    return HandoffOut(
        id=item.id, conversation_id=item.conversation_id, channel=item.channel,
        reason=item.reason, status=item.status,  # type: ignore[arg-type]  # checked by the table
        summary=item.summary, waiting_seconds=queue.waiting_seconds(item, now),
        position=position, operator=item.operator, created_at=item.created_at.isoformat(),
        accepted_at=iso(item.accepted_at), closed_at=iso(item.closed_at),
    )  # fmt: skip


def _touch(settings: Settings, user: Principal) -> None:
    presence.touch(settings.database_url, user.name)


def _listing(settings: Settings, user: Principal, status: str, mine: bool) -> HandoffList:
    url = settings.database_url
    _touch(settings, user)
    items = queue.listed(url, status, user.name if mine else None)
    now = datetime.now(UTC)
    out = [_out(h, n if status == "pending" else None, now) for n, h in enumerate(items, 1)]
    idle = intake.idle_limit(settings)
    return HandoffList(items=out, available_operators=presence.available_count(url, idle),
                       my_status=presence.status_of(url, user.name, idle))  # type: ignore[arg-type]  # fmt: skip


@router.get("/handoffs", response_model=HandoffList)
async def list_handoffs(
    request: Request,
    user: Operator,
    status: Status = "pending",
    mine: Annotated[bool, Query(description="only the signed-in operator's")] = False,
) -> HandoffList:
    """The queue (pending, oldest first, with positions), the conversations with operators
    (active) or the last closed ones (newest first)."""
    return await asyncio.to_thread(_listing, settings_of(request), user, status, mine)


@router.get("/handoffs/events", response_class=StreamingResponse)
async def handoff_events(
    request: Request,
    user: Operator,
    conversation: Annotated[
        int | None, Query(ge=1, le=ID_MAX, description="also this handoff's messages")
    ] = None,
    max_seconds: Annotated[float, Query(ge=0, le=3600)] = 300,
) -> StreamingResponse:
    """Server-sent events for the console: `changed` {"version"} whenever the queue changes
    or (with `conversation`) a message of that conversation arrives; the console refetches."""
    topics = [live.QUEUE]
    if conversation is not None:
        try:
            item = await asyncio.to_thread(queue.get, settings_of(request).database_url,
                                           conversation)  # fmt: skip
        except queue.NotFound:
            raise HTTPException(404, f"no handoff {conversation}") from None
        topics.append(live.conversation_topic(item.conversation_id))
    version = [0]

    async def fetch() -> list[str]:
        version[0] += 1
        return [sse.event("changed", {"version": version[0]})]

    return sse.response(request, tuple(topics), fetch, max_seconds)


def _author(turn: ConversationTurn) -> list[Line]:
    at = turn.received_at.isoformat()
    if turn.operator is not None:
        who: Literal["operator", "notice"] = (
            "notice" if turn.operator == takeover.NOTICE else "operator"
        )
        return [
            Line(id=turn.id, author=who, text=r.get("text") or "", at=at) for r in turn.bot_replies
        ]
    lines = (
        [Line(id=turn.id, author="citizen", text=turn.user_text, at=at)] if turn.user_text else []
    )
    lines += [Line(id=turn.id, author="bot", text=r.get("text") or "", at=at)
              for r in turn.bot_replies if r.get("text")]  # fmt: skip
    return lines


def _conversation(settings: Settings, user: Principal, handoff_id: RowId) -> Conversation:
    url = settings.database_url
    _touch(settings, user)
    item = queue.get(url, handoff_id)
    turns = turns_of(url, item.conversation_id)
    transcript = [line for t in turns for line in _author(t)]
    # The citizen's last message about their matter: not the request for a person (转人工
    # found 转学 and 养老保险转移 for the operator), not a button's payload.
    last = next((t.user_text for t in reversed(turns) if t.user_text and t.operator is None
                 and not t.user_text.startswith("/")
                 and not asks_for_person(normalise_text(t.user_text))), None)  # fmt: skip
    assist: list[AssistEntry] = []
    if last:
        outcome = get_service(settings).search(last, k=3)
        assist = [AssistEntry(id=r.entry.id, title=r.entry.question, answer=r.entry.answer,
                              score=round(r.score, 3)) for r in outcome.results]  # fmt: skip
    position = None
    if item.status == "pending":
        place = intake.place_of(settings, item)
        position = place.position if place else None
    draft = dict(item.draft or {})
    draft["citizen_phone"] = mask_phone(draft.get("citizen_phone"))
    draft["citizen_name"] = mask_name(draft.get("citizen_name"))
    return Conversation(handoff=_out(item, position), transcript=transcript, assist=assist,
                        assist_for=last, draft=draft)  # fmt: skip


@router.get("/handoffs/{handoff_id}", response_model=Conversation)
async def show_handoff(request: Request, user: Operator, handoff_id: RowId) -> Conversation:
    """One handoff: its summary, the whole transcript (bot turns, the citizen, operators) and
    agent assist (the best knowledge entries for the citizen's last message)."""
    try:
        return await asyncio.to_thread(_conversation, settings_of(request), user, handoff_id)
    except queue.NotFound as exc:
        raise HTTPException(404, str(exc)) from None


async def _act(request: Request, user: Principal, handoff_id: int, action: str) -> HandoffOut:
    settings = settings_of(request)
    url, rasa = settings.database_url, request.app.state.rasa
    owner = None if user.role is Role.ADMIN else user.name  # an admin may end anyone's
    await asyncio.to_thread(_touch, settings, user)
    out = outbound_of(request.app)
    try:
        if action == "accept":
            item = await takeover.accept(url, rasa, handoff_id, user.name, out)
        elif action == "release":
            item = await takeover.release(url, rasa, handoff_id, owner, out)
        else:
            item = await takeover.close(url, rasa, handoff_id, owner, out)
    except queue.NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except queue.Conflict as exc:
        raise HTTPException(409, str(exc)) from None
    return _out(item)


Responses = dict[int | str, dict[str, Any]]
TAKEN: Responses = {409: {"description": "another operator has it, or it is closed"}}
NOT_YOURS: Responses = {409: {"description": "not this operator's active conversation"}}


@router.post("/handoffs/{handoff_id}/accept", response_model=HandoffOut, responses=TAKEN)
async def accept(request: Request, user: Operator, handoff_id: RowId) -> HandoffOut:
    """Take the conversation (接入): the bot goes silent, the citizen is told."""
    return await _act(request, user, handoff_id, "accept")


@router.post("/handoffs/{handoff_id}/release", response_model=HandoffOut)
async def release(request: Request, user: Operator, handoff_id: RowId) -> HandoffOut:
    """Give the conversation back to the bot (转回智能客服)."""
    return await _act(request, user, handoff_id, "release")


@router.post("/handoffs/{handoff_id}/close", response_model=HandoffOut)
async def close(request: Request, user: Operator, handoff_id: RowId) -> HandoffOut:
    """End the handoff (结束服务); the citizen may go on with the bot."""
    return await _act(request, user, handoff_id, "close")


@router.post("/handoffs/{handoff_id}/messages", status_code=201, responses=NOT_YOURS)
async def send_message(
    request: Request, user: Operator, handoff_id: RowId, body: TextIn
) -> dict[str, int]:
    """The operator's reply: stored in the conversation log and delivered to the citizen (web
    chat: its event stream and polling; WeChat: a customer-service message, and when WeChat
    refuses it a notice in the transcript). Only the operator who accepted it may write."""
    settings = settings_of(request)
    check_length("text", body.text, settings.max_text_chars)
    url = settings.database_url

    def deliver() -> tuple[int, Handoff]:  # one worker-thread hop for the whole write path
        item = queue.get(url, handoff_id)
        if item.status != "active" or item.operator != user.name:
            raise HTTPException(409, f"handoff {handoff_id} is not your active conversation")
        if item.channel == "voice":
            raise HTTPException(409, "a phone call is answered on the phone, not by text")
        _touch(settings, user)
        return takeover.tell_citizen_now(url, item, body.text, user.name), item

    try:
        row, item = await asyncio.to_thread(deliver)
    except queue.NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    await outbound_of(request.app).to_citizen(item, body.text, user.name)
    return {"id": row}


@router.post("/handoffs/{handoff_id}/order", status_code=201, responses=NOT_YOURS)
async def make_order(
    request: Request, user: Operator, handoff_id: RowId, body: OrderIn
) -> dict[str, Any]:
    """Create the work order from the conversation (登记工单), prefilled from the bot's draft:
    the same intake as every channel (routing, repeats), linked to the conversation; the
    citizen is told its number. Only the operator who has the conversation."""
    settings = settings_of(request)
    url = settings.database_url
    try:
        item = await asyncio.to_thread(queue.get, url, handoff_id)
    except queue.NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    if item.status != "active" or item.operator != user.name:
        raise HTTPException(409, f"handoff {handoff_id} is not your active conversation")
    known = item.draft or {}
    draft = Draft(
        channel=item.channel, request_text=body.request_text, kind=body.kind,
        citizen_name=body.citizen_name or known.get("citizen_name"),
        citizen_phone=body.citizen_phone or known.get("citizen_phone"),
        address=body.address or known.get("address"), conversation_id=item.conversation_id,
    )  # fmt: skip
    key = order_intake.idempotency_key(item.conversation_id, "handoff", str(item.id),
                                       body.request_text)  # fmt: skip

    def submit() -> WorkOrder:
        return order_intake.submit(url, draft, key, settings=settings,
                                   encode=get_service(settings).encode)  # fmt: skip

    try:
        order = await asyncio.to_thread(submit)
    except InvalidField as exc:
        raise HTTPException(422, {"field": exc.field, "message": str(exc)}) from None
    await asyncio.to_thread(queue.note_order, url, item.id, order.number)
    await asyncio.to_thread(audit_of, request, user, "order.create", order.number,
                            channel=order.channel, handoff=item.id)  # fmt: skip
    told = f"话务员已为您登记工单，工单号{order.number}，办理进展可凭工单号查询。"
    await takeover.tell_citizen(url, item, told, user.name, outbound=outbound_of(request.app))
    return {"order": order.to_dict(now=datetime.now(UTC))}


@router.post("/operators/me/status")
async def my_status(request: Request, user: Operator, body: PresenceIn) -> dict[str, Any]:
    """Presence (在线 / 离开). "available" lapses to away after HOTLINE_OPERATOR_IDLE_MINUTES
    without any call of this API or the console."""
    settings = settings_of(request)
    await asyncio.to_thread(presence.set_status, settings.database_url, user.name, body.status)
    live.hub().publish(live.QUEUE, {"type": "presence"})
    return {"operator": user.name, "status": body.status,
            "idle_minutes": settings.operator_idle_minutes}  # fmt: skip
