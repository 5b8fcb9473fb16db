"""Work-order numbers citizens can read aloud and type on a phone keypad: 20261122-0042.

Digits only (no O/0 or I/1 confusion), the local date of creation plus a per-day sequence. The
sequence comes from one counter row per day, incremented by a single upsert inside the create
transaction: the row lock it takes (PostgreSQL) or the database write lock (SQLite, held from
BEGIN IMMEDIATE) makes concurrent creators queue, and a rolled-back create also rolls back its
increment, so numbers are distinct and without gaps.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from workorders.model import WorkOrderCounter

_NUMBER = re.compile(r"^(\d{8})-?(\d{1,6})$", re.ASCII)


def day_key(day: date) -> str:
    return day.strftime("%Y%m%d")


def format_number(day: date, seq: int) -> str:
    return f"{day_key(day)}-{seq:04d}"


def next_number(session: Session, day: date) -> str:
    """Take the next number of `day` inside the caller's transaction."""
    table: Table = WorkOrderCounter.__table__  # type: ignore[assignment]
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        insert = postgresql.insert(table)
    elif dialect == "sqlite":
        insert = sqlite.insert(table)
    else:  # pragma: no cover - only the two supported databases
        raise NotImplementedError(f"work-order numbering does not support {dialect}")
    stmt = (
        insert.values(day=day_key(day), value=1)
        .on_conflict_do_update(index_elements=[table.c.day], set_={"value": table.c.value + 1})
        .returning(table.c.value)
    )
    seq = session.execute(stmt).scalar_one()
    return format_number(day, seq)


def parse_number(text: str) -> str | None:
    """Normalise what a citizen typed or said ("２０２６１１２２ ００４２", "202611220042",
    "20261122-42") to the canonical form, or None when it cannot be a work-order number."""
    cleaned = unicodedata.normalize("NFKC", text or "")
    cleaned = re.sub(r"[‐‑‒–—―]", "-", re.sub(r"\s", "", cleaned))
    match = _NUMBER.match(cleaned)
    if not match:
        return None
    day_part, seq_part = match.groups()
    try:
        day = datetime.strptime(day_part, "%Y%m%d").date()
    except ValueError:
        return None
    seq = int(seq_part)
    return format_number(day, seq) if seq > 0 else None
