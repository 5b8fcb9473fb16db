"""Work-order numbers citizens can read aloud and type on a phone keypad: 20261122-0042.

Digits only (no O/0 or I/1 confusion), the local date of creation plus a per-day sequence (the
format and its parsing: hotline.numbers). The sequence comes from one counter row per day,
incremented by a single upsert inside the create transaction: the row lock it takes (PostgreSQL)
or the database write lock (SQLite, held from BEGIN IMMEDIATE) makes concurrent creators queue,
and a rolled-back create also rolls back its increment, so numbers are distinct and without gaps.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from hotline.db import table_of
from hotline.numbers import canonical_order_number, format_order_number
from workorders.model import WorkOrderCounter

# workorders/store.py imports it under this name; it switches to hotline.numbers once the
# store's split is merged.
parse_number = canonical_order_number


def day_key(day: date) -> str:
    return day.strftime("%Y%m%d")


def next_number(session: Session, day: date) -> str:
    """Take the next number of `day` inside the caller's transaction."""
    table = table_of(WorkOrderCounter)
    dialect = session.get_bind().dialect.name
    insert: postgresql.Insert | sqlite.Insert
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
    return format_order_number(day, seq)
