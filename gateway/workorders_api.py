"""/api/v1/work-orders: create (idempotent), list with filters, show with timeline, act on one.

Who acts is named in the request body (`actor`) until the console issue brings authentication
(department names are Chinese, which HTTP headers cannot carry). The store already refuses a
department acting on another department's order.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from hotline.settings import Settings
from knowledge.service import get_service
from workorders import intake, store
from workorders.queries import OrderFilter
from workorders.states import Actor, IllegalTransition, NotPermitted, WorkOrderError

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


class ActorIn(BaseModel):
    role: Literal["centre", "department"] = "centre"
    department: str | None = Field(default=None, description="required when role is department")
    name: str = ""

    def actor(self) -> Actor:
        if self.role == "centre":
            return Actor.centre(self.name or "centre")
        if not self.department:
            raise HTTPException(422, "actor.department is required when actor.role is department")
        return Actor.of_department(self.department, self.name)


@router.post("", status_code=201)
def create(
    request: Request,
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
    return {
        "order": order.to_dict(now=datetime.now(UTC)),
        "routing": first.data.get("routing"),
        "related": store.related(url, order.number),
    }


@router.get("")
def list_orders(
    request: Request,
    status: Annotated[list[str] | None, Query()] = None,
    department: str | None = None,
    warning: Annotated[list[str] | None, Query(description="none|yellow|orange|red")] = None,
    created_from: date | None = None,
    created_to: date | None = None,
    q: Annotated[str | None, Query(description="text in the request or summary")] = None,
    phone: str | None = None,
    category: str | None = None,
    district: str | None = None,
    conversation_id: Annotated[
        str | None, Query(description="channel:sender, e.g. web:u1 (the chat that made it)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    now = datetime.now(UTC)
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


@router.get("/{number}")
def show(request: Request, number: str) -> dict[str, Any]:
    url = _url(request)
    try:
        order = store.get(url, number)
        events = store.timeline(url, order.number)
        related = store.related(url, order.number)
    except WorkOrderError as exc:
        raise _error(exc) from exc
    return {
        "order": order.to_dict(now=datetime.now(UTC)),
        "timeline": [e.to_dict() for e in events],
        "related": related,
    }


class ActionBody(BaseModel):
    actor: ActorIn = Field(default_factory=ActorIn)
    note: str | None = Field(default=None, description="reason, reply text or remark")
    data: dict[str, Any] = Field(
        default_factory=dict,
        description="action inputs, e.g. department for dispatch, satisfaction for rate, "
        "into for merge, days for an extension",
    )


@router.post("/{number}/{action}")
def act(
    request: Request,
    number: str,
    action: str,
    body: Annotated[ActionBody, Body()] = ActionBody(),  # noqa: B008
) -> JSONResponse:
    """sign, feedback, close, rate (回访), merge, dispatch, return (退单), extension… (English
    or Chinese names). Illegal in the current state → 409; not this actor's order → 403."""
    actor = body.actor.actor()
    try:
        order = store.transition(_url(request), number, action, actor, body.note, **body.data)
    except WorkOrderError as exc:
        raise _error(exc) from exc
    except (TypeError, ValueError) as exc:  # unknown action, or an input it does not take
        raise HTTPException(422, str(exc)) from exc
    return JSONResponse({"order": order.to_dict(now=datetime.now(UTC))})
