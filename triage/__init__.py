"""Triage: the one place that decides what happens to a citizen's message on every channel.

Channels (the Rasa actions for web chat and WeChat, the REST API, the phone through the same
actions) ask `get_triage(settings).decide(text, Context(...))` and render the typed decision
(triage/decisions.py) in their own medium. Triage uses `knowledge` and `workorders`; it knows no
channel protocol and no Rasa types.
"""

from __future__ import annotations

import threading

from hotline.settings import Settings
from triage.decisions import (
    AboutBot,
    Abstain,
    Answer,
    Calm,
    Clarify,
    Decision,
    Emergency,
    Handoff,
    OrderDraft,
    ServiceHours,
    StatusQuery,
)
from triage.policy import Context, Triage
from workorders.routing import Routing

__all__ = [
    "AboutBot",
    "Abstain",
    "Answer",
    "Calm",
    "Clarify",
    "Context",
    "Decision",
    "Emergency",
    "Handoff",
    "OrderDraft",
    "ServiceHours",
    "StatusQuery",
    "Triage",
    "get_triage",
]

_instances: dict[str, Triage] = {}
_lock = threading.Lock()


def get_triage(settings: Settings) -> Triage:
    """The process's triage for these settings (the knowledge service and router load once)."""
    from knowledge.service import get_service
    from workorders import intake
    from workorders.config import default_config
    from workorders.router_source import process_router

    def propose(text: str, address: str | None) -> Routing | None:
        return intake.propose(text, process_router(settings), default_config(), address)

    with _lock:
        found = _instances.get(settings.database_url)
        if found is None:
            found = Triage(get_service(settings), propose)
            _instances[settings.database_url] = found
        return found
