"""Abuse limits per sender and per address on chat, WeChat and sign-in: 429 with a Chinese
message and Retry-After, nothing stored; shared by replicas through Redis; per process, with a
warning and never a 500, when Redis is unreachable."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from gateway.app import create_app
from hotline.conversations import turns_of
from hotline.settings import Settings
from tests import signin
from tests.conftest import unavailable
from tests.hostile.fuzz import fake_rasa
from wechat.protocol import WechatConfig
from wechat.simulate import message_xml, signed_request

REDIS = "redis://127.0.0.1:6379/0"
# Windows are fixed (they start at multiples of their length): one that ends in 2033 keeps a
# test's counts in one window however slowly the test runs.
WINDOW = 10**9
WECHAT = WechatConfig("rate-token", "wx-rate", None)


@contextmanager
def replicas(tmp_path: Path, n: int = 1, **limits: Any) -> Iterator[list[TestClient]]:
    """`n` app processes on one database (and Rasa stand-in), with these settings."""
    with fake_rasa() as rasa, ExitStack() as stack:
        url = f"sqlite:///{tmp_path / 'hotline.db'}"
        clients = []
        for i in range(n):
            settings = Settings(var_dir=tmp_path / f"r{i}", database_url=url, rasa_url=rasa.url,
                                knowledge_preload=False, sla_scan_seconds=0,
                                signin_failure_delay=0, wechat_token="rate-token",
                                wechat_appid="wx-rate",
                                **{"rate_window_seconds": WINDOW, **limits})  # fmt: skip
            clients.append(stack.enter_context(TestClient(create_app(settings))))
        yield clients


def chat(client: TestClient, sender: str, text: str = "你好") -> Any:
    return client.post("/api/v1/chat", json={"sender": sender, "text": text, "channel": "web"})


def assert_too_many(resp: Any) -> None:
    assert resp.status_code == 429, resp.text
    assert "请求过于频繁" in resp.json()["detail"]
    assert int(resp.headers["Retry-After"]) >= 1


def test_chat_per_sender_and_per_address(tmp_path: Path) -> None:
    with replicas(tmp_path, rate_chat_per_sender=3, rate_chat_per_address=6) as (app,):
        url = app.app.state.settings.database_url  # type: ignore[attr-defined]
        assert [chat(app, "s1").status_code for _ in range(3)] == [200] * 3
        assert_too_many(chat(app, "s1", "第四条"))
        assert len(turns_of(url, "web:s1")) == 3  # the refused message is not stored
        assert chat(app, "s2").status_code == 200  # another citizen is not held up
        assert chat(app, "s3").status_code == 200  # 6 from this address, the refused one too
        assert_too_many(chat(app, "s4"))  # but one address sending for many is
        staff = signin.bearer(url, "operator")  # a relay speaking for many citizens is not
        relayed = app.post("/api/v1/chat", headers=staff,
                           json={"sender": "s1", "text": "你好", "channel": "wechat"})  # fmt: skip
        assert relayed.status_code == 200


def test_limits_are_shared_by_replicas_through_redis(tmp_path: Path) -> None:
    try:
        redis.Redis.from_url(REDIS, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        unavailable(f"Redis at {REDIS} ({exc})")
    sender = f"r-{uuid.uuid4().hex[:8]}"
    with replicas(tmp_path, 2, redis_url=REDIS, rate_chat_per_sender=4) as (one, two):
        assert [chat(c, sender).status_code for c in (one, two, one, two)] == [200] * 4
        assert_too_many(chat(one, sender))
        assert_too_many(chat(two, sender))


def test_redis_down_counts_per_process_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    down = "redis://127.0.0.1:1/0"  # nothing listens there
    with caplog.at_level(logging.WARNING, "hotline.rate_limit"), \
            replicas(tmp_path, redis_url=down, rate_chat_per_sender=2) as (app,):  # fmt: skip
        assert [chat(app, "d1").status_code for _ in range(2)] == [200, 200]
        assert_too_many(chat(app, "d1"))
    assert any("Redis unreachable" in r.getMessage() for r in caplog.records)


def test_sign_in_per_name_even_with_the_right_password(tmp_path: Path) -> None:
    with replicas(tmp_path, rate_signin_per_name=3) as (app,):
        url = app.app.state.settings.database_url  # type: ignore[attr-defined]
        name = signin.add(url, "admin")
        form = {"username": name, "password": signin.PASSWORD}
        wrong = {"username": name, "password": "guess"}
        assert app.post("/api/v1/auth/token", data=wrong).status_code == 401
        assert app.post("/api/v1/auth/token", data=wrong).status_code == 401
        assert app.post("/api/v1/auth/token", data=form).status_code == 200
        assert_too_many(app.post("/api/v1/auth/token", data=form))


def test_wechat_per_openid_answers_in_wechat_and_stores_nothing(tmp_path: Path) -> None:
    with replicas(tmp_path, rate_wechat_per_openid=2) as (app,):
        url = app.app.state.settings.database_url  # type: ignore[attr-defined]
        replies = []
        for i in range(3):
            query, body = signed_request(WECHAT, message_xml("o-fast", Content=f"第{i}条"))
            replies.append(app.post("/wechat", params=query, content=body))
        assert [r.status_code for r in replies] == [200, 200, 200]  # a 429 makes WeChat retry
        assert "您好" in replies[1].text and "请求过于频繁" in replies[2].text
        assert [t.user_text for t in turns_of(url, "wechat:o-fast")] == ["第0条", "第1条"]


def test_retry_after_is_the_rest_of_the_window(tmp_path: Path) -> None:
    with replicas(tmp_path, rate_chat_per_sender=1, rate_window_seconds=60) as (app,):
        first, second = chat(app, "w1"), chat(app, "w1")
        wait = int(second.headers["Retry-After"])
    assert first.status_code == 200 and second.status_code == 429
    assert 1 <= wait <= 60 and f"{wait}秒后再试" in second.json()["detail"]
