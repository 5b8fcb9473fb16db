"""/api/v1/work-orders: create (idempotent), list with filters, show with timeline, act on one.

Every route needs a signed-in user (gateway/auth.py). Who acts is the signed-in user, never the
request body: a department user acts as its department, admins and operators as the centre; a
manager reads everything and changes nothing. A department user sees its own department's
orders only, and another department's order answers 404, as an unknown one does, so numbers
cannot be probed. Contact data is masked unless `reveal=true` by a role that handles the order;
every reveal and every change is in the audit log.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from anyio import from_thread
from fastapi import APIRouter, Body, Depends, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from accounts.roles import CHANGE, REVEAL, Role
from accounts.users import Principal
from gateway import followups
from gateway.auth import allow, audit_of
from gateway.errors import ID_MAX
from hotline.settings import Settings
from knowledge.service import get_service
from workorders import edits, intake, store
from workorders.model import WorkOrder
from workorders.queries import OrderFilter
from workorders.states import (
    ACTION_EN,
    Action,
    Actor,
    IllegalTransition,
    NotPermitted,
    WorkOrderError,
    parse_action,
)

router = APIRouter(prefix="/api/v1/work-orders", tags=["work orders"])


def _url(request: Request) -> str:
    settings: Settings = request.app.state.settings
    return settings.database_url


def _error(exc: WorkOrderError) -> HTTPException:
    status = 422
    if isinstance(exc, store.OrderNotFound):
        status = 404
    elif isinstance(exc, NotPermitted):
        status = 403
    elif isinstance(exc, IllegalTransition | store.IdempotencyConflict):
        status = 409
    detail: Any = str(exc)
    if isinstance(exc, store.InvalidField):
        detail = {"field": exc.field, "message": str(exc)}
    return HTTPException(status, detail)


Reader = Annotated[Principal, Depends(allow(*Role))]
Operator = Annotated[Principal, Depends(allow(Role.ADMIN, Role.OPERATOR))]
Changer = Annotated[Principal, Depends(allow(*CHANGE))]


def actor_of(user: Principal) -> Actor:
    """The work-order actor of a signed-in user (a manager is never one)."""
    if user.role is Role.DEPARTMENT and user.department:
        return Actor.of_department(user.department, user.name)
    return Actor.centre(user.name)


def _visible(user: Principal, order: WorkOrder) -> WorkOrder:
    """The order, unless the user is another department's: then 404 as for an unknown one."""
    if user.role is Role.DEPARTMENT and order.department != user.department:
        raise HTTPException(404, f"no work order {order.number}")
    return order


