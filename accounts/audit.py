"""The audit log: who did what to what, when. Every change (orders, accounts) and every reveal
of a citizen's personal fields writes one row; the table is append-only (migration 0006)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from accounts.model import AuditEntry
from hotline.db import session_scope


def record(
    url: str,
    actor: str,
    action: str,
    target: str | None = None,
    *,
    role: str | None = None,
    address: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    with session_scope(url) as s:
        s.add(
            AuditEntry(
                at=datetime.now(UTC),
                actor=actor[:64],
                role=role,
                action=action[:32],
                target=target[:64] if target else None,
                detail=detail or {},
                address=address[:64] if address else None,
            )
        )


def entries(
    url: str, *, target: str | None = None, actor: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Newest first, optionally for one target (an order number, a user name) or actor."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if target:
        query = query.where(AuditEntry.target == target)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    with session_scope(url) as s:
        return [e.to_dict() for e in s.scalars(query)]
