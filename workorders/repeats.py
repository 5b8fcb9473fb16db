"""重复诉求: find earlier orders about the same issue and link the new one to them.

An earlier order is a repeat candidate when it is open, or was created within the window, and
either comes from the same citizen (phone or WeChat openid) or concerns the same place (same
district, or addresses sharing a long enough run of characters). It is linked when its request
says the same thing: the cosine of the two requests' embeddings (the knowledge part's model)
reaches the threshold — lower for the same citizen, who often words a repeat call differently.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import or_, select

from hotline.db import session_scope
from workorders import store
from workorders.model import WorkOrder
from workorders.states import Actor, Status

log = logging.getLogger(__name__)

Encoder = Callable[[Sequence[str]], np.ndarray]  # texts -> normalised embeddings


@dataclass(frozen=True)
class RepeatPolicy:
    """Cosine thresholds for multilingual-e5-small, whose scores cluster high: on hand-made pairs
    the same issue reworded scored 0.94-0.98, different issues at the same place 0.92-0.95 (the
    shared place words lift them) and different issues of one citizen 0.86-0.89. Recalibrate
    on a centre's own labelled repeat pairs, and for any other model."""

    window_days: int = 30
    same_citizen: float = 0.92  # same phone/openid
    same_place: float = 0.96  # same district or address
    max_candidates: int = 50


CLOSED = (Status.CLOSED.value, Status.VISITED.value, Status.MERGED.value)


def _shares_place(a: str | None, b: str | None, run: int = 4) -> bool:
    """Two addresses name the same place if they share `run` consecutive characters."""
    if not a or not b:
        return False
    return any(a[i : i + run] in b for i in range(len(a) - run + 1))


def candidates(url: str, order: WorkOrder, policy: RepeatPolicy) -> list[WorkOrder]:
    since = order.created_at - timedelta(days=policy.window_days)
    who = [
        WorkOrder.citizen_phone == order.citizen_phone if order.citizen_phone else None,
        WorkOrder.wechat_openid == order.wechat_openid if order.wechat_openid else None,
        WorkOrder.district == order.district if order.district else None,
        WorkOrder.address.is_not(None) if order.address else None,
    ]
    conds = [c for c in who if c is not None]
    if not conds:
        return []
    stmt = (
        select(WorkOrder)
        .where(WorkOrder.id != order.id, WorkOrder.created_at <= order.created_at)
        .where(or_(WorkOrder.status.not_in(CLOSED), WorkOrder.created_at >= since))
        .where(or_(*conds))
        .order_by(WorkOrder.created_at.desc())
        .limit(policy.max_candidates * 4)
    )
    with session_scope(url) as s:
        rows = list(s.scalars(stmt))
    keep = [r for r in rows if _same_citizen(order, r) or _same_place(order, r)]
    return keep[: policy.max_candidates]


def _same_citizen(a: WorkOrder, b: WorkOrder) -> bool:
    return bool(
        (a.citizen_phone and a.citizen_phone == b.citizen_phone)
        or (a.wechat_openid and a.wechat_openid == b.wechat_openid)
    )


def _same_place(a: WorkOrder, b: WorkOrder) -> bool:
    return bool(a.district and a.district == b.district) or _shares_place(a.address, b.address)


def find_repeats(
    url: str, number: str, encode: Encoder, policy: RepeatPolicy | None = None
) -> list[tuple[str, float]]:
    """(number, similarity) of earlier orders about the same issue, most similar first."""
    policy = policy or RepeatPolicy()
    order = store.get(url, number)
    pool = candidates(url, order, policy)
    if not pool:
        return []
    vectors = encode([order.request_text, *(c.request_text for c in pool)])
    sims = vectors[1:] @ vectors[0]
    found = []
    for cand, sim in zip(pool, sims, strict=True):
        threshold = policy.same_citizen if _same_citizen(order, cand) else policy.same_place
        if sim >= threshold:
            found.append((cand.number, float(sim)))
    return sorted(found, key=lambda pair: -pair[1])


def link_repeats(
    url: str, number: str, encode: Encoder, policy: RepeatPolicy | None = None,
    now: datetime | None = None,
) -> list[str]:  # fmt: skip
    """Find and link repeats of a new order; returns the linked numbers (shown to operators)."""
    linked = []
    for other, sim in find_repeats(url, number, encode, policy):
        note = f"疑似重复诉求（相似度{sim:.2f}）"
        store.link(url, number, other, Actor.system("repeats"), note=note, now=now)
        linked.append(other)
    return linked


def link_repeats_quietly(
    url: str, number: str, encode: Encoder, now: datetime | None = None
) -> list[str]:
    """link_repeats for a freshly stored order: a failure is logged, never raised, because the
    order is already stored and confirmed; an operator can still link repeats by hand.
    intake.submit calls it for every channel; nothing else should."""
    try:
        return link_repeats(url, number, encode, now=now)
    except Exception:
        log.exception("repeat detection failed for %s", number)
        return []
