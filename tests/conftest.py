"""Shared fixtures: real services (fail under CI=true, skip elsewhere) and the running stack."""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import uvicorn
from playwright.sync_api import Browser, sync_playwright

from hotline.db import engine_for
from hotline.serve import Isolated, start_isolated

# Headless Chromium as this machine runs it (never a browser a tool downloads).
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
)  # fmt: skip
PG_ADMIN = os.environ.get("HOTLINE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
# the fresh databases' names begin with this (several checkouts may share one server)
PG_PREFIX = os.environ.get("HOTLINE_TEST_DB_PREFIX", "hotline_test_")


def unavailable(what: str) -> None:
    """A required service is missing: a failure on CI, a skip on a developer's laptop."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is required on CI but unavailable")
    pytest.skip(f"{what} unavailable")


@contextmanager
def chromium(extra_flags: Sequence[str] = ()) -> Iterator[Browser]:
    """Debian's headless Chromium through Playwright (missing: a failure on CI)."""
    executable = shutil.which("chromium")
    if not executable:
        unavailable("Debian chromium (apt-get install chromium)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=executable, args=[*CHROMIUM_FLAGS, *extra_flags]
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@contextmanager
def serving(app: Any, port: int) -> Iterator[str]:
    """`app` served by uvicorn in a thread on 127.0.0.1:`port`; yields its URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    with server_thread(server):
        yield f"http://127.0.0.1:{port}"


@contextmanager
def server_thread(server: uvicorn.Server) -> Iterator[threading.Thread]:
    """`server` run in a thread, yielded once it has started; told to exit and joined after."""
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield thread
    finally:
        server.should_exit = True
        thread.join(30)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'hotline.db'}"


@contextmanager
def fresh_postgres() -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped on exit."""
    name = f"{PG_PREFIX}{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        unavailable(f"PostgreSQL at {PG_ADMIN} ({exc})")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"
        finally:
            engine_for.cache_clear()
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test."""
    with fresh_postgres() as url:
        yield url


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Isolated]:
    """The real system as `hotline serve` starts it (Rasa + app), on free ports, fresh state."""
    running = start_isolated(tmp_path_factory.mktemp("stack-var"))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def staff(stack: Isolated) -> dict[str, str]:
    """Authorization headers of an operator of the running stack (work-order API, and the
    chat API's wechat/voice channels, which only a trusted client may speak for)."""
    from accounts.service_accounts import service_token

    return {"Authorization": f"Bearer {service_token(stack.database_url)}"}


@pytest.fixture
def chat(stack: Isolated, staff: dict[str, str]):  # type: ignore[no-untyped-def]
    """Send one turn to the running stack; returns the decoded JSON reply. A web turn is sent
    as a citizen's browser sends it; other channels as their trusted transport would."""

    def send(sender: str, text: str, channel: str = "web") -> dict:
        resp = httpx.post(
            f"{stack.url}/api/v1/chat",
            json={"sender": sender, "text": text, "channel": channel},
            headers=staff if channel in ("wechat", "voice") else {},
            timeout=30,
        )
        assert resp.status_code == 200, resp.text
        return resp.json()

    return send
