"""Work-order domain: model, numbering, life cycle, store, working calendar and SLA clocks.

Public entry points::

    from workorders import store, sla
    order = store.create(url, {"channel": "web", "request_text": "…", "kind": "投诉"})
    store.transition(url, order.number, "派单", Actor.centre("1001"), category="城市管理")
    sla.scan(url)  # records 催办 / 超期督办 events, safe to run from several workers
"""

from workorders.states import (
    Action,
    Actor,
    IllegalTransition,
    NotPermitted,
    Role,
    Status,
    WorkOrderError,
)

__all__ = [
    "Action",
    "Actor",
    "IllegalTransition",
    "NotPermitted",
    "Role",
    "Status",
    "WorkOrderError",
]
