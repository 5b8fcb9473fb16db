"""How a request from a channel becomes a stored work order: 智能派单 proposal, durable insert,
auto-dispatch when the router is sure, and the emergency flag.

The dialogue (actions/) and any other channel call `submit`; the confirmation may be sent to the
citizen only after it returns, because the order is committed by then.
"""

from __future__ import annotations

import logging
import threading
from functools import lru_cache

from workorders import store
from workorders.config import WorkOrderConfig, default_config
from workorders.model import WorkOrder
from workorders.routing import Router, Routing, default_router, route
from workorders.states import Action, Actor, Role, Status
from workorders.store import Draft

log = logging.getLogger(__name__)

AUTO_DISPATCHER = Actor(Role.CENTRE, "智能派单")
_lock = threading.Lock()


@lru_cache(maxsize=1)
def _router() -> Router:
    return default_router(default_config())


def router() -> Router:
    """The process's router, trained from the responsibility table on first use (then cached)."""
    with _lock:
        return _router()


def propose(
    text: str, address: str | None = None, config: WorkOrderConfig | None = None
) -> Routing | None:
    """The router's category/department/district for a request; None if the router fails (the
    order is then stored unrouted and an operator dispatches it)."""
    try:
        return route(text, router(), config or default_config(), address)
    except Exception:
        log.exception("routing failed; the order goes to the operators unrouted")
        return None


def submit(
    url: str,
    draft: Draft,
    idempotency_key: str | None = None,
    *,
    routing: Routing | None = None,
    auto_route: bool = True,
) -> WorkOrder:
    """Route, store and (when the router is sure and it is no emergency) dispatch an order.

    Raises store.InvalidField for bad citizen input; routing problems never lose the order.
    `auto_route=False` leaves the order to the centre's operators (e.g. a callback request).
    """
    if routing is None and auto_route:
        routing = propose(draft.request_text, draft.address)
    update: dict[str, object] = {}
    if routing:
        if routing.department:
            update.update(category=routing.category, department=routing.department)
        if routing.district:
            update["district"] = routing.district
        if routing.emergency:
            update["priority"] = "emergency"
    order = store.create(url, draft.model_copy(update=update), idempotency_key=idempotency_key)
    if (
        routing
        and routing.gate == "auto"
        and order.status == Status.PENDING.value
        and order.department
    ):
        try:
            order = store.transition(url, order.number, Action.DISPATCH, AUTO_DISPATCHER)
        except store.WorkOrderError:
            log.exception("auto-dispatch of %s failed; it waits for an operator", order.number)
    return order
