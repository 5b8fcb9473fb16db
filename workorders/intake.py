"""How a request from any channel becomes a stored work order: 智能派单 proposal, durable insert,
auto-dispatch when the router is sure, the emergency flag, and repeat links.

Every channel (the dialogue in actions/, the REST API, voice) calls `submit`, so all orders get
the same treatment; the confirmation may be sent to the citizen only after it returns, because
the order is committed by then. What `submit` needs comes in as arguments: the settings (which
router: HOTLINE_ROUTER_DIR or the table's), the embedding function for repeat detection.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from hotline.settings import Settings, get_settings
from workorders import pictures, store
from workorders.config import WorkOrderConfig, default_config
from workorders.emergency import is_emergency
from workorders.idempotency import checked_key, idempotency_key, order_with_key, same_request
from workorders.model import WorkOrder
from workorders.repeats import Encoder, link_repeats_quietly
from workorders.router_source import process_router, router_state
from workorders.routing import Router, Routing, route
from workorders.states import Action, Actor, Role, Status
from workorders.store import Draft

__all__ = [
    "AUTO_DISPATCHER",
    "idempotency_key",
    "process_router",
    "propose",
    "router_state",
    "submit",
]

log = logging.getLogger(__name__)

AUTO_DISPATCHER = Actor(Role.CENTRE, "智能派单")


def propose(
    text: str,
    router: Router,
    config: WorkOrderConfig,
    address: str | None = None,
    district: str | None = None,
) -> Routing | None:
    """The router's category/department/district for a request; None if the router fails (the
    order is then stored unrouted and an operator dispatches it)."""
    try:
        return route(text, router, config, address, district)
    except Exception:
        log.exception("routing failed; the order goes to the operators unrouted")
        return None


def submit(
    url: str,
    draft: Draft,
    idempotency_key: str | None = None,
    *,
    settings: Settings | None = None,
    router: Router | None = None,
    encode: Encoder | None = None,
    routing: Routing | None = None,
    auto_route: bool = True,
    config: WorkOrderConfig | None = None,
    now: datetime | None = None,
) -> WorkOrder:
    """Route, store, dispatch when the router is sure (never an emergency), link repeats.

    - `router`: the router to use; default the process's router for `settings`
      (HOTLINE_ROUTER_DIR, else the table's), loaded only when needed.
    - `encode`: the embedding function (knowledge service's `encode`) for repeat detection;
      None skips it.
    - `routing`: a proposal made already; `auto_route=False` leaves the order to the centre's
      operators (e.g. a callback request). Either way an emergency text is flagged.
    - A category or department in the draft is the caller's choice and is kept; the router then
      only fills what is missing, and the order waits for an operator.

    A retry with the same `idempotency_key` returns the order the first call made, without
    routing, dispatching or linking again. Raises store.InvalidField for bad citizen input and
    store.IdempotencyConflict for a key reused for another request; routing problems never lose
    the order.
    """
    key = checked_key(idempotency_key)
    if key and (existing := order_with_key(url, key)) is not None:
        return same_request(existing, draft.request_text)
    cfg = config or default_config()
    if routing is None and auto_route:
        routing = _propose(draft, router, settings, cfg)
    chosen = bool(draft.category or draft.department)
    emergency = (routing.emergency if routing else None) or is_emergency(draft.request_text)
    update, record = _apply(draft, routing, emergency, cfg)
    order, created = store.get_or_create(
        url, draft.model_copy(update=update), key, now=now, config=cfg, routing=record
    )
    if not created:  # a concurrent retry of the same key stored it first
        return order
    if order.conversation_id:  # pictures sent before it (WeChat) go with it
        pictures.attach_pending(url, order.conversation_id, order.number)
    sure = routing is not None and routing.gate == "auto"
    if sure and not emergency and not chosen and order.department:
        order = _dispatch(url, order, now, cfg)
    if encode is not None:
        link_repeats_quietly(url, order.number, encode, now=now)
    return order


def _category_of(department: str, routing: Routing, cfg: WorkOrderConfig) -> str | None:
    by_name = {c.name: c for c in cfg.categories}
    for name in [routing.category, *(c for c, _ in routing.top3)]:
        cat = by_name.get(name or "")
        district_unit = cat is not None and cat.level == "区县" and department.endswith("人民政府")
        if cat is not None and (cat.department == department or district_unit):
            return cat.name
    return None


def _propose(
    draft: Draft, router: Router | None, settings: Settings | None, cfg: WorkOrderConfig
) -> Routing | None:
    try:
        router = router or process_router(settings or get_settings(), cfg)
    except Exception:
        log.exception("no router; the order goes to the operators unrouted")
        return None
    return propose(draft.request_text, router, cfg, draft.address, draft.district)


def _apply(
    draft: Draft, routing: Routing | None, emergency: str | None, cfg: WorkOrderConfig
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The draft's fields the routing fills (never one the caller gave), the emergency
    priority, and the record of the proposal kept in the order's first event."""
    update: dict[str, Any] = {}
    if emergency:
        update["priority"] = "emergency"
    if routing is None:
        return update, {"emergency": emergency} if emergency else None
    if routing.department and not (draft.category or draft.department):
        update.update(category=routing.category, department=routing.department)
    elif draft.department and not draft.category:
        # The caller chose the unit: the router's likeliest type that unit handles, so the
        # order can be dispatched (派单前须确定工单类型); none of them, and an operator picks.
        update["category"] = _category_of(draft.department, routing, cfg)
    if routing.district and not draft.district:
        update["district"] = routing.district
    record = {
        "category": routing.category,
        "department": routing.department,
        "district": routing.district,
        "confidence": round(routing.confidence, 4),
        "gate": "manual" if emergency else routing.gate,
        "emergency": emergency,
    }
    return update, record


def _dispatch(url: str, order: WorkOrder, now: datetime | None, cfg: WorkOrderConfig) -> WorkOrder:
    if order.status != Status.PENDING.value:
        return order
    try:
        return store.transition(
            url, order.number, Action.DISPATCH, AUTO_DISPATCHER, now=now, config=cfg
        )
    except store.WorkOrderError:
        log.exception("auto-dispatch of %s failed; it waits for an operator", order.number)
        return order
