"""kill -9 of one of two app replicas while 100 orders are being submitted over REST with
Idempotency-Key, clients retrying on the other replica: every order confirmed is stored, none
twice, and every submission is confirmed in the end (bench/faults_kill.py; `make faults` runs
1,000)."""

from __future__ import annotations

from pathlib import Path

import psycopg

from bench.faults_kill import PG_ADMIN, run
from tests.conftest import unavailable


def test_killing_a_replica_loses_and_doubles_no_order(tmp_path: Path) -> None:
    try:
        psycopg.connect(PG_ADMIN, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        unavailable(f"PostgreSQL at {PG_ADMIN} ({exc})")
    out = run(100, tmp_path)
    assert out.errors == [], out.line()
    assert out.killed_after < out.submitted  # the kill came while orders were being submitted
    assert len(out.confirmed) == out.submitted, out.line()
    assert out.lost == [] and out.wrong == [], out.line()
    assert out.duplicates == 0, out.line()
    assert out.stored == out.submitted, out.line()
