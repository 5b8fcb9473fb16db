"""The scale-out configuration for real: Rasa keeps its trackers in PostgreSQL and locks
conversations in Redis, the app logs turns and stores orders in the same PostgreSQL."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import httpx
import psycopg
import pytest

from hotline.serve import start_isolated
from tests.conftest import fresh_postgres, unavailable

pytestmark = pytest.mark.stack
REDIS_DB = "7"


def _redis(*args: str) -> str:
    try:
        out = subprocess.run(
            ["redis-cli", "-n", REDIS_DB, *args], capture_output=True, text=True, timeout=5
        )
    except FileNotFoundError:
        unavailable("redis-cli")
    if out.returncode != 0 or "Could not connect" in out.stdout + out.stderr:
        unavailable(f"Redis at 127.0.0.1:6379 ({out.stderr.strip()})")
    return out.stdout


def _lock_deletes() -> int:
    """How many DEL commands Redis has run: Rasa's lock store deletes each turn's lock."""
    stats = _redis("INFO", "commandstats")
    found = re.search(r"cmdstat_del:calls=(\d+)", stats)
    return int(found[1]) if found else 0


def test_trackers_in_postgresql_and_conversation_locks_in_redis(tmp_path: Path) -> None:
    _redis("PING")
    with fresh_postgres() as url:
        before = _lock_deletes()
        stack = start_isolated(
            tmp_path, database_url=url, redis_url=f"redis://127.0.0.1:6379/{REDIS_DB}"
        )
        try:
            for text in ("你好", "我要投诉楼下饭店油烟太大"):
                reply = httpx.post(
                    f"{stack.url}/api/v1/chat",
                    json={"sender": "scale-1", "text": text, "channel": "web"},
                    timeout=60,
                )
                assert reply.status_code == 200, reply.text
            health = httpx.get(f"{stack.url}/health", timeout=10).json()
        finally:
            stack.stop()
        assert health["dependencies"]["database"]["backend"] == "postgresql"
        with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
            events = conn.execute(
                "SELECT count(*) FROM events WHERE sender_id = 'web:scale-1'"
            ).fetchone()[0]
            turns = conn.execute(
                "SELECT count(*) FROM conversation_turns WHERE conversation_id = 'web:scale-1'"
            ).fetchone()[0]
        assert events >= 4 and turns == 2  # Rasa's tracker and the app's log, same database
        assert _lock_deletes() - before >= 2  # one lock per turn, taken and released in Redis