@router.post("", status_code=201)
def create(
    request: Request,
    user: Operator,
    draft: store.Draft,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """Create an order the way every channel does (workorders.intake): routed by 智能派单 and
    dispatched when the router is sure, flagged when it is an emergency, linked to its repeats.
    A category or department given in the body is kept (the order then waits for an operator).
    A retry with the same Idempotency-Key returns the same order, routed and linked once."""
    settings: Settings = request.app.state.settings
    url = settings.database_url
    try:
        order = intake.submit(
            url,
            draft,
            idempotency_key,
            settings=settings,
            encode=get_service(settings).encode,
        )
    except WorkOrderError as exc:
        raise _error(exc) from exc
    first = store.timeline(url, order.number)[0]
    audit_of(request, user, "order.create", order.number, channel=order.channel)
    return {
        "order": order.to_dict(now=datetime.now(UTC)),
        "routing": first.data.get("routing"),
        "related": store.related(url, order.number),
    }


# A day the local time zone can convert to UTC and back (0001-01-01 cannot: a 500 otherwise).
Day = Annotated[date, Field(ge=date(1900, 1, 1), le=date(9999, 12, 30))]


@router.get("")
def list_orders(
    request: Request,
    user: Reader,
    status: Annotated[list[str] | None, Query()] = None,
    department: str | None = None,
    warning: Annotated[list[str] | None, Query(description="none|yellow|orange|red")] = None,
    created_from: Day | None = None,
    created_to: Day | None = None,
    q: Annotated[str | None, Query(description="text in the request or summary")] = None,
    phone: str | None = None,
    category: str | None = None,
    district: str | None = None,
    conversation_id: Annotated[
        str | None, Query(description="channel:sender, e.g. web:u1 (the chat that made it)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=ID_MAX)] = 0,
) -> dict[str, Any]:
    """Newest first, contact data masked. A department user's list is its own department's
    (asking for another department gives an empty list)."""
    now = datetime.now(UTC)
    if user.role is Role.DEPARTMENT:
        if department and department != user.department:
            return {"total": 0, "items": []}
        department = user.department
    try:
        where = OrderFilter(
            status=tuple(status) if status else None, department=department,
            warning=tuple(warning) if warning else None, created_from=created_from,
            created_to=created_to, text=q, phone=phone, category=category, district=district,
            conversation_id=conversation_id, as_of=now,
        )  # fmt: skip
        items = store.list_orders(_url(request), where, limit=limit, offset=offset)
        total = store.count_orders(_url(request), where)
    except WorkOrderError as exc:
        raise _error(exc) from exc
    return {"total": total, "items": [o.to_dict(now=now) for o in items]}


@router.get("/{number}", responses={403: {"description": "reveal=true by a manager"}})
def show(
    request: Request,
    user: Reader,
    number: str,
    reveal: Annotated[
        bool, Query(description="unmasked contact data (handling roles only; audited)")
    ] = False,
) -> dict[str, Any]:
    url = _url(request)
    if reveal and user.role not in REVEAL:
        raise HTTPException(403, f"the {user.role.value} role may not reveal contact data")
    try:
        order = _visible(user, store.get(url, number))
        events = store.timeline(url, order.number)
        related = store.related(url, order.number)
    except WorkOrderError as exc:
        raise _error(exc) from exc
    if reveal:
        fields = ("citizen_name", "citizen_phone", "wechat_openid")
        shown = [f for f in fields if getattr(order, f)]
        audit_of(request, user, "order.reveal", order.number, fields=shown)
    return {
        "order": order.to_dict(reveal=reveal, now=datetime.now(UTC)),
        "timeline": [e.to_dict() for e in events],
        "related": related,
    }


class EditBody(BaseModel):
    """The fields to correct; a field left out is kept."""

    model_config = ConfigDict(extra="forbid")

    request_text: str | None = Field(default=None, description="诉求内容, the citizen's words")
    address: str | None = Field(default=None, description="地址; an empty string clears it")
    category: str | None = Field(default=None, description="工单类型, one of the configured")
    citizen_phone: str | None = Field(default=None, description="a mobile or 区号-landline")
    note: str | None = Field(default=None, description="why it was corrected")


@router.patch(
    "/{number}",
    responses={409: {"description": "the order is 已办结, 已回访 or 已归并"}},
)
def edit(request: Request, user: Operator, number: str, body: EditBody) -> dict[str, Any]:
    """修改工单 (admin and operator): correct the request text, address, category or phone of
    an open order. Each change is a 修改 step in the timeline (old → new, phone numbers masked)
    and in the audit log; the same body again changes nothing and adds no step. Re-routing is
    not an edit: use return/approve_return and dispatch."""
    given = body.model_dump(exclude_unset=True)
    note = given.pop("note", None)
    url = _url(request)
    try:
        order, changed = edits.edit(url, number, actor_of(user), given, note)
    except WorkOrderError as exc:
        raise _error(exc) from exc
    if changed:
        audit_of(request, user, "order.edit", order.number, note=note,
                 changes=edits.described(changed))  # fmt: skip
    return {"order": order.to_dict(now=datetime.now(UTC)), "changed": sorted(changed)}


class ActionBody(BaseModel):
    note: str | None = Field(default=None, description="reason, reply text or remark")
    data: dict[str, Any] = Field(
        default_factory=dict,
        description="action inputs, e.g. department for dispatch, satisfaction for rate, "
        "into for merge, days for an extension",
    )


@router.post("/{number}/{action}")
def act(
    request: Request,
    user: Changer,
    number: str,
    action: str,
    body: Annotated[ActionBody, Body()] = ActionBody(),  # noqa: B008
) -> JSONResponse:
    """sign, feedback, close, rate (回访), merge, dispatch, return (退单), approve_return,
    refuse_return, urge, escalate, extension… (English or Chinese names), by the signed-in user;
    close also starts the 回访 on the citizen's channel. Illegal in the current state → 409;
    an action of another role → 403; another department's order → 404."""
    url = _url(request)
    try:
        _visible(user, store.get(url, number))
        order = store.transition(url, number, action, actor_of(user), body.note, **body.data)
    except WorkOrderError as exc:
        raise _error(exc) from exc
    except (TypeError, ValueError) as exc:  # unknown action, or an input it does not take
        raise HTTPException(422, str(exc)) from exc
    if parse_action(action) is Action.CLOSE:  # 办结 answers the citizen: 回访 on their channel
        from_thread.run(followups.start, request.app.state.settings, order.number)
    done = ACTION_EN[parse_action(action)].replace(" ", "_")
    audit_of(request, user, f"order.{done}", order.number, note=body.note, data=body.data)
    return JSONResponse({"order": order.to_dict(now=datetime.now(UTC))})
