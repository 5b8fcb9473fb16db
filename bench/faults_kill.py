"""kill -9 of one app replica during concurrent work-order submissions (issue 19).

Two app processes (uvicorn, as `hotline serve --only app` runs them) share one fresh PostgreSQL
database. CLIENTS threads submit orders over REST, each with its own Idempotency-Key; a client
alternates its first replica and, when a request fails (connection refused or reset, a 5xx),
retries the same body and key on the other one. When a third of the orders are confirmed,
replica A is killed with SIGKILL. Then the database is compared with what the clients were
told: every confirmed order must be there once (0 lost), no key or text may have two orders
(0 duplicates), and every submission must have been confirmed in the end.

    .venv/bin/python -m bench.faults_kill --orders 1000   # in `make faults`; see BENCHMARKS.md

The short version (100 orders) runs in the test suite (tests/faults/test_replica_kill.py).
"""

from __future__ import annotations

import argparse
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import httpx
import psycopg
from sqlalchemy import text

from hotline.db import engine_for
from tests import signin
from tests.faults.stack import App

PORT_A, PORT_B = 18561, 18562
CLIENTS = 8
PG_ADMIN = os.environ.get("HOTLINE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextmanager
def scratch_database() -> Iterator[str]:
    """A new PostgreSQL database for one run, dropped afterwards (others use the server)."""
    name = f"hotline_faults_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"
        finally:
            engine_for.cache_clear()
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Outcome:
    submitted: int = 0
    confirmed: dict[str, str] = field(default_factory=dict)  # key -> order number told
    retries: int = 0
    failures: Counter[str] = field(default_factory=Counter)  # what made a client retry
    killed_after: int = 0  # confirmations before the kill
    seconds: float = 0.0
    stored: int = 0  # orders in the database with one of the keys
    lost: list[str] = field(default_factory=list)  # confirmed, not in the database
    duplicates: int = 0  # orders beyond one per key or per text
    wrong: list[str] = field(default_factory=list)  # told a number that holds another request
    errors: list[str] = field(default_factory=list)  # a client that stopped (a 4xx, a hang)

    def line(self) -> str:
        return (
            f"{self.submitted} submitted, {len(self.confirmed)} confirmed, {self.stored} stored, "
            f"{len(self.lost)} lost, {self.duplicates} duplicates, {len(self.wrong)} mismatched; "
            f"A killed after {self.killed_after} confirmations; {self.retries} retries "
            f"({dict(self.failures)}); {self.seconds:.1f} s, "
            f"{self.submitted / self.seconds:.1f} orders/s"
            + (f"; client errors: {self.errors[:3]}" if self.errors else "")
        )


TOPICS = ("路灯不亮已经三天了", "下水道堵塞污水外溢", "夜里施工噪音扰民", "垃圾一周没人清运",
          "门口占道经营堵路", "小区停水没有通知", "电梯故障困人", "消防通道被车堵住")  # fmt: skip


def _body(n: int) -> dict[str, Any]:
    """A distinct complaint from a distinct citizen. No address: every order in one district
    would make each repeat check compare with all the earlier ones (workorders/repeats.py),
    which measures the repeat check, not the fault."""
    return {
        "channel": "api",
        "kind": "投诉",
        "request_text": f"压测工单{n:05d}：{TOPICS[n % len(TOPICS)]}",
        "citizen_phone": f"139{n:08d}",
    }


class Clients:
    def __init__(self, urls: list[str], headers: dict[str, str], orders: int) -> None:
        self.urls, self.headers = urls, headers
        self.work = list(range(orders))
        self.keys = {n: f"kill-{uuid.uuid4().hex}" for n in self.work}
        self.out = Outcome(submitted=orders)
        self.lock = threading.Lock()

    def run(self) -> None:
        threads = [threading.Thread(target=self._client, args=(c,)) for c in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def confirmed(self) -> int:
        with self.lock:
            return len(self.out.confirmed)

    def _next(self) -> int | None:
        with self.lock:
            return self.work.pop() if self.work else None

    def _client(self, c: int) -> None:
        try:
            with httpx.Client(timeout=60) as http:
                while (n := self._next()) is not None:
                    self._submit(http, n, first=(n + c) % 2)
        except Exception as exc:  # reported with the numbers, never a silent short count
            with self.lock:
                self.out.errors.append(repr(exc)[:300])

    def _submit(self, http: httpx.Client, n: int, first: int) -> None:
        key, body = self.keys[n], _body(n)
        for attempt in range(200):
            url = self.urls[(first + attempt) % len(self.urls)]
            headers = {**self.headers, "Idempotency-Key": key}
            try:
                resp = http.post(f"{url}/api/v1/work-orders", json=body, headers=headers)
                why = f"HTTP {resp.status_code}" if resp.status_code >= 500 else ""
            except httpx.TransportError as exc:
                why = type(exc).__name__
            if not why:
                if resp.status_code != 201:
                    raise AssertionError(f"order {n}: {resp.status_code} {resp.text}")
                with self.lock:
                    self.out.confirmed[key] = resp.json()["order"]["number"]
                return
            with self.lock:
                self.out.retries += 1
                self.out.failures[why] += 1
            time.sleep(0.05 * min(attempt, 10))
        raise AssertionError(f"order {n} never confirmed")


def check(database_url: str, clients: Clients) -> None:
    """Compare the database with what the clients were told."""
    out = clients.out
    keys = list(clients.keys.values())
    query = text(
        "SELECT idempotency_key, number, request_text FROM work_orders "
        "WHERE request_text LIKE '压测工单%'"
    )
    with engine_for(database_url).connect() as conn:
        rows = conn.execute(query).all()
    by_key = Counter(r[0] for r in rows)
    by_text = Counter(r[2] for r in rows)
    number_text = {r[1]: r[2] for r in rows}
    out.stored = sum(1 for r in rows if r[0] in set(keys))
    out.duplicates = sum(c - 1 for c in by_key.values() if c > 1) + sum(
        c - 1 for c in by_text.values() if c > 1
    )
    texts = {k: _body(n)["request_text"] for n, k in clients.keys.items()}
    for key, number in out.confirmed.items():
        if number not in number_text:
            out.lost.append(number)
        elif number_text[number] != texts[key]:
            out.wrong.append(number)


def run(orders: int, var: Path) -> Outcome:
    """The whole scenario on a fresh PostgreSQL database; returns what happened."""
    with ExitStack() as stack:
        database = stack.enter_context(scratch_database())
        # The embedding model loads in the background while the other replica starts. One after
        # the other: two replicas starting together on an empty database both import the
        # sample knowledge base and one fails (knowledge.service.import_sample_if_empty).
        settings = {"database_url": database, "knowledge_preload": "true"}
        a = App(PORT_A, var / "a", **settings)
        stack.callback(a.stop)
        b = App(PORT_B, var / "b", **settings)
        stack.callback(b.stop)
        headers = signin.bearer(database, "operator")
        clients = Clients([a.url, b.url], headers, orders)
        started = time.monotonic()
        runner = threading.Thread(target=clients.run)
        runner.start()
        while clients.confirmed() < orders // 3 and runner.is_alive():
            time.sleep(0.01)
        clients.out.killed_after = clients.confirmed()
        a.kill()  # kill -9: no shutdown, in-flight requests cut
        runner.join()
        clients.out.seconds = time.monotonic() - started
        check(database, clients)
        return clients.out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--orders", type=int, default=1000)
    args = parser.parse_args()
    with TemporaryDirectory(prefix="faults-kill-") as tmp:
        out = run(args.orders, Path(tmp))
    print(out.line())
    if out.lost or out.duplicates or out.wrong or out.errors or len(out.confirmed) != out.submitted:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
