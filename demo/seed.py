"""`hotline demo seed`: write a generated history (demo/generate.py) into a database.

Rows are bulk-inserted (demo/bulk.py: sqlite3 executemany, PostgreSQL COPY; batches of 20,000
orders) rather than
created one by one through workorders.store: the store commits each order and each transition
in its own transaction (with SQLite's FULL sync), about 8 transactions per order, which would
take hours for the benchmark's million orders. The rows hold what the store would have written:
the same columns, SLA clocks from workorders.sla, timelines whose statuses follow the
transition table, numbering counters, repeat links.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select, text

from demo import bulk
from demo.generate import Generator
from hotline.conversations import ConversationTurn
from hotline.db import engine_for, table_of
from workorders.config import WorkOrderConfig, default_config
from workorders.model import WorkOrder, WorkOrderCounter, WorkOrderEvent, WorkOrderLink


class NotEmpty(RuntimeError):
    """The database already holds work orders: demo data would mix with real ones."""


@dataclass
class Seeded:
    orders: int = 0
    events: int = 0
    links: int = 0
    turns: int = 0


def seed(
    url: str,
    *,
    months: int,
    orders: int,
    now: datetime | None = None,
    seed_value: int = 12345,
    config: WorkOrderConfig | None = None,
    progress: Callable[[int], None] | None = None,
    batch_size: int = 20_000,
) -> Seeded:
    """Fill `url` (migrated, without orders) with `orders` orders over the last `months`."""
    cfg = config or default_config()
    now = now or datetime.now(UTC)
    engine = engine_for(url)
    with engine.connect() as conn:
        if conn.scalar(select(func.count()).select_from(WorkOrder)):
            raise NotEmpty("数据库中已有工单，示例数据只写入空数据库 / the database has orders")
        first_event = int(conn.scalar(select(func.max(WorkOrderEvent.id))) or 0) + 1
    start = now - timedelta(days=round(months * 30.44))
    gen = Generator(cfg, start, now, orders, seed=seed_value, first_event=first_event)
    done = Seeded()
    counters: dict[str, int] = {}
    for batch in gen.batches(now, size=batch_size):
        # Orders before their events and links (foreign keys); each table one transaction.
        bulk.write(engine, table_of(WorkOrder), batch.orders)
        bulk.write(engine, table_of(WorkOrderEvent), batch.events)
        bulk.write(engine, table_of(WorkOrderLink), batch.links)
        bulk.write(engine, table_of(ConversationTurn), batch.turns)
        counters.update(batch.counters)
        done.orders += len(batch.orders)
        done.events += len(batch.events)
        done.links += len(batch.links)
        done.turns += len(batch.turns)
        if progress:
            progress(len(batch.orders))
    with engine.begin() as conn:
        conn.execute(
            insert(table_of(WorkOrderCounter)),
            [{"day": d, "value": v} for d, v in counters.items()],
        )
        if engine.dialect.name == "postgresql":  # ids were given explicitly: move the sequences
            for table in ("work_orders", "work_order_events"):
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
                )
    return done
