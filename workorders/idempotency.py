"""Idempotent creation: a retried request (Rasa re-sending an action, a client resending a POST)
gets the order its first attempt made instead of a second one.

A caller that has no key of its own builds one from what identifies the request with
:func:`idempotency_key` (the conversation and the content, say): the same parts give the same
key in every process.
"""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import select

from hotline.db import session_scope
from workorders.inputs import InvalidField
from workorders.model import WorkOrder
from workorders.states import WorkOrderError

MAX_KEY = 128


class IdempotencyConflict(WorkOrderError, ValueError):
    """The idempotency key was already used for a different request."""


def idempotency_key(*parts: str) -> str:
    """A 32-character key for the request these parts identify (hex of SHA-256, unambiguous:
    ("a|b", "c") and ("a", "b|c") give different keys)."""
    blob = json.dumps(list(parts), ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


def checked_key(key: str | None) -> str | None:
    """The key as stored (stripped), None for none, InvalidField if empty or too long."""
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_KEY:
        raise InvalidField(
            "idempotency_key", f"须为1至{MAX_KEY}个字符", f"must be 1 to {MAX_KEY} characters"
        )
    return key


def order_with_key(url: str, key: str) -> WorkOrder | None:
    with session_scope(url) as s:
        return s.scalars(select(WorkOrder).filter_by(idempotency_key=key)).first()


def same_request(existing: WorkOrder, request_text: str) -> WorkOrder:
    """`existing` if it was made for this request text, else IdempotencyConflict."""
    if existing.request_text != request_text:
        raise IdempotencyConflict(
            f"幂等键已用于工单 {existing.number} 的另一诉求 / "
            "idempotency key already used for a different request"
        )
    return existing
