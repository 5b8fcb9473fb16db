"""The monthly report over a million orders, on SQLite and on PostgreSQL: time and peak memory.

Run: `.venv/bin/python -m bench.report_scale [--orders 1000000] [--months 6]
[--only sqlite|postgres]`.
Each database is filled by `hotline demo seed`'s generator (demo/seed.py, bulk insert; its time is
reported too), then the report of the last complete month (`reports.cli.write_monthly`: every
table, the charts, HTML, XLSX) runs in a fresh child process, whose wall time and peak resident
memory (ru_maxrss) are the numbers. SQLite: a file in a temporary folder; PostgreSQL: a scratch
database on 127.0.0.1:5432, created and dropped.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from demo.seed import seed
from hotline import db
from reports.period import Month

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
TZ = "Asia/Shanghai"


def report_child(url: str, month: str, out: str) -> None:
    """In the child: write the report, print time and peak memory as JSON."""
    from reports.cli import write_monthly

    started = time.perf_counter()
    write_monthly(url, Month.parse(month, TZ), Path(out))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps({"seconds": round(time.perf_counter() - started, 1), "peak_mb": round(peak_mb)})
    )


def run(url: str, orders: int, months: int, now: datetime) -> dict[str, object]:
    db.upgrade(url)
    started = time.perf_counter()
    done = seed(url, months=months, orders=orders, now=now)
    seeded = time.perf_counter() - started
    month = Month.parse(now.astimezone(Month.parse("2000-01", TZ).tz).strftime("%Y-%m"), TZ)
    month = month.previous()
    with tempfile.TemporaryDirectory() as out:
        child = subprocess.run(
            [sys.executable, "-m", "bench.report_scale", "--child", url, month.label, out],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
    result = json.loads(child.stdout.strip().splitlines()[-1])
    return {"orders": done.orders, "events": done.events, "turns": done.turns,
            "seed_seconds": round(seeded, 1), "month": month.label, **result}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=6)
    parser.add_argument("--only", choices=("sqlite", "postgres"))
    parser.add_argument("--child", nargs=3, metavar=("URL", "MONTH", "OUT"))
    args = parser.parse_args()
    if args.child:
        report_child(*args.child)
        return
    now = datetime.now(UTC)
    if args.only in (None, "sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            print(
                "sqlite",
                run(f"sqlite:///{tmp}/bench.db", args.orders, args.months, now),
                flush=True,
            )
    if args.only in (None, "postgres"):
        name = f"bench_report_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        try:
            url = f"{ADMIN.rsplit('/', 1)[0]}/{name}"
            print("postgres", run(url, args.orders, args.months, now), flush=True)
        finally:
            db.engine_for.cache_clear()
            with psycopg.connect(ADMIN, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
