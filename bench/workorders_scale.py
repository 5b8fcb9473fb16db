"""Work-order store at scale: creates per second (SQLite, PostgreSQL), and list-query latency and
SLA scan time with a million orders in PostgreSQL.

Run: `.venv/bin/python -m bench.workorders_scale [--orders 1000000]` (needs the PostgreSQL on
127.0.0.1:5432; creates and drops a scratch database). The million orders are made by creating
a few hundred real ones through the store (all statuses, kinds, categories, districts), then
copying them in SQL with shifted times and fresh numbers (98% of the copies closed, as in a
real centre's history). The first SLA scan catches up on every open order at once; the second
is the steady state the app pays every minute.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy import text

from hotline import db
from workorders import sla, store
from workorders.config import default_config
from workorders.queries import OrderFilter
from workorders.states import Actor

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
TEXTS = ["路灯坏了好几天", "楼下烧烤店半夜噪音扰民", "小区停水两天", "公司拖欠工资三个月",
         "垃圾没人清运", "马路上有个大坑", "物业乱收费", "公交车司机态度差"]  # fmt: skip


def draft(i: int) -> dict[str, object]:
    cfg = default_config()
    category = cfg.categories[i % len(cfg.categories)]
    district = list(cfg.districts)[i % len(cfg.districts)]
    return {
        "channel": "web", "request_text": f"{TEXTS[i % len(TEXTS)]}（第{i}号样本）",
        "kind": ["咨询", "求助", "投诉", "举报", "建议"][i % 5], "category": category.name,
        "district": district, "address": f"{district}幸福路{i % 200}号",
        "citizen_phone": f"138{i % 100000000:08d}", "citizen_name": "张三",
        "priority": ["normal", "normal", "urgent", "emergency"][i % 4],
    }  # fmt: skip


def creates_per_second(url: str, n: int, threads: int) -> float:
    db.upgrade(url)
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda i: store.create(url, draft(i)), range(n)))
    return n / (time.perf_counter() - start)


def seed_templates(url: str, n: int, now: datetime) -> None:
    """Real orders in every state, made through the store."""
    cfg = default_config()
    centre = Actor.centre("bench")
    for i in range(n):
        at = now - timedelta(hours=random.uniform(0, 24 * 20))
        order = store.create(url, draft(i), now=at)
        steps = i % 6  # 0: pending … 5: closed
        if steps >= 1:
            dept = cfg.categories[i % len(cfg.categories)].department
            store.transition(url, order.number, "dispatch", centre, department=dept, now=at)
            unit = Actor.of_department(dept)
            if steps >= 2:
                store.transition(url, order.number, "sign", unit, now=at + timedelta(hours=1))
            if steps >= 3:
                store.transition(url, order.number, "start", unit, now=at + timedelta(hours=2))
            if steps >= 4:
                store.transition(url, order.number, "feedback", unit, "已处理",
                                 now=at + timedelta(hours=3))  # fmt: skip
            if steps >= 5:
                store.transition(url, order.number, "close", centre, now=at + timedelta(hours=4))


def copy_to(url: str, total: int) -> None:
    """Copy the templates until `total` rows, each copy shifted back in time by its index."""
    engine = db.engine_for(url)
    with engine.begin() as conn:
        cols = [
            r[0]
            for r in conn.execute(text(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'work_orders' AND column_name NOT IN "
                "('id', 'number', 'idempotency_key') ORDER BY ordinal_position"
            ))
        ]  # fmt: skip
        n = conn.execute(text("SELECT count(*) FROM work_orders")).scalar_one()
        # Copies are shifted back in time; like a real centre's history, 98% of them are closed
        # (办结) and 2% keep their template's open state.
        shifted = [
            f"t.{c} - (g * interval '20 seconds')"
            if c.endswith(("_at", "_due"))
            else "CASE WHEN g % 50 = 0 THEN t.status ELSE '已办结' END"
            if c == "status"
            else f"t.{c}"
            for c in cols
        ]
        conn.execute(text(f"""
            INSERT INTO work_orders (number, {", ".join(cols)})
            SELECT 'X' || lpad(g::text, 9, '0'), {", ".join(shifted)}
            FROM generate_series(1, {total - n}) AS g
            JOIN (SELECT *, row_number() OVER (ORDER BY id) - 1 AS rn FROM work_orders) t
              ON t.rn = g % {n}
        """))  # fmt: skip
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE work_orders"))


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - start) * 1000)
    runs.sort()
    return statistics.median(runs), runs[min(len(runs) - 1, round(0.95 * (len(runs) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--templates", type=int, default=600)
    parser.add_argument("--creates", type=int, default=300)
    args = parser.parse_args()
    random.seed(12345)
    name = f"hotline_bench_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(ADMIN, autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    pg = ADMIN.rsplit("/", 1)[0] + f"/{name}"
    try:
        sqlite = f"sqlite:///{Path(tempfile.mkdtemp()) / 'orders.db'}"
        print("| store | threads | creates/s |\n| --- | ---: | ---: |")
        for label, url in (("SQLite", sqlite), ("PostgreSQL", pg)):
            for threads in (1, 8):
                rate = creates_per_second(url, args.creates, threads)
                print(f"| {label} | {threads} | {rate:.0f} |")
        with db.engine_for(pg).begin() as conn:  # the scale test starts from an empty table
            for table in ("work_order_links", "work_order_reminders", "work_order_events",
                          "work_orders", "work_order_counters"):  # fmt: skip
                conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER ALL"))
                conn.execute(text(f"DELETE FROM {table}"))
                conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER ALL"))
        now = datetime.now(UTC)
        start = time.perf_counter()
        seed_templates(pg, args.templates, now)
        copy_to(pg, args.orders)
        print(f"\nseeded {args.orders:,} orders in {time.perf_counter() - start:.0f} s")
        depts = sorted({c.department for c in default_config().categories})
        queries: dict[str, Callable[[], object]] = {
            "newest 50": lambda: store.list_orders(pg, OrderFilter(as_of=now)),
            "status 已派单": lambda: store.list_orders(pg, OrderFilter(status="已派单", as_of=now)),
            "department + status": lambda: store.list_orders(pg, OrderFilter(
                department=depts[0], status=("已签收", "办理中"), as_of=now)),
            "warning red": lambda: store.list_orders(pg, OrderFilter(warning="red", as_of=now)),
            "text 拖欠工资": lambda: store.list_orders(pg, OrderFilter(text="拖欠工资", as_of=now)),
            "phone": lambda: store.list_orders(pg, OrderFilter(phone="13800000042", as_of=now)),
            "count warning orange": lambda: store.count_orders(
                pg, OrderFilter(warning="orange", as_of=now)),
        }  # fmt: skip
        print("\n| list query (1M orders) | p50 ms | p95 ms |\n| --- | ---: | ---: |")
        for label, fn in queries.items():
            p50, p95 = timed(fn, 20)
            print(f"| {label} | {p50:.1f} | {p95:.1f} |")
        print("\n| SLA scan (1M orders) | seconds | reminders recorded |\n| --- | ---: | ---: |")
        for label in ("first scan", "second scan (nothing new)"):
            start = time.perf_counter()
            recorded = sla.scan(pg, now)
            print(f"| {label} | {time.perf_counter() - start:.1f} | {len(recorded):,} |")
    finally:
        db.engine_for.cache_clear()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


if __name__ == "__main__":
    main()
