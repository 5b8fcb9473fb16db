"""Accounts: argon2 parameters, users and roles, tokens that expire and end with the user, the
sign-in lockout, the append-only audit log, `hotline users`, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from argon2 import Type, extract_parameters
from sqlalchemy import text
from typer.testing import CliRunner

from accounts import audit, passwords, throttle, tokens, users
from accounts.roles import Role
from hotline import db
from hotline.db import engine_for

PASSWORD = "Right-horse-42"


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    if request.param == "sqlite":
        db.upgrade(sqlite_url)
        return sqlite_url
    pg = request.getfixturevalue("postgres_url")
    db.upgrade(pg)
    return str(pg)


def test_passwords_are_argon2id_with_the_documented_parameters() -> None:
    stored = passwords.hash_password(PASSWORD)
    params = extract_parameters(stored)
    assert params.type is Type.ID and stored.startswith("$argon2id$v=19$")
    assert (params.time_cost, params.memory_cost, params.parallelism) == (3, 65536, 4)
    assert (params.hash_len, params.salt_len) == (32, 16)
    assert PASSWORD not in stored and passwords.hash_password(PASSWORD) != stored  # salted
    assert passwords.verify(stored, PASSWORD) and not passwords.verify(stored, PASSWORD + "x")
    assert not passwords.verify(None, PASSWORD) and not passwords.verify("garbage", PASSWORD)
    weak = passwords.PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    assert passwords.needs_rehash(weak.hash(PASSWORD))


@pytest.mark.parametrize("password", ["short-1", "aaaaaaaaaaaaaa", "zhang-san-2024-x", "x" * 300])
def test_weak_passwords_are_refused(password: str) -> None:
    with pytest.raises(passwords.WeakPassword):
        passwords.check_policy(password, "zhang-san")


def test_roles_and_the_department_catalogue(sqlite_url: str) -> None:
    db.upgrade(sqlite_url)
    city = users.add_user(sqlite_url, "wang", "department", PASSWORD, "市城市管理局")
    assert (city.role, city.department) == (Role.DEPARTMENT, "市城市管理局")
    for role, department, message in (
        ("department", None, "指定所属部门"),
        ("department", "不存在的局", "部门目录中没有"),
        ("operator", "市城市管理局", "只有部门人员"),
        ("root", None, "未知角色"),
    ):
        with pytest.raises(users.AccountError, match=message):
            users.add_user(sqlite_url, f"u-{role}", role, PASSWORD, department)
    with pytest.raises(users.AccountError, match="已存在"):
        users.add_user(sqlite_url, "wang", "operator", PASSWORD)
    with pytest.raises(users.AccountError, match="账号名"):
        users.add_user(sqlite_url, "a b", "operator", PASSWORD)
    assert [u.name for u in users.list_users(sqlite_url)] == ["wang"]


def test_tokens_expire_and_end_with_the_user_or_a_new_password(url: str) -> None:
    users.add_user(url, "li", "operator", PASSWORD)
    user = users.authenticate(url, "li", PASSWORD)
    assert user is not None and user.role is Role.OPERATOR
    assert users.authenticate(url, "li", "wrong-password-1") is None
    assert users.authenticate(url, "nobody", PASSWORD) is None
    secret, csrf = tokens.issue(url, user, "bearer", timedelta(minutes=5))
    assert secret.startswith("hl_") and csrf is None
    assert tokens.resolve(url, secret, "bearer") == (user, None)
    assert tokens.resolve(url, secret, "session") is None  # a token is not a session
    with engine_for(url).begin() as conn:  # the database keeps only the token's hash
        stored = conn.execute(text("SELECT token_hash FROM auth_tokens")).scalars().all()
    assert secret not in stored and len(stored[0]) == 64
    expired, _ = tokens.issue(url, user, "bearer", timedelta(seconds=-1))
    assert tokens.resolve(url, expired, "bearer") is None
    session, csrf = tokens.issue(url, user, "session", timedelta(minutes=5))
    assert csrf and tokens.resolve(url, session, "session") == (user, csrf)
    users.set_active(url, "li", False)
    assert tokens.resolve(url, secret, "bearer") is None
    assert tokens.resolve(url, session, "session") is None
    assert users.authenticate(url, "li", PASSWORD) is None
    users.set_active(url, "li", True)
    assert tokens.resolve(url, secret, "bearer") is None  # disabling revoked it for good
    again, _ = tokens.issue(url, user, "bearer", timedelta(minutes=5))
    users.reset_password(url, "li", "Another-horse-43")
    assert tokens.resolve(url, again, "bearer") is None
    assert users.authenticate(url, "li", "Another-horse-43") == user


def test_lockout_per_name_and_per_address(url: str) -> None:
    limits = throttle.Limits(per_name=3, per_address=5)
    for _ in range(3):
        throttle.record_failure(url, "Zhao", "10.0.0.1", limits)
    assert throttle.locked(url, "zhao", "10.0.0.9", limits)  # the name, from anywhere
    assert not throttle.locked(url, "qian", "10.0.0.9", limits)
    for name in ("a1", "a2"):
        throttle.record_failure(url, name, "10.0.0.1", limits)
    assert throttle.locked(url, "sun", "10.0.0.1", limits)  # the address, for any name
    throttle.clear(url, "zhao")
    assert not throttle.locked(url, "zhao", "10.0.0.9", limits)
    past = throttle.Limits(per_name=3, per_address=5, window=timedelta(seconds=0))
    assert not throttle.locked(url, "a1", "10.0.0.1", past)


def test_the_audit_log_is_append_only(url: str) -> None:
    audit.record(url, "li", "order.reveal", "20261206-0001", role="operator",
                 address="10.0.0.1", detail={"fields": ["citizen_phone"]})  # fmt: skip
    [entry] = audit.entries(url, target="20261206-0001")
    assert (entry["actor"], entry["action"], entry["detail"]) == (
        "li", "order.reveal", {"fields": ["citizen_phone"]},
    )  # fmt: skip
    for statement in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(Exception, match="append-only"), engine_for(url).begin() as conn:
            conn.execute(text(statement))
    assert len(audit.entries(url)) == 1


def test_the_migration_goes_down_and_up_again(url: str) -> None:
    db.upgrade(url, "head")
    from alembic import command

    command.downgrade(db.alembic_config(url), "0005")
    assert db.current_revision(url) == "0005"
    db.upgrade(url)
    assert db.current_revision(url) == db.head_revision()


def test_users_cli_without_default_passwords(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from hotline import settings as settings_module
    from hotline.cli import app

    monkeypatch.setenv("HOTLINE_DATABASE_URL", sqlite_url)
    settings_module.get_settings.cache_clear()
    caplog.set_level(logging.DEBUG)
    run = CliRunner().invoke
    try:
        added = run(app, ["users", "add", "--name", "chen", "--role", "admin", "--password-stdin"],
                    input=PASSWORD + "\n")  # fmt: skip
        assert added.exit_code == 0, added.output
        prompted = run(app, ["users", "add", "--name", "zhou", "--role", "manager"],
                       input="Manager-pass-77\nManager-pass-77\n")  # fmt: skip
        assert prompted.exit_code == 0, prompted.output
        again = run(app, ["users", "add", "--name", "chen", "--role", "admin", "--if-absent"])
        assert again.exit_code == 0 and "exists" in again.output
        empty = run(app, ["users", "add", "--name", "wu", "--role", "operator",
                          "--password-stdin"], input="\n")  # fmt: skip
        assert empty.exit_code == 2 and "密码至少" in empty.output
        no_dept = run(app, ["users", "add", "--name", "wu", "--role", "department"])
        assert no_dept.exit_code == 2  # refused before a password is asked for
        assert run(app, ["users", "disable", "zhou"]).exit_code == 0
        reset = run(app, ["users", "reset-password", "chen", "--password-stdin"],
                    input="Renewed-horse-44\n")  # fmt: skip
        assert reset.exit_code == 0
        listed = run(app, ["users", "list"]).output
        assert "chen\tadmin\t-\tactive" in listed and "zhou\tmanager\t-\tdisabled" in listed
        log = run(app, ["users", "audit"]).output
        assert "user.reset_password\tchen" in log and "user.disable\tzhou" in log
    finally:
        settings_module.get_settings.cache_clear()
    assert users.authenticate(sqlite_url, "chen", "Renewed-horse-44") is not None
    for secret in (PASSWORD, "Manager-pass-77", "Renewed-horse-44"):
        assert all(secret not in r.getMessage() for r in caplog.records)
        assert secret not in listed and secret not in log
