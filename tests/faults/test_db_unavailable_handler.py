"""The 503 answer for an unreachable database (gateway/db_unavailable.py), in-process: which
errors get it, what the client reads, and that the log keeps no statement parameters."""

from __future__ import annotations

import logging

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from gateway.db_unavailable import MESSAGE, database_unavailable

PHONE = "13912345678"


def client() -> TestClient:
    app = FastAPI()
    for kind in (DBAPIError, PoolTimeout):
        app.add_exception_handler(kind, database_unavailable)

    @app.get("/refused")
    def refused() -> None:
        raise OperationalError("INSERT INTO t VALUES (%(phone)s)", {"phone": PHONE},
                               Exception("connection failed: Connection refused"))  # fmt: skip

    @app.get("/pool")
    def pool() -> None:
        raise PoolTimeout("QueuePool limit of size 10 overflow 20 reached")

    @app.get("/duplicate")
    def duplicate() -> None:
        raise IntegrityError("INSERT", {}, Exception("duplicate key"))

    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize("path", ["/refused", "/pool"])
def test_an_unreachable_database_is_a_503_with_retry_after(
    path: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        resp = client().get(path)
    assert resp.status_code == 503
    assert resp.headers["Retry-After"] == "5"
    assert resp.json()["message"] == MESSAGE
    assert "database unavailable" in caplog.text
    assert PHONE not in caplog.text  # the statement's parameters never reach the log


def test_a_bad_statement_stays_a_500() -> None:
    assert client().get("/duplicate").status_code == 500
