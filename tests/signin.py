"""Accounts for tests: a user of a role (and department) with a bearer token, made directly in
the database the app under test uses (the password is the same throwaway one for all)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from accounts import tokens, users
from hotline import db

PASSWORD = "test-Passw0rd-only"


def add(url: str, role: str, department: str | None = None, name: str | None = None) -> str:
    """A new active account; returns its name."""
    db.upgrade(url)
    name = name or f"{role}-{uuid.uuid4().hex[:8]}"
    users.add_user(url, name, role, PASSWORD, department)
    return name


def bearer(url: str, role: str, department: str | None = None) -> dict[str, str]:
    """Authorization headers of a new account of this role."""
    name = add(url, role, department)
    user = users.find(url, name)
    assert user is not None
    secret, _ = tokens.issue(url, user, "bearer", timedelta(hours=1))
    return {"Authorization": f"Bearer {secret}"}
