"""What `hotline cluster` refuses before starting anything: a missing PostgreSQL or Redis is
named with the way to fix it (they are never started by the cluster itself)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline.cluster import (
    DEFAULT_DATABASE_URL,
    DEFAULT_REDIS_URL,
    ClusterError,
    Layout,
    check_services,
    stop_order,
    with_shared_services,
)
from hotline.serve import Child
from hotline.settings import Settings


def test_the_local_services_are_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HOTLINE_DATABASE_URL", "HOTLINE_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = with_shared_services(Settings(_env_file=None))  # type: ignore[call-arg]
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.redis_url == DEFAULT_REDIS_URL


def test_the_embedded_sqlite_is_refused_with_the_setting_to_change() -> None:
    settings = with_shared_services(Settings(database_url="sqlite:////tmp/x.db"))
    with pytest.raises(ClusterError, match=r"needs PostgreSQL.*HOTLINE_DATABASE_URL"):
        check_services(settings)


def test_an_unreachable_postgresql_is_named() -> None:
    settings = with_shared_services(
        Settings(database_url="postgresql://postgres@127.0.0.1:18199/hotline")
    )
    with pytest.raises(ClusterError, match=r"PostgreSQL at .*18199.* is not reachable"):
        check_services(settings)


def test_an_unreachable_redis_is_named(postgres_url: str) -> None:
    settings = Settings(database_url=postgres_url, redis_url="redis://127.0.0.1:18199/9")
    named = r"Redis at redis://127\.0\.0\.1:18199/9 is not reachable"
    with pytest.raises(ClusterError, match=named):
        check_services(with_shared_services(settings))


def test_ports_follow_from_the_base() -> None:
    layout = Layout(18100, replicas=2)
    assert layout.app_ports == [18101, 18102]
    assert layout.internal_port == 18110
    assert layout.rasa_ports == [18111, 18112]
    with pytest.raises(ClusterError):
        Layout(18100, replicas=10)


def test_the_apps_stop_first_and_together_while_nginx_and_rasa_still_relay() -> None:
    """Stopping apps tell their live calls through nginx and finish bot turns through its
    internal door to Rasa: nginx goes after every app, Rasa last."""
    names = ["rasa-1", "rasa-2", "app-1", "app-2", "nginx"]  # the order they start in
    children = [Child(name, ["true"], Path("/dev/null"), "") for name in names]
    order = [[c.name for c in group] for group in stop_order(children)]
    assert order == [["app-1", "app-2"], ["nginx"], ["rasa-1", "rasa-2"]]
